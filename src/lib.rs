//! Ready-made, secure user management for [axum]: register, log in and out with
//! a bearer token or a cookie, reset a forgotten password, verify an e-mail
//! address, administer users, log in with OAuth providers, and publish it all as
//! an OpenAPI document — wire-compatible with [FastAPI Users], so a frontend
//! written for a FastAPI Users backend works unchanged, and its tokens and
//! password hashes carry over.
//!
//! The application stays in charge: it mounts the routers it wants under the
//! prefixes it wants, keeps its own user model and storage, protects its own
//! handlers with extractors, and reacts to events through hooks.
//!
//! This page has a [quick start](#quick-start), the [feature flags](#feature-flags),
//! a map of [the guide](#the-guide) and one of [the modules](#the-modules).
//!
//! [axum]: https://docs.rs/axum
//! [FastAPI Users]: https://fastapi-users.github.io/fastapi-users/
//!
//! # Quick start
//!
//! ```toml
//! [dependencies]
//! axum = "0.8"
//! axum-users = "0.1" # with a database: { version = "0.1", features = ["sqlite"] }
//! tokio = { version = "1", features = ["full"] }
//! ```
//!
//! Users in memory, a JWT carried as a bearer token or in a cookie, the
//! registration and user routes, and one route of the application's own:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use axum_users::auth::{AuthBackend, BearerTransport, CookieTransport, JwtStrategy};
//! use axum_users::{AxumUsers, CurrentUser, User, UserManager, store::MemoryStore};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Signs every token: a long random string, kept out of the code.
//!     let secret = std::env::var("SECRET")?;
//!     let jwt = JwtStrategy::hs256(&secret)?;
//!     let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
//!     let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt);
//!
//!     let manager = UserManager::builder(MemoryStore::<User>::new())
//!         .token_secret(&secret) // signs the reset and verification tokens
//!         .build();
//!     let users = AxumUsers::new(manager, vec![bearer.clone(), cookie.clone()]);
//!
//!     let app = Router::new()
//!         .nest("/auth/jwt", users.auth_router(&bearer)) // POST /auth/jwt/login, /logout
//!         .nest("/auth/cookie", users.auth_router(&cookie))
//!         .nest("/auth", users.register_router()) // POST /auth/register
//!         .nest("/users", users.users_router()) // /users/me, /users/{id}
//!         // The application's own route, for logged-in users only.
//!         .route("/hello", get(|CurrentUser(user): CurrentUser<User>| async move {
//!             format!("Hello, {}!", user.data.email)
//!         }))
//!         .layer(users.layer()); // what the extractors authenticate with
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! ```sh
//! curl -X POST localhost:8000/auth/register -H 'content-type: application/json' \
//!      -d '{"email": "king.arthur@camelot.bt", "password": "guinevere-1"}'
//! curl -X POST localhost:8000/auth/jwt/login -d 'username=king.arthur@camelot.bt&password=guinevere-1'
//! # {"access_token":"eyJ…","token_type":"bearer"}
//! curl localhost:8000/hello -H 'Authorization: Bearer eyJ…'
//! ```
//!
//! The repository's `examples/` hold complete applications: `minimal.rs`,
//! `server.rs` (SQLite or PostgreSQL, every router, mail, Redis, OAuth),
//! `openapi.rs` and `custom_user/` (the application's own user struct and
//! store).
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | *(none)* | — | the routers, [`AxumUsers`] and [`Routes`]; [`auth::JwtStrategy`], [`auth::DatabaseStrategy`] and [`auth::RefreshStrategy`] (rotating refresh tokens); [`auth::BearerTransport`] and [`auth::CookieTransport`]; [`store::MemoryStore`]; the session routes; the extractors, hooks, password hashing and policy |
//! | `sqlite` | no | [`SqliteStore`]: users, sessions and OAuth accounts in SQLite (sqlx, embedded migrations) |
//! | `postgres` | no | [`PostgresStore`]: the same in PostgreSQL (sqlx, embedded migrations, UUID ids) |
//! | `redis` | no | [`RedisStrategy`] and `store::RedisSessionStore`: revocable sessions and refresh-token sessions in Redis (redis-rs `ConnectionManager`), and the [`redis`][redis-crate] crate re-exported |
//! | `oauth` | no | the [`oauth`][oauth-mod] module: OAuth2 and OpenID Connect login (`AxumUsers::oauth_router`, `oauth_associate_router`) and presets for GitHub, Google, Microsoft, Discord and GitLab (reqwest with rustls) |
//! | `openapi` | no | the [`openapi`][openapi-mod] module: `Routes::openapi`, the OpenAPI 3.1 document of the mounted routers, and `openapi::docs_router`, Swagger UI vendored in the crate |
//! | `test-suites` | no | the shared test suites, `store::suite` and `auth::strategy::suite`, to check a store or a strategy of your own: enable it in your `[dev-dependencies]` |
//!
//! No feature is on by default: the in-memory store is enough to start, and each
//! feature pulls in its own dependencies (sqlx, redis-rs, reqwest, utoipa).
//!
//! The minimum supported Rust version is 1.88, except for the `sqlite` and
//! `postgres` features, which need Rust 1.94 (the minimum of sqlx 0.9).
//!
//! [redis-crate]: https://docs.rs/redis/1
//!
//! # The guide
//!
//! The chapters are the Markdown files of the repository's `docs/`, shown here
//! under [`guide`] (their links between chapters point at the `.md` files, as
//! on GitHub). Their Rust examples are compiled, and most of them run, as
//! doctests.
//!
//! | chapter | what it covers |
//! | --- | --- |
//! | [Getting started](guide::getting_started) | from an empty axum application to registration, login, protected routes, your own fields and hooks |
//! | [The routes](guide::routes) | every router's routes, requests, answers and errors; the error type; mounting with [`Routes`] |
//! | [Password reset and e-mail verification](guide::flows) | both token flows, and sending their mail from hooks |
//! | [Sessions](guide::sessions) | backends, transports and strategies: JWT, database or Redis sessions, refresh tokens (rotation, reuse detection, immediate revocation); listing and ending sessions, the client's address, "log out everywhere" |
//! | [OAuth login](guide::oauth) | the flow, the providers and how to register at each, the security choices |
//! | [Configuration](guide::configuration) | every option and its default, and the example server's environment |
//! | [Hooks](guide::hooks) | each hook, when it fires, what its error does; a mailer and an audit log |
//! | [Storage](guide::storage) | the provided stores and their tables, writing and testing your own, custom user models |
//! | [Security](guide::security) | what the crate guarantees, and what the application must do |
//! | [Migrating from FastAPI Users](guide::migrating_from_fastapi_users) | the wire, the tokens, the database and the configuration side by side |
//! | [Architecture](guide::architecture) | for contributors: a map of the modules and of a request through them |
//!
//! # The modules
//!
//! The items most applications use are re-exported at the crate root:
//! [`AxumUsers`], [`UserManager`], [`User`], the extractors [`CurrentUser`],
//! [`VerifiedUser`] and [`Superuser`], [`UserHooks`] and [`Error`].
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`routers`] | [`AxumUsers`], the front door that builds the routers, and [`Routes`], which mounts them |
//! | [`manager`] | [`UserManager`], where every rule about users lives once, and its builder |
//! | [`auth`] | backends: transports (bearer, cookie), strategies (JWT, database, Redis, refresh tokens) and the authenticator |
//! | [`session`] | the one session model: [`session::Session`], why one ended ([`session::SessionEnd`]), where a login comes from ([`session::LoginContext`]) |
//! | [`client`] | the client's address of a request, and the reverse proxies trusted to tell it ([`client::TrustedProxies`]) |
//! | [`extract`] | the extractors of the routes and of the application's own handlers |
//! | [`user`] | the user model: [`User`], your own fields ([`UserFields`]), or a struct of your own ([`UserModel`]) |
//! | [`store`] | where users and sessions live: [`store::UserStore`], [`store::SessionStore`] and the provided stores |
//! | [`hooks`] | [`UserHooks`]: the application's reactions to events and its password rules |
//! | [`password`] | argon2id hashing on threads of its own, and the password policy |
//! | [`tokens`] | the JWT codec (HS256, RS256, ES256) and random opaque tokens |
//! | [`error`] | [`Error`] and the `detail` codes of the HTTP contract |
//! | [`oauth`][oauth-mod] | OAuth2 and OpenID Connect providers and their configuration (feature `oauth`) |
//! | [`openapi`][openapi-mod] | the OpenAPI document and Swagger UI (feature `openapi`) |
//!
//! <!-- Links to feature-gated items: to the item when its feature is on (as on
//! docs.rs, which builds with every feature), else to docs.rs, so that a build
//! without the feature has no broken link. -->
#![cfg_attr(feature = "sqlite", doc = "[`SqliteStore`]: store::SqliteStore")]
#![cfg_attr(
    not(feature = "sqlite"),
    doc = "[`SqliteStore`]: https://docs.rs/axum-users/latest/axum_users/store/struct.SqliteStore.html"
)]
#![cfg_attr(feature = "postgres", doc = "[`PostgresStore`]: store::PostgresStore")]
#![cfg_attr(
    not(feature = "postgres"),
    doc = "[`PostgresStore`]: https://docs.rs/axum-users/latest/axum_users/store/struct.PostgresStore.html"
)]
#![cfg_attr(feature = "redis", doc = "[`RedisStrategy`]: auth::RedisStrategy")]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[`RedisStrategy`]: https://docs.rs/axum-users/latest/axum_users/auth/strategy/struct.RedisStrategy.html"
)]
#![cfg_attr(feature = "oauth", doc = "[oauth-mod]: crate::oauth")]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[oauth-mod]: https://docs.rs/axum-users/latest/axum_users/oauth/index.html"
)]
#![cfg_attr(feature = "openapi", doc = "[openapi-mod]: crate::openapi")]
#![cfg_attr(
    not(feature = "openapi"),
    doc = "[openapi-mod]: https://docs.rs/axum-users/latest/axum_users/openapi/index.html"
)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod client;
pub mod csrf;
mod email;
pub mod error;
pub mod extract;
pub mod hooks;
pub mod invitation;
pub mod manager;
pub mod mfa;
#[cfg(feature = "oauth")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
pub mod oauth;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
pub mod password;
pub mod routers;
pub mod session;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod user;
pub mod username;

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
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis;
pub use routers::{AxumUsers, Routes};
pub use user::{
    NoFields, Password, PasswordHash, UpdatedBy, User, UserCreate, UserData, UserFields, UserId,
    UserModel, UserUpdate,
};

