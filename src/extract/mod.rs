//! Extractors: of the request's body and path ([`JsonBody`], [`LoginForm`],
//! [`IdPath`]), which answer 422, 413 and 404 as the contract says, and of the
//! calling user ([`CurrentUser`], [`VerifiedUser`], [`Superuser`]), which answer
//! 401 and 403. Every router uses them, and so can the application's own
//! handlers.

mod body;
mod user;

pub(crate) use body::UserBody;
pub use body::{IdPath, JsonBody, LoginForm};
pub use user::{CurrentUser, Superuser, VerifiedUser};
