//! Strategies: what a token is. JWT (stateless) is always available.

mod jwt;

pub use jwt::JwtStrategy;