/// The guide: the chapters of the repository's `docs/`, one module each.
///
/// Each chapter is a Markdown file of `docs/`, written to be read on GitHub
/// and included here, so that docs.rs shows it and its Rust examples are
/// compiled (and most of them run) as doctests. Links between chapters point
/// at the `.md` files.
pub mod guide {
    #[doc = include_str!("../docs/getting-started.md")]
    pub mod getting_started {}

    #[doc = include_str!("../docs/routes.md")]
    pub mod routes {}

    #[doc = include_str!("../docs/flows.md")]
    pub mod flows {}

    #[doc = include_str!("../docs/sessions.md")]
    pub mod sessions {}

    #[doc = include_str!("../docs/oauth.md")]
    pub mod oauth {}

    #[doc = include_str!("../docs/usernames.md")]
    pub mod usernames {}

    #[doc = include_str!("../docs/invitations.md")]
    pub mod invitations {}

    #[doc = include_str!("../docs/mfa.md")]
    #[cfg(feature = "passkeys")]
    pub mod mfa {}

    #[doc = include_str!("../docs/configuration.md")]
    pub mod configuration {}

    #[doc = include_str!("../docs/hooks.md")]
    pub mod hooks {}

    #[doc = include_str!("../docs/storage.md")]
    pub mod storage {}

    #[doc = include_str!("../docs/security.md")]
    pub mod security {}

    #[doc = include_str!("../docs/migrating-from-fastapi-users.md")]
    pub mod migrating_from_fastapi_users {}

    #[doc = include_str!("../docs/architecture.md")]
    pub mod architecture {}
}

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
