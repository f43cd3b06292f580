//! # axum-users
//!
//! Ready-made, secure user management for [axum]: register, log in and out with
//! a bearer token or a cookie, and administer users — wire-compatible with
//! [FastAPI Users], so a frontend written for a FastAPI Users backend works
//! unchanged, and tokens and password hashes carry over.
//!
//! The application mounts the routers it wants, keeps its own user model and
//! storage, and reacts to events through hooks.
//!
//! [axum]: https://docs.rs/axum
//! [FastAPI Users]: https://fastapi-users.github.io/fastapi-users/
//!
//! ## Quick start
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use axum_users::auth::{AuthBackend, BearerTransport, CookieTransport, JwtStrategy};
//! use axum_users::{AxumUsers, CurrentUser, User, UserManager, store::MemoryStore};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let secret = std::env::var("SECRET")?;
//!     let jwt = JwtStrategy::hs256(&secret)?;
//!     let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
//!     let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt);
//!
//!     let manager = UserManager::new(MemoryStore::<User>::new());
//!     let users = AxumUsers::new(manager, vec![bearer.clone(), cookie.clone()]);
//!
//!     let app = Router::new()
//!         .nest("/auth/jwt", users.auth_router(&bearer))
//!         .nest("/auth/cookie", users.auth_router(&cookie))
//!         .nest("/auth", users.register_router())
//!         .nest("/users", users.users_router())
//!         // The application's own route, for logged-in users only.
//!         .route("/hello", get(|CurrentUser(user): CurrentUser<User>| async move {
//!             format!("Hello, {}!", user.data.email)
//!         }))
//!         .layer(users.layer());
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! ## Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | *(always)* | the routers, the JWT and database-session strategies, bearer and cookie transports, [`store::MemoryStore`] |
//! | `sqlite` | `store::SqliteStore` (sqlx, embedded migrations) |
//! | `postgres` | `store::PostgresStore` (sqlx, embedded migrations, UUID ids) |
//! | `redis` | `auth::RedisStrategy`: revocable sessions in Redis (redis-rs `ConnectionManager`), and the `redis` crate re-exported |
//! | `oauth` | the `oauth` module: OAuth2 and OpenID Connect login (`AxumUsers::oauth_router`, `oauth_associate_router`), presets for GitHub, Google, Microsoft, Discord and GitLab (reqwest with rustls) |
//! | `openapi` | `Routes::openapi`: the OpenAPI 3.1 document of the mounted routers; `openapi::docs_router`: Swagger UI, vendored |
//!
//! ## The routers
//!
//! Built by [`AxumUsers`] and mounted under prefixes of the application's choice
//! (the paths below are FastAPI Users' usual ones):
//!
//! | router | routes |
//! | --- | --- |
//! | [`AxumUsers::auth_router`] (one per backend) | `POST /auth/jwt/login` (form `username`, `password`), `POST /auth/jwt/logout` |
//! | [`AxumUsers::register_router`] | `POST /auth/register` |
//! | [`AxumUsers::reset_password_router`] | `POST /auth/forgot-password`, `POST /auth/reset-password` |
//! | [`AxumUsers::verify_router`] | `POST /auth/request-verify-token`, `POST /auth/verify` |
//! | [`AxumUsers::users_router`] | `GET`/`PATCH /users/me`, `GET`/`PATCH`/`DELETE /users/{id}` (superusers) |
//! | `AxumUsers::oauth_router` (feature `oauth`; one per provider and backend) | `GET /auth/github/authorize`, `GET /auth/github/callback` |
//! | `AxumUsers::oauth_associate_router` (feature `oauth`; one per provider) | `GET /auth/associate/github/authorize`, `GET /auth/associate/github/callback` (logged-in users) |
//!
//! [`AxumUsers::routes`] mounts them under their prefixes and records what went
//! where ([`Routes`]); with the `openapi` feature, the same record gives the
//! OpenAPI 3.1 document of the app's routes (`Routes::openapi`), and
//! `openapi::docs_router` serves Swagger UI on it, vendored.
//!
//! Errors follow FastAPI Users: `400 {"detail": "LOGIN_BAD_CREDENTIALS"}` and the
//! other [`ErrorCode`]s, `401` without valid credentials, `403` without the
//! required flag, `404` for an unknown (or malformed) id, `422` for a body that
//! is not what the route takes, `413` past the body limit (1 MiB by default).
//!
//! Reset and verification tokens are signed with the manager's token secret
//! ([`UserManagerBuilder::token_secret`]) and reach the user through the hooks
//! `on_after_forgot_password` and `on_after_request_verify`, which run in a task
//! of their own so that the 202 answers alike for known and unknown addresses.
//!
//! ## Transports and strategies
//!
//! An [`auth::AuthBackend`] pairs a [`auth::Transport`] (where the token travels:
//! [`auth::BearerTransport`] or [`auth::CookieTransport`]) with a
//! [`auth::Strategy`] (what the token is: [`auth::JwtStrategy`]). An application
//! may run several backends; the [`auth::Authenticator`] tries them in order, so a
//! token from any of them works on every protected route.
//!
//! JWTs are stateless: they cannot be revoked before they expire (one hour by
//! default), and logout only drops the client's copy.
//!
//! ## Protecting the application's own handlers
//!
//! [`CurrentUser`] (an active user, else 401), [`VerifiedUser`] (also verified,
//! else 403) and [`Superuser`] (also superuser, else 403) are extractors; as
//! `Option<…>` they give `None` instead of an error. They need the authenticator
//! in the request extensions: add `.layer(users.layer())`.
//!
//! ## Hooks
//!
//! Implement [`UserHooks`] to react to events (`on_after_register`,
//! `on_after_login`, `on_after_update`, `on_before_delete`, …) and to add password
//! rules in `validate_password`; pass them with
//! [`UserManagerBuilder::hooks`](manager::UserManagerBuilder::hooks).
//!
//! ```
//! use axum_users::{User, UserHooks, UserManager, PasswordContext, PasswordRejection};
//! use axum_users::store::MemoryStore;
//!
//! struct Hooks;
//!
//! #[axum_users::async_trait]
//! impl UserHooks<User> for Hooks {
//!     async fn validate_password(
//!         &self,
//!         password: &str,
//!         context: PasswordContext<'_, User>,
//!     ) -> Result<(), PasswordRejection> {
//!         context.policy.check(password, context.email)?; // the default rules
//!         if !password.chars().any(|c| c.is_ascii_digit()) {
//!             return Err(PasswordRejection::new("Password should contain a digit"));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let manager = UserManager::builder(MemoryStore::<User>::new()).hooks(Hooks).build();
//! ```
//!
//! ## A custom user model
//!
//! The ready-made [`User`] takes the application's own fields as a type
//! parameter (see [`UserFields`]); they flow through register, update and read.
//! Its second parameter is the id type (UUID by default, integers possible). An
//! application with its own struct implements [`UserModel`].
//!
//! ## A custom store
//!
//! Implement [`store::UserStore`] (get, get by e-mail, create, update, delete) and
//! run the shared test suite, [`store::suite::run`], against it.
//!
//! ## Security
//!
//! Passwords are hashed with argon2id (m = 19456 KiB, t = 2, p = 1) on threads of
//! their own at low priority, behind a memory budget; FastAPI Users' argon2 and bcrypt hashes
//! verify and weaker ones are upgraded at login. A login with an unknown address
//! costs the same as one with a wrong password. Passwords and hashes show as
//! `[redacted]` in `Debug` output and never reach logs or responses.
//!
//! One timing difference remains by design: a stored hash *stronger* than the
//! configured parameters (FastAPI Users' default m = 65536, t = 3, p = 4) is kept,
//! not downgraded, so a failed login for such an account takes longer than one
//! for an unknown address. After a migration from FastAPI Users, configure the
//! same parameters ([`password::PasswordHasherBuilder::params`]) if that matters
//! to you.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod email;
pub mod error;
pub mod extract;
pub mod hooks;
pub mod manager;
#[cfg(feature = "oauth")]
pub mod oauth;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
pub mod password;
pub mod routers;
pub mod store;
pub mod tokens;
pub mod user;

pub use async_trait::async_trait;
pub use auth::{CurrentUser, Superuser, VerifiedUser};
pub use email::{Email, InvalidEmail};
pub use error::{Error, ErrorCode, PasswordRejection, Result};
pub use hooks::{NoHooks, PasswordContext, UpdatedFields, UserHooks};
pub use http;
pub use manager::{LogoutEverywhere, UserManager, UserManagerBuilder};
/// The redis-rs crate this one is built with, to build a
/// [`ConnectionManager`](redis::aio::ConnectionManager) for
/// [`RedisStrategy::new`](auth::RedisStrategy::new) without a version mismatch.
#[cfg(feature = "redis")]
pub use redis;
pub use routers::{AxumUsers, Routes};
pub use user::{
    NoFields, Password, PasswordHash, User, UserCreate, UserData, UserFields, UserId, UserModel,
    UserUpdate,
};

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
