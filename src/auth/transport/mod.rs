//! Transports: bearer (`Authorization` header, JSON login response) and cookie.

mod bearer;
mod cookie;

pub use bearer::BearerTransport;
pub use cookie::{CookieTransport, SameSite};
