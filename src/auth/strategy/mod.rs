//! Strategies: what a token is. JWT (stateless) and database sessions
//! (revocable) are always available; Redis sessions (revocable) with the
//! `redis` feature.

mod database;
mod jwt;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "test-suites")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suites")))]
pub mod suite;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStrategy;
pub use database::DatabaseStrategy;
pub use jwt::JwtStrategy;
