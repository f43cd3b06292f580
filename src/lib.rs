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
//! - [Quick start](#quick-start)
//! - [Feature flags](#feature-flags)
//! - [The routers](#the-routers) and [mounting them](#mounting-the-routers)
//! - [Transports and strategies](#transports-and-strategies): bearer or
//!   cookie; JWT, database or Redis sessions
//! - [Protecting your own handlers](#protecting-your-own-handlers)
//! - [Using the manager directly](#using-the-manager-directly)
//! - [Hooks](#hooks)
//! - [Passwords: hashing and policy](#passwords-hashing-and-policy)
//! - [A custom user model](#a-custom-user-model)
//! - [A custom store](#a-custom-store)
//! - [OAuth login](#oauth-login)
//! - [OpenAPI](#openapi)
//! - [Errors](#errors)
//! - [Security](#security)
//! - [Guides](#guides)
//!
//! [axum]: https://docs.rs/axum
//! [redis-crate]: https://docs.rs/redis/1
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
//! | *(none)* | — | the routers, [`AxumUsers`] and [`Routes`]; [`auth::JwtStrategy`] and [`auth::DatabaseStrategy`]; [`auth::BearerTransport`] and [`auth::CookieTransport`]; [`store::MemoryStore`]; the extractors, hooks, password hashing and policy |
//! | `sqlite` | no | [`SqliteStore`]: users, sessions and OAuth accounts in SQLite (sqlx, embedded migrations) |
//! | `postgres` | no | [`PostgresStore`]: the same in PostgreSQL (sqlx, embedded migrations, UUID ids) |
//! | `redis` | no | [`RedisStrategy`]: revocable sessions in Redis (redis-rs `ConnectionManager`), and the [`redis`][redis-crate] crate re-exported |
//! | `oauth` | no | the [`oauth`][oauth-mod] module: OAuth2 and OpenID Connect login ([`AxumUsers::oauth_router`][oauth_router], [`oauth_associate_router`][oauth_associate_router]) and presets for GitHub, Google, Microsoft, Discord and GitLab (reqwest with rustls) |
//! | `openapi` | no | [`Routes::openapi`][Routes::openapi]: the OpenAPI 3.1 document of the mounted routers; [`openapi::docs_router`][docs_router]: Swagger UI, vendored in the crate |
//!
//! No feature is on by default: the in-memory store is enough to start, and each
//! feature pulls in its own dependencies (sqlx, redis-rs, reqwest).
//!
//! The minimum supported Rust version is 1.88, except for the `sqlite` and
//! `postgres` features, which need Rust 1.94 (the minimum of sqlx 0.9).
//!
//! # The routers
//!
//! [`AxumUsers`] (FastAPI Users' `FastAPIUsers` object) holds a [`UserManager`]
//! and the application's authentication backends, and builds the routers. Each
//! router is a plain [`axum::Router`] that the application nests under a prefix
//! of its choice; FastAPI Users' usual prefixes are shown here.
//!
//! | router | usual routes | for |
//! | --- | --- | --- |
//! | [`auth_router(&backend)`][AxumUsers::auth_router] | `POST /auth/jwt/login`, `POST /auth/jwt/logout` | logging in and out; one router per backend |
//! | [`register_router()`][AxumUsers::register_router] | `POST /auth/register` | creating an account |
//! | [`reset_password_router()`][AxumUsers::reset_password_router] | `POST /auth/forgot-password`, `POST /auth/reset-password` | resetting a forgotten password |
//! | [`verify_router()`][AxumUsers::verify_router] | `POST /auth/request-verify-token`, `POST /auth/verify` | proving the address is the user's |
//! | [`users_router()`][AxumUsers::users_router] | `GET`/`PATCH /users/me`, `GET`/`PATCH`/`DELETE /users/{id}` | the user's own account; administration by superusers |
//! | [`oauth_router(&config, &backend)`][oauth_router] | `GET /auth/github/authorize`, `GET /auth/github/callback` | logging in with a provider (feature `oauth`) |
//! | [`oauth_associate_router(&config)`][oauth_associate_router] | `GET /auth/associate/github/authorize`, `GET /auth/associate/github/callback` | linking a provider account to the current user (feature `oauth`) |
//!
//! Below, paths are relative to the router's prefix. A *user* in a response is
//! `{"id", "email", "is_active", "is_superuser", "is_verified"}` plus the
//! application's own fields; the password hash never appears. Every route that
//! reads a body answers 422 for one that is not what it takes (FastAPI's
//! `[{"type", "loc", "msg"}]`) and 413 past the body limit (1 MiB,
//! [`AxumUsers::body_limit`]).
//!
//! ## The auth router
//!
//! [`AxumUsers::auth_router`], one per backend, usually at `/auth/{backend name}`.
//! Its logout takes only this backend's token.
//!
//! | route | request | success | errors |
//! | --- | --- | --- | --- |
//! | `POST /login` | form (URL-encoded or multipart, OAuth2's password form): `username` (the e-mail), `password` | bearer: 200 `{"access_token", "token_type": "bearer"}`; cookie: 204 + `Set-Cookie` | 400 `LOGIN_BAD_CREDENTIALS` (unknown address, wrong password, inactive user), `LOGIN_USER_NOT_VERIFIED`; 422 |
//! | `POST /logout` | the backend's token | 204 (the cookie transport clears the cookie) | 401 |
//!
//! With [`AxumUsers::requires_verification`], unverified users get
//! `LOGIN_USER_NOT_VERIFIED` at login and 403 on logout and the users routes.
//!
//! ## The register router
//!
//! [`AxumUsers::register_router`], usually at `/auth`.
//!
//! | route | request | success | errors |
//! | --- | --- | --- | --- |
//! | `POST /register` | JSON `{"email", "password", …your fields}` | 201 user | 400 `REGISTER_USER_ALREADY_EXISTS`, `{"code": "REGISTER_INVALID_PASSWORD", "reason"}`; 422 |
//!
//! A registered user is active, not a superuser and unverified, whatever the
//! body says.
//!
//! ## The reset-password router
//!
//! [`AxumUsers::reset_password_router`], usually at `/auth`.
//!
//! | route | request | success | errors |
//! | --- | --- | --- | --- |
//! | `POST /forgot-password` | JSON `{"email"}` | 202 `null`, whatever the address | 422 |
//! | `POST /reset-password` | JSON `{"token", "password"}` | 200 `null` | 400 `RESET_PASSWORD_BAD_TOKEN`, `{"code": "RESET_PASSWORD_INVALID_PASSWORD", "reason"}`; 422 |
//!
//! ## The verify router
//!
//! [`AxumUsers::verify_router`], usually at `/auth`.
//!
//! | route | request | success | errors |
//! | --- | --- | --- | --- |
//! | `POST /request-verify-token` | JSON `{"email"}` | 202 `null`, whatever the address | 422 |
//! | `POST /verify` | JSON `{"token"}` | 200 user, now verified | 400 `VERIFY_USER_BAD_TOKEN`, `VERIFY_USER_ALREADY_VERIFIED`; 422 |
//!
//! Reset and verification tokens are signed with the manager's token secret
//! ([`UserManagerBuilder::token_secret`]) and reach the user through the hooks
//! `on_after_forgot_password` and `on_after_request_verify` (see
//! [Hooks](#hooks)), which run in a task of their own so that the 202 takes
//! the same time for known and unknown addresses. The
//! [flows guide](https://github.com/axum-users/axum-users/blob/main/docs/flows.md)
//! walks through both flows.
//!
//! ## The users router
//!
//! [`AxumUsers::users_router`], usually at `/users`. Every route needs a token
//! of an active user (else 401); the `/{id}` routes a superuser's (else 403).
//!
//! | route | request | success | errors |
//! | --- | --- | --- | --- |
//! | `GET /me` | | 200 user | 401 |
//! | `PATCH /me` | JSON `{"email"?, "password"?, …your fields}` | 200 user | 401; 400 `UPDATE_USER_EMAIL_ALREADY_EXISTS`, `{"code": "UPDATE_USER_INVALID_PASSWORD", "reason"}`; 422 |
//! | `GET /{id}` | | 200 user | 401; 403; 404 |
//! | `PATCH /{id}` | as `PATCH /me`, plus `is_active`, `is_superuser`, `is_verified` | 200 user | as `PATCH /me`; 403; 404 |
//! | `DELETE /{id}` | | 204 | 401; 403; 404 |
//!
//! `PATCH /me` ignores the three flags. A new address resets `is_verified`; a
//! new password (or a deactivation) ends the user's revocable sessions. A
//! malformed `{id}` answers 404, like an unknown one.
//!
//! ## The OAuth routers (feature `oauth`)
//!
//! [`AxumUsers::oauth_router`][oauth_router], one per provider and backend,
//! usually at `/auth/{provider}`; [`AxumUsers::oauth_associate_router`][oauth_associate_router],
//! one per provider, usually at `/auth/associate/{provider}`. See
//! [OAuth login](#oauth-login).
//!
//! | route | request | success | errors |
//! | --- | --- | --- | --- |
//! | login: `GET /authorize` | query `scopes` (optional, repeatable) | 200 `{"authorization_url"}` and a CSRF cookie | — |
//! | login: `GET /callback` | the provider's redirect (`code`, `state`) and the CSRF cookie | the backend's login response, or a 302 ([`OAuthConfig::success_redirect`][success_redirect]) | 400 `OAUTH_INVALID_STATE`, `OAUTH_NOT_AVAILABLE_EMAIL`, `OAUTH_USER_ALREADY_EXISTS`, …; 502 `OAUTH_PROVIDER_ERROR` |
//! | associate: `GET /authorize` | a token; query `scopes` | 200 `{"authorization_url"}` and a CSRF cookie | 401 |
//! | associate: `GET /callback` | a token; the provider's redirect | 200 user | 401; 400 `OAUTH_ACCOUNT_ALREADY_LINKED`, …; 502 |
//!
//! ## Mounting the routers
//!
//! Nest the routers one by one, as in the [quick start](#quick-start), or let
//! [`AxumUsers::routes`] do it: the [`Routes`] builder mounts each router under
//! its prefix (the same router the matching `*_router` method builds) and
//! records what went where, so that the OpenAPI document (feature `openapi`,
//! [`Routes::openapi`][Routes::openapi]) describes exactly what is served.
//!
//! ```
//! use axum::Router;
//! use axum_users::auth::{AuthBackend, BearerTransport, CookieTransport, JwtStrategy};
//! use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
//!
//! # fn main() -> axum_users::Result<()> {
//! let jwt = JwtStrategy::hs256("a random secret of 32 bytes or more")?;
//! let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
//! let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt);
//! let users = AxumUsers::new(
//!     UserManager::builder(MemoryStore::<User>::new())
//!         .token_secret("another random secret of 32 bytes or more")
//!         .build(),
//!     vec![bearer.clone(), cookie.clone()],
//! )
//! .body_limit(64 * 1024); // before the routers are built
//!
//! let app: Router = users
//!     .routes()
//!     .auth("/auth/jwt", &bearer)
//!     .auth("/auth/cookie", &cookie)
//!     .register("/auth")
//!     .reset_password("/auth")
//!     .verify("/auth")
//!     .users("/users")
//!     .into_router()
//!     .layer(users.layer());
//! # Ok(())
//! # }
//! ```
//!
//! The routers are generic over the router state, so they nest into a
//! `Router<AppState>` as well.
//!
//! # Transports and strategies
//!
//! An [`auth::AuthBackend`] is one way to log in: a name, a [`auth::Transport`]
//! (where the token travels) and a [`auth::Strategy`] (what the token is). An
//! application may run several backends; the [`auth::Authenticator`] tries them
//! in order, so a token from any of them works on every protected route (the
//! auth router's logout takes only its own backend's token).
//!
//! | transport | the token travels in | login answers | logout answers |
//! | --- | --- | --- | --- |
//! | [`auth::BearerTransport`] | `Authorization: Bearer <token>` | 200 `{"access_token": "…", "token_type": "bearer"}` | 204 |
//! | [`auth::CookieTransport`] | a cookie | 204 with `Set-Cookie` | 204, the cookie cleared |
//!
//! The cookie's attributes default to the safe choices, with FastAPI Users' name:
//!
//! | attribute | method | default |
//! | --- | --- | --- |
//! | name | [`name`][auth::CookieTransport::name] | `fastapiusersauth` |
//! | `Max-Age` | [`max_age`][auth::CookieTransport::max_age] | one hour (`None`: a session cookie) |
//! | `Path` | [`path`][auth::CookieTransport::path] | `/` |
//! | `Domain` | [`domain`][auth::CookieTransport::domain] | none (the host that set it) |
//! | `Secure` | [`secure`][auth::CookieTransport::secure] | on: serve over HTTPS |
//! | `HttpOnly` | [`http_only`][auth::CookieTransport::http_only] | on |
//! | `SameSite` | [`same_site`][auth::CookieTransport::same_site] | [`Lax`][auth::SameSite::Lax] |
//!
//! With a cookie, the browser sends the token by itself: protect the
//! application's own state-changing routes against CSRF (the
//! [security guide](https://github.com/axum-users/axum-users/blob/main/docs/security.md#csrf-with-the-cookie-transport)
//! says how).
//!
//! | strategy | the token is | revocable | feature |
//! | --- | --- | --- | --- |
//! | [`auth::JwtStrategy`] | a JWT (HS256 as FastAPI Users, or RS256, ES256 through [`tokens::JwtCodec`]) | no: valid until it expires (one hour by default) | — |
//! | [`auth::DatabaseStrategy`] | an opaque random token whose SHA-256 digest lives in an [`store::AccessTokenStore`] | yes | — |
//! | [`RedisStrategy`] | an opaque random token whose digest lives in Redis | yes | `redis` |
//!
//! JWTs are stateless: nothing is looked up, nothing is shared between
//! instances, but logout only drops the client's copy. The revocable strategies
//! end a session at logout, and every session of a user when the password
//! changes or the user is deactivated or deleted
//! ([`LogoutEverywhere`], [`UserManager::logout_everywhere`]). Every request
//! reloads the user, so a deactivated or deleted user is refused at once with any
//! strategy.
//!
//! Database sessions, kept by the store beside the users (the provided stores
//! all implement [`store::AccessTokenStore`]):
//!
//! ```
//! use std::time::Duration;
//! use axum_users::auth::{AuthBackend, CookieTransport, DatabaseStrategy, JwtStrategy, BearerTransport};
//! use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
//!
//! # fn main() -> axum_users::Result<()> {
//! let store = MemoryStore::<User>::new();
//! let sessions = AuthBackend::new(
//!     "session",
//!     CookieTransport::new().name("fastapiuserssession"),
//!     DatabaseStrategy::new(store.clone()).lifetime(Duration::from_secs(8 * 3600)),
//! );
//! let jwt = AuthBackend::new(
//!     "jwt",
//!     BearerTransport::new("auth/jwt/login"),
//!     JwtStrategy::hs256("a random secret of 32 bytes or more")?.lifetime(Duration::from_secs(15 * 60)),
//! );
//! // Both backends authenticate every protected route, sessions first.
//! let users = AxumUsers::new(UserManager::new(store), vec![sessions.clone(), jwt.clone()]);
//! let app: axum::Router = users
//!     .routes()
//!     .auth("/auth/session", &sessions)
//!     .auth("/auth/jwt", &jwt)
//!     .users("/users")
//!     .into_router()
//!     .layer(users.layer());
//! # Ok(())
//! # }
//! ```
//!
//! Redis sessions (feature `redis`), shared by every instance of the application
//! that uses the same Redis; when Redis fails, requests answer 503, never 401:
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # mod example {
//! use std::time::Duration;
//! use axum_users::auth::{AuthBackend, BearerTransport, RedisStrategy};
//! use axum_users::User;
//!
//! async fn redis_backend() -> axum_users::Result<AuthBackend<User>> {
//!     let strategy = RedisStrategy::connect("redis://127.0.0.1:6379") // or connect_lazy
//!         .await?
//!         .lifetime(Duration::from_secs(8 * 3600));
//!     Ok(AuthBackend::new("redis", BearerTransport::new("auth/redis/login"), strategy))
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! The [sessions guide](https://github.com/axum-users/axum-users/blob/main/docs/sessions.md)
//! compares the strategies, and the
//! [configuration reference](https://github.com/axum-users/axum-users/blob/main/docs/configuration.md)
//! lists every option with its default.
//!
//! # Protecting your own handlers
//!
//! | extractor | gives | otherwise |
//! | --- | --- | --- |
//! | [`CurrentUser<U>`](CurrentUser) | the calling user, active | 401 |
//! | [`VerifiedUser<U>`](VerifiedUser) | the calling user, active and verified | 401, or 403 when not verified |
//! | [`Superuser<U>`](Superuser) | the calling user, active and superuser | 401, or 403 when not a superuser |
//! | `Option<…>` of each | `Some(user)`, or `None` | never fails for a missing or insufficient user (a store outage still answers 503) |
//!
//! They authenticate with the [`auth::Authenticator`], which
//! [`AxumUsers::layer`] puts into the request extensions: add the layer after
//! the routes it must cover. `U` is the user type, always named
//! (`CurrentUser<User>`, or `CurrentUser<AppUser>` with a type of your own):
//! there is no default, so an extractor of the wrong type does not compile.
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
//! use axum_users::{AxumUsers, CurrentUser, Superuser, User, UserManager, VerifiedUser};
//! use axum_users::store::MemoryStore;
//!
//! async fn dashboard(CurrentUser(user): CurrentUser<User>) -> String {
//!     format!("hello {}", user.data.email)
//! }
//!
//! async fn post_comment(VerifiedUser(user): VerifiedUser<User>) -> String {
//!     format!("comment by {}", user.id)
//! }
//!
//! async fn admin(Superuser(_admin): Superuser<User>) -> &'static str {
//!     "welcome, admin"
//! }
//!
//! async fn landing(user: Option<CurrentUser<User>>) -> &'static str {
//!     if user.is_some() { "welcome back" } else { "hello, stranger" }
//! }
//!
//! # fn main() -> axum_users::Result<()> {
//! let jwt = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), JwtStrategy::hs256("a random secret of 32 bytes or more")?);
//! let users = AxumUsers::new(UserManager::new(MemoryStore::<User>::new()), vec![jwt.clone()]);
//! let app: Router = Router::new()
//!     .nest("/auth/jwt", users.auth_router(&jwt))
//!     .route("/", get(landing))
//!     .route("/dashboard", get(dashboard))
//!     .route("/comments", post(post_comment))
//!     .route("/admin", get(admin))
//!     .layer(users.layer());
//! # Ok(())
//! # }
//! ```
//!
//! A handler can also take the front door itself as state (or an
//! [`axum::Extension`]) and call the [`UserManager`] — see the next section.
//!
//! # Using the manager directly
//!
//! [`UserManager`] holds every rule about users once; the routers call it, and
//! so can the application's own code: a command that creates the first
//! superuser, an admin page, a data import. A *safe* create or update (what
//! `POST /register` and `PATCH /users/me` do) ignores the `is_active`,
//! `is_superuser` and `is_verified` flags; the application's own code may set
//! them.
//!
//! ```
//! use axum_users::{Email, Error, User, UserCreate, UserManager, store::MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = UserManager::new(MemoryStore::<User>::new());
//! let admin = UserCreate {
//!     is_superuser: Some(true),
//!     is_verified: Some(true),
//!     ..UserCreate::new(Email::parse("admin@example.com")?, "a long admin password")
//! };
//! match manager.create(admin, false, None).await {
//!     Ok(user) => println!("created superuser {}", user.id),
//!     Err(Error::UserAlreadyExists) => println!("the superuser exists already"),
//!     Err(e) => return Err(e.into()),
//! }
//! let admin = manager.get_by_email("ADMIN@example.com").await?; // ASCII-case-insensitive
//! assert!(admin.data.is_superuser);
//! # Ok(())
//! # }
//! ```
//!
//! Called this way, `request` is `None` and the hooks are told so.
//!
//! # Hooks
//!
//! Implement [`UserHooks`] to react to events — send the reset and verification
//! mails, write an audit log, refuse a deletion — and to add password rules in
//! `validate_password`. Every method has a default, so override only what you
//! need, and hand the hooks to the manager with
//! [`UserManagerBuilder::hooks`].
//!
//! | hook | fires |
//! | --- | --- |
//! | `validate_password` | at registration, on an update with a password, on a reset; defaults to the [`password::PasswordPolicy`] |
//! | `on_after_register` | after a user was created |
//! | `on_after_login` | after a login, with the response to amend |
//! | `on_after_update` | after an update, with the [`UpdatedFields`] |
//! | `on_after_request_verify` | a verification token was issued: send it (runs in a task of its own) |
//! | `on_after_verify` | after a user verified their address |
//! | `on_after_forgot_password` | a reset token was issued: send it (runs in a task of its own) |
//! | `on_after_reset_password` | after a password reset |
//! | `on_before_delete` | before a deletion; an error keeps the user |
//! | `on_after_delete` | after a deletion |
//!
//! Hooks get the request's parts (headers, URI, extensions) when the event comes
//! from an HTTP request, `None` when the application called the manager itself.
//!
//! ```
//! use std::sync::Arc;
//! use axum_users::http::request::Parts;
//! use axum_users::store::MemoryStore;
//! use axum_users::{PasswordContext, PasswordRejection, User, UserHooks, UserManager};
//!
//! /// Whatever sends mail in the application (SMTP, an API, a job queue).
//! trait Mailer: Send + Sync + 'static {
//!     fn send(&self, to: &str, subject: &str, body: &str) -> axum_users::Result<()>;
//! }
//!
//! struct Hooks {
//!     mailer: Arc<dyn Mailer>,
//!     frontend: String,
//! }
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
//!
//!     async fn on_after_register(&self, user: &User, _request: Option<&Parts>) -> axum_users::Result<()> {
//!         tracing::info!(user = %user.id, "registered");
//!         Ok(())
//!     }
//!
//!     async fn on_after_forgot_password(
//!         &self,
//!         user: &User,
//!         token: &str,
//!         _request: Option<&Parts>,
//!     ) -> axum_users::Result<()> {
//!         // Never log the token: it grants a password change.
//!         let link = format!("{}/reset-password?token={token}", self.frontend);
//!         self.mailer.send(&user.data.email, "Reset your password", &link)
//!     }
//!
//!     async fn on_after_request_verify(
//!         &self,
//!         user: &User,
//!         token: &str,
//!         _request: Option<&Parts>,
//!     ) -> axum_users::Result<()> {
//!         let link = format!("{}/verify?token={token}", self.frontend);
//!         self.mailer.send(&user.data.email, "Verify your address", &link)
//!     }
//! }
//!
//! # struct NoMail;
//! # impl Mailer for NoMail {
//! #     fn send(&self, _: &str, _: &str, _: &str) -> axum_users::Result<()> { Ok(()) }
//! # }
//! # let mailer: Arc<dyn Mailer> = Arc::new(NoMail);
//! let hooks = Hooks { mailer, frontend: "https://app.example.com".into() };
//! let manager = UserManager::builder(MemoryStore::<User>::new())
//!     .token_secret("a random secret of 32 bytes or more")
//!     .hooks(hooks)
//!     .build();
//! ```
//!
//! An error from an `on_before_*` hook stops the action; one from an
//! `on_after_*` hook comes after the action and changes only the response
//! (the two that run in a task of their own log it). The
//! [hooks guide](https://github.com/axum-users/axum-users/blob/main/docs/hooks.md)
//! details each hook.
//!
//! # Passwords: hashing and policy
//!
//! Passwords are hashed with argon2id at OWASP's parameters (m = 19456 KiB,
//! t = 2, p = 1) by a [`password::PasswordHasher`] that runs on threads of its
//! own, at low priority, behind a memory budget (256 MiB of hashes at once by
//! default; past a queue of waiting hashes, 503). FastAPI Users' argon2 and
//! bcrypt hashes verify, and hashes weaker than the configured parameters are
//! upgraded at the next login.
//!
//! The default [`password::PasswordPolicy`] wants at least 8 characters, at most
//! 1024 bytes, not the user's e-mail address, and none of the 10,000 most common
//! passwords. A rejection answers 400 with the route's code and a reason:
//! `{"detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": "Password should
//! be at least 8 characters"}}`.
//!
//! ```
//! use axum_users::password::{Argon2Params, PasswordHasher, PasswordPolicy};
//! use axum_users::{User, UserManager, store::MemoryStore};
//!
//! let hasher = PasswordHasher::builder()
//!     // FastAPI Users' own parameters, say after a migration.
//!     .params(Argon2Params { m_kib: 65_536, t: 3, p: 4 })
//!     .memory_budget_kib(512 * 1024)
//!     .build();
//! hasher.check().expect("valid argon2 parameters");
//!
//! let policy = PasswordPolicy::default().min_chars(12);
//! assert!(policy.check("short but ok?", "arthur@camelot.bt").is_ok());
//! assert!(policy.check("eleven char", "arthur@camelot.bt").is_err());
//!
//! let manager = UserManager::builder(MemoryStore::<User>::new())
//!     .hasher(hasher)
//!     .password_policy(policy)
//!     .build();
//! ```
//!
//! Rules of the application's own go in the `validate_password` hook
//! ([above](#hooks)).
//!
//! # A custom user model
//!
//! The ready-made [`User<F, Id>`](User) takes the application's own fields as
//! `F` (any [`UserFields`]; [`NoFields`] by default) and the id type as `Id`
//! (any [`UserId`]: [`uuid::Uuid`] by default, or `i32`, `i64`, `u32`, `u64`).
//! The fields flow through register (`F::Create`, flattened into the body),
//! update (`F::Update`, flattened into the `PATCH` body) and every response
//! (`F` as it serialises; only put there what the API may show).
//!
//! ```
//! use axum_users::{UpdatedBy, User, UserFields, UserManager, store::MemoryStore};
//! use serde::{Deserialize, Serialize};
//!
//! /// As stored and as responses show it, beside `id`, `email`, ….
//! #[derive(Debug, Clone, Default, Serialize, Deserialize)]
//! struct Profile {
//!     display_name: String,
//!     newsletter: bool,
//! }
//!
//! /// What `POST /auth/register` takes beside `email` and `password`.
//! #[derive(Debug, Deserialize)]
//! struct ProfileCreate {
//!     display_name: String, // required: a body without it is a 422
//!     #[serde(default)]
//!     newsletter: bool,
//! }
//!
//! /// What `PATCH /users/me` takes: a missing key keeps the value.
//! #[derive(Debug, Default, Deserialize)]
//! struct ProfileUpdate {
//!     display_name: Option<String>,
//!     newsletter: Option<bool>,
//! }
//!
//! impl UserFields for Profile {
//!     type Create = ProfileCreate;
//!     type Update = ProfileUpdate;
//!
//!     fn create(input: ProfileCreate) -> Self {
//!         Profile { display_name: input.display_name, newsletter: input.newsletter }
//!     }
//!
//!     fn update(&mut self, update: ProfileUpdate, _by: UpdatedBy) {
//!         if let Some(name) = update.display_name {
//!             self.display_name = name;
//!         }
//!         if let Some(newsletter) = update.newsletter {
//!             self.newsletter = newsletter;
//!         }
//!     }
//!     // For OpenAPI documents, also describe the fields: `read_schema`,
//!     // `create_schema`, `update_schema` (JSON Schemas; "any object" by default).
//! }
//!
//! /// Integer ids: `/users/42`, `"sub": "42"` in tokens.
//! type AppUser = User<Profile, i64>;
//!
//! let manager = UserManager::new(MemoryStore::<AppUser>::new());
//! ```
//!
//! `UserFields::create` and `update` cannot fail: validate the fields as they
//! deserialise (`#[serde(deserialize_with = …)]`), so that a bad value answers
//! 422 like any malformed body. The provided SQL stores keep the fields in a
//! JSON column and take UUID ids; integer ids need [`store::MemoryStore`] or a
//! store of your own.
//!
//! An application that wants a user struct of its own (with methods and trait
//! implementations of its own) implements [`UserModel`]. The struct must hold a
//! [`UserData<F>`](UserData) — the address, password hash, flags and the
//! application's fields — and hand it out with `data()` and `data_mut()`; the
//! flag accessors have defaults that read it.
//!
//! ```
//! use axum_users::{CurrentUser, NoFields, UserData, UserModel};
//!
//! #[derive(Debug, Clone)]
//! pub struct AppUser {
//!     pub id: i64,
//!     pub data: UserData<NoFields>,
//! }
//!
//! impl UserModel for AppUser {
//!     type Id = i64;
//!     type Fields = NoFields;
//!
//!     fn from_parts(id: i64, data: UserData<NoFields>) -> Self {
//!         AppUser { id, data }
//!     }
//!     fn id(&self) -> &i64 {
//!         &self.id
//!     }
//!     fn data(&self) -> &UserData<NoFields> {
//!         &self.data
//!     }
//!     fn data_mut(&mut self) -> &mut UserData<NoFields> {
//!         &mut self.data
//!     }
//! }
//!
//! impl AppUser {
//!     pub fn is_staff(&self) -> bool {
//!         self.data.is_superuser || self.data.email.ends_with("@example.com")
//!     }
//! }
//!
//! // The extractors then name the type.
//! async fn staff_only(CurrentUser(user): CurrentUser<AppUser>) -> &'static str {
//!     if user.is_staff() { "welcome" } else { "staff only" }
//! }
//! ```
//!
//! # A custom store
//!
//! Users live in a [`store::UserStore`]: [`store::MemoryStore`] (tests,
//! prototypes), [`SqliteStore`] and [`PostgresStore`] (embedded migrations,
//! `store.migrate().await?`) are provided. A store of the application's own
//! implements five methods and keeps the trait's rules: addresses unique and
//! looked up ASCII-case-insensitively, atomically; `update` writes only the
//! given fields and honours its conditions ([`store::UserChanges`]). The shared
//! suite, [`store::suite::run`], checks those rules: the provided stores pass
//! it, and so should yours.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Mutex, MutexGuard, PoisonError};
//!
//! use axum_users::store::{StoreError, UserChanges, UserStore};
//! use axum_users::{NoFields, User, UserData, async_trait};
//!
//! type AppUser = User<NoFields, i64>;
//!
//! /// Users by id behind one lock: every check and the write it guards happen
//! /// under it, as in one database transaction.
//! #[derive(Debug, Default)]
//! pub struct MapStore {
//!     table: Mutex<Table>,
//! }
//!
//! #[derive(Debug, Default)]
//! struct Table {
//!     users: HashMap<i64, AppUser>,
//!     last_id: i64, // ids are never reused: an old token must not name a new user
//! }
//!
//! impl Table {
//!     /// `Arthur@x.bt` and `arthur@x.bt` are one address (ASCII case only).
//!     fn by_email(&self, email: &str) -> Option<&AppUser> {
//!         self.users.values().find(|user| user.data.email.eq_ignore_ascii_case(email))
//!     }
//! }
//!
//! impl MapStore {
//!     fn table(&self) -> MutexGuard<'_, Table> {
//!         self.table.lock().unwrap_or_else(PoisonError::into_inner)
//!     }
//! }
//!
//! #[async_trait]
//! impl UserStore for MapStore {
//!     type User = AppUser;
//!
//!     async fn get(&self, id: &i64) -> Result<Option<AppUser>, StoreError> {
//!         Ok(self.table().users.get(id).cloned())
//!     }
//!
//!     async fn get_by_email(&self, email: &str) -> Result<Option<AppUser>, StoreError> {
//!         Ok(self.table().by_email(email).cloned())
//!     }
//!
//!     async fn create(&self, data: UserData<NoFields>) -> Result<AppUser, StoreError> {
//!         let mut table = self.table();
//!         if table.by_email(&data.email).is_some() {
//!             return Err(StoreError::EmailTaken); // answered 400 REGISTER_USER_ALREADY_EXISTS
//!         }
//!         table.last_id += 1;
//!         let user = User { id: table.last_id, data }; // the address kept as given
//!         table.users.insert(user.id, user.clone());
//!         Ok(user)
//!     }
//!
//!     async fn update(&self, id: &i64, changes: UserChanges<NoFields>) -> Result<AppUser, StoreError> {
//!         let mut table = self.table();
//!         let current = table.users.get(id).ok_or(StoreError::NotFound)?;
//!         // The compare-and-set of resets, hash upgrades and verification.
//!         if !changes.conditions_hold(&current.data) {
//!             return Err(StoreError::Conflict);
//!         }
//!         if let Some(email) = &changes.email
//!             && table.by_email(email).is_some_and(|other| other.id != *id)
//!         {
//!             return Err(StoreError::EmailTaken);
//!         }
//!         let user = table.users.get_mut(id).ok_or(StoreError::NotFound)?;
//!         changes.apply_to(&mut user.data); // only the given fields
//!         Ok(user.clone())
//!     }
//!
//!     async fn delete(&self, id: &i64) -> Result<(), StoreError> {
//!         self.table().users.remove(id).map(drop).ok_or(StoreError::NotFound)
//!     }
//! }
//!
//! // In the application's tests, under
//! // `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]`:
//! async fn map_store_keeps_the_store_rules() {
//!     // A fresh, empty store for each check.
//!     axum_users::store::suite::run(|| async { MapStore::default() }).await;
//! }
//! # fn main() {
//! #     tokio::runtime::Builder::new_multi_thread()
//! #         .worker_threads(4)
//! #         .enable_all()
//! #         .build()
//! #         .unwrap()
//! #         .block_on(map_store_keeps_the_store_rules());
//! # }
//! ```
//!
//! Database sessions need the store to implement [`store::AccessTokenStore`]
//! too, and OAuth login [`store::OAuthAccountStore`] (checked by
//! [`store::suite::run_oauth`]); a store can also stand beside another one for
//! sessions (`DatabaseStrategy::new(other_store)`). The
//! [storage guide](https://github.com/axum-users/axum-users/blob/main/docs/storage.md)
//! covers the provided stores' tables and migrations and a SQL-backed store of
//! your own.
//!
//! # OAuth login
//!
//! With the `oauth` feature, users log in with a provider — GitHub, Google,
//! Microsoft, Discord, GitLab ([`oauth::presets`][presets]), any OpenID Connect
//! provider ([`OidcProvider`]) or any OAuth2 provider with a user-info endpoint
//! — and link provider accounts to their user. An [`OAuthConfig`] pairs a
//! provider with the secret that signs the `state` and the callback URL
//! registered at the provider; the store must implement
//! [`store::OAuthAccountStore`] (every provided store does) and the user fields
//! `Default` (a first login creates the user).
//!
//! ```
//! # #[cfg(feature = "oauth")]
//! # mod example {
//! use axum::Router;
//! use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
//! use axum_users::oauth::{OAuthConfig, presets};
//! use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
//!
//! fn app(secret: &str, client_id: &str, client_secret: &str) -> axum_users::Result<Router> {
//!     let jwt = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), JwtStrategy::hs256(secret)?);
//!     let users = AxumUsers::new(UserManager::new(MemoryStore::<User>::new()), vec![jwt.clone()]);
//!
//!     // The callback URLs: exactly as registered at the provider.
//!     let github = presets::github(client_id, client_secret)?;
//!     let login = OAuthConfig::new(github.clone(), secret, "https://app.example.com/auth/github/callback")?;
//!     let link = OAuthConfig::new(github, secret, "https://app.example.com/auth/associate/github/callback")?;
//!
//!     Ok(users
//!         .routes()
//!         .auth("/auth/jwt", &jwt)
//!         .oauth("/auth/github", &login, &jwt) // GET /authorize, GET /callback
//!         .oauth_associate("/auth/associate/github", &link)
//!         .into_router()
//!         .layer(users.layer()))
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! Beyond FastAPI Users, the state and the CSRF cookie are checked before the
//! code is exchanged, every login uses PKCE, ID tokens are verified, and a
//! provider account has one owner. The [`oauth`][oauth-mod] module documents
//! the providers; the
//! [OAuth guide](https://github.com/axum-users/axum-users/blob/main/docs/oauth.md)
//! says how to register the application at each provider and why the routers
//! work as they do.
//!
//! # OpenAPI
//!
//! With the `openapi` feature, [`Routes::openapi`][Routes::openapi] gives the
//! OpenAPI 3.1 document of what the [`Routes`] mounted — paths, request and
//! response schemas (the application's fields included, from the
//! [`UserFields`] schema methods), every status, the 400 `detail` codes, one
//! security scheme per backend — and [`openapi::json_router`][json_router]
//! and [`openapi::docs_router`][docs_router] serve it and Swagger UI (vendored
//! in the crate: the page loads nothing from another host).
//!
//! ```
//! # #[cfg(feature = "openapi")]
//! # {
//! use axum::Router;
//! use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
//! use axum_users::openapi::{self, Info};
//! use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
//!
//! let jwt = AuthBackend::new(
//!     "jwt",
//!     BearerTransport::new("auth/jwt/login"),
//!     JwtStrategy::hs256("a random secret of 32 bytes or more").unwrap(),
//! );
//! let users = AxumUsers::new(UserManager::new(MemoryStore::<User>::new()), vec![jwt.clone()]);
//! let api = users.routes().auth("/auth/jwt", &jwt).register("/auth").users("/users");
//!
//! let document = api.openapi(&Info::new("My app", "1.0.0").description("The users API"));
//! assert!(document.paths.paths["/auth/register"].post.is_some());
//!
//! let app: Router = api
//!     .into_router()
//!     .merge(openapi::json_router("/openapi.json", &document)) // GET /openapi.json
//!     .merge(openapi::docs_router("/openapi.json")) // GET /docs
//!     .layer(users.layer());
//! # }
//! ```
//!
//! The document is built with utoipa's OpenAPI model (`utoipa::openapi::OpenApi`,
//! re-exported as `openapi::utoipa`): an application that documents its own
//! routes with utoipa merges it into its own `#[derive(OpenApi)]` document in
//! one call (`ApiDoc::openapi().merge_from(document)`), and serves the result
//! with `openapi::json_router`.
//!
//! # Errors
//!
//! Every fallible operation returns [`Error`], which implements
//! [`IntoResponse`](axum::response::IntoResponse): a handler of the application
//! can return it and answer exactly as the crate's routers do, with a
//! `{"detail": …}` body.
//!
//! | status | `detail` | from |
//! | --- | --- | --- |
//! | 400 | an [`ErrorCode`], e.g. `"LOGIN_BAD_CREDENTIALS"`, or `{"code", "reason"}` for a rejected password | [`Error::Code`], [`Error::UserAlreadyExists`], [`Error::InvalidPassword`], … |
//! | 401 | `"Unauthorized"` (with `WWW-Authenticate: Bearer`) | [`Error::Unauthorized`]: no valid token |
//! | 403 | `"Forbidden"` | [`Error::Forbidden`]: a required flag is missing |
//! | 404 | `"Not Found"` | [`Error::UserNotFound`], [`Error::NotFound`] |
//! | 413 | `"Payload Too Large"` | [`Error::PayloadTooLarge`] |
//! | 422 | `[{"type", "loc", "msg"}]` | [`Error::Validation`]: the body is not what the route takes |
//! | 502 | `"OAUTH_PROVIDER_ERROR"` | [`Error::OAuthProvider`] |
//! | 503 | `"SERVICE_UNAVAILABLE"` | [`Error::ServiceUnavailable`], an unreachable store or Redis, a full hashing queue |
//! | 500 | `"Internal Server Error"` | [`Error::Store`], [`Error::Config`], [`Error::Internal`] (logged, never detailed) |
//!
//! [`Error::status`] gives the status; [`ErrorCode::as_str`] the wire form of a
//! code; [`ErrorCode::ALL`] lists them.
//!
//! ```
//! use axum::Json;
//! use axum_users::{CurrentUser, Error, User};
//!
//! async fn delete_my_account(CurrentUser(user): CurrentUser<User>) -> Result<Json<String>, Error> {
//!     if user.data.is_superuser {
//!         // 400 {"detail": "SUPERUSERS_CANNOT_LEAVE"}
//!         return Err(Error::BadRequest("SUPERUSERS_CANNOT_LEAVE".into()));
//!     }
//!     Ok(Json(format!("goodbye {}", user.data.email)))
//! }
//! ```
//!
//! # Security
//!
//! Passwords are hashed with argon2id (m = 19456 KiB, t = 2, p = 1) on threads of
//! their own at low priority, behind a memory budget; FastAPI Users' argon2 and bcrypt hashes
//! verify and weaker ones are upgraded at login. A login with an unknown address
//! costs the same as one with a wrong password. Passwords and hashes show as
//! `[redacted]` in `Debug` output and never reach logs or responses.
//!
//! A stored hash *stronger* than the configured parameters (FastAPI Users'
//! default m = 65536, t = 3, p = 4) is kept, not downgraded, and a bcrypt hash
//! is slow too: failed logins still take as long for every account, because an
//! unknown address is checked against a dummy of the slowest class of hashes
//! in the store and a wrong password for a faster hash waits as long
//! ([`UserManager::calibrate_login_timing`]).
//!
//! Reset tokens die with any password change and reveal nothing of the hash;
//! tokens without `exp` are rejected; forgot-password and request-verify answer
//! alike, in time too, for known and unknown addresses; concurrent registrations
//! of one address give one user, never a 500. What the application must do —
//! serve over HTTPS, keep the secrets secret, guard its cookie-authenticated
//! routes against CSRF, rate-limit logins — is in the
//! [security guide](https://github.com/axum-users/axum-users/blob/main/docs/security.md).
//!
//! # Guides
//!
//! docs.rs shows the API; the guides in the repository's `docs/` explain the
//! whole:
//!
//! - [Getting started](https://github.com/axum-users/axum-users/blob/main/docs/getting-started.md):
//!   from an empty axum application to registration, login and protected routes
//! - [Password reset and e-mail verification](https://github.com/axum-users/axum-users/blob/main/docs/flows.md)
//! - [Sessions: JWT, database or Redis](https://github.com/axum-users/axum-users/blob/main/docs/sessions.md)
//! - [OAuth login](https://github.com/axum-users/axum-users/blob/main/docs/oauth.md)
//! - [Configuration: every option and its default](https://github.com/axum-users/axum-users/blob/main/docs/configuration.md)
//! - [Hooks](https://github.com/axum-users/axum-users/blob/main/docs/hooks.md)
//! - [Storage: the provided stores and writing your own](https://github.com/axum-users/axum-users/blob/main/docs/storage.md)
//! - [Security: what the crate guarantees, what the application must do](https://github.com/axum-users/axum-users/blob/main/docs/security.md)
//! - [Migrating from FastAPI Users](https://github.com/axum-users/axum-users/blob/main/docs/migrating-from-fastapi-users.md):
//!   the database, the tokens, the configuration side by side
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
#![cfg_attr(feature = "oauth", doc = "[presets]: crate::oauth::presets")]
#![cfg_attr(feature = "oauth", doc = "[`OAuthConfig`]: crate::oauth::OAuthConfig")]
#![cfg_attr(
    feature = "oauth",
    doc = "[success_redirect]: crate::oauth::OAuthConfig::success_redirect"
)]
#![cfg_attr(
    feature = "oauth",
    doc = "[`OidcProvider`]: crate::oauth::OidcProvider"
)]
#![cfg_attr(feature = "oauth", doc = "[oauth_router]: AxumUsers::oauth_router")]
#![cfg_attr(
    feature = "oauth",
    doc = "[oauth_associate_router]: AxumUsers::oauth_associate_router"
)]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[oauth-mod]: https://docs.rs/axum-users/latest/axum_users/oauth/index.html"
)]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[presets]: https://docs.rs/axum-users/latest/axum_users/oauth/presets/index.html"
)]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[`OAuthConfig`]: https://docs.rs/axum-users/latest/axum_users/oauth/struct.OAuthConfig.html"
)]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[success_redirect]: https://docs.rs/axum-users/latest/axum_users/oauth/struct.OAuthConfig.html#method.success_redirect"
)]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[`OidcProvider`]: https://docs.rs/axum-users/latest/axum_users/oauth/struct.OidcProvider.html"
)]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[oauth_router]: https://docs.rs/axum-users/latest/axum_users/routers/struct.AxumUsers.html#method.oauth_router"
)]
#![cfg_attr(
    not(feature = "oauth"),
    doc = "[oauth_associate_router]: https://docs.rs/axum-users/latest/axum_users/routers/struct.AxumUsers.html#method.oauth_associate_router"
)]
#![cfg_attr(feature = "openapi", doc = "[Routes::openapi]: Routes::openapi")]
#![cfg_attr(
    feature = "openapi",
    doc = "[json_router]: crate::openapi::json_router"
)]
#![cfg_attr(
    feature = "openapi",
    doc = "[docs_router]: crate::openapi::docs_router"
)]
#![cfg_attr(
    not(feature = "openapi"),
    doc = "[Routes::openapi]: https://docs.rs/axum-users/latest/axum_users/routers/struct.Routes.html#method.openapi"
)]
#![cfg_attr(
    not(feature = "openapi"),
    doc = "[json_router]: https://docs.rs/axum-users/latest/axum_users/openapi/fn.json_router.html"
)]
#![cfg_attr(
    not(feature = "openapi"),
    doc = "[docs_router]: https://docs.rs/axum-users/latest/axum_users/openapi/fn.docs_router.html"
)]
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
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
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
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis;
pub use routers::{AxumUsers, Routes};
pub use user::{
    NoFields, Password, PasswordHash, UpdatedBy, User, UserCreate, UserData, UserFields, UserId,
    UserModel, UserUpdate,
};

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
