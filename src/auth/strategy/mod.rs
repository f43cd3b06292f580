//! Strategies: what a token is. JWT (stateless), database sessions
//! (revocable) and refresh-token sessions (JWT access tokens naming a
//! revocable session) are always available; Redis sessions (revocable) with
//! the `redis` feature.

mod database;
mod jwt;
mod refresh;
#[cfg(feature = "test-suites")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suites")))]
pub mod suite;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use crate::store::redis::RedisStrategy;
pub use database::DatabaseStrategy;
pub use jwt::JwtStrategy;
pub use refresh::RefreshStrategy;
