//! Strategies: what a token is. JWT (stateless) and database sessions
//! (revocable) are always available.

mod database;
mod jwt;
pub mod suite;

pub use database::DatabaseStrategy;
pub use jwt::JwtStrategy;
