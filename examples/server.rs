//! The full example application: FastAPI Users' routes on SQLite (or in memory),
//! answering as FastAPI Users does (the routes, status codes and `detail` codes
//! of docs/getting-started.md).
//!
//! ```text
//! cargo run --release --example server
//! ```
//!
//! Environment:
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `BIND` | `127.0.0.1:8000` | where to listen |
//! | `DATABASE_URL` | `sqlite://axum-users.db` | `sqlite://<path>` (created if missing), `postgres://…` (schema created at startup) or `memory://` |
//! | `SECRET` | unset: a random secret made at each start, with a warning (tokens die at restart) | signs every token; at least 32 bytes (64 random characters recommended): a shorter one stops the server at start, unless `ALLOW_SHORT_SECRET=1` |
//! | `ALLOW_SHORT_SECRET` | unset | `1`: accept a `SECRET` shorter than 32 bytes, for a deployment migrated from FastAPI Users with such a secret (its tokens stay valid); OAuth providers then cannot be configured |
//! | `ADMIN_EMAIL`, `ADMIN_PASSWORD` | unset | a superuser ensured at startup |
//! | `SMTP_URL` | unset: mails are printed to stdout, with a warning | `smtp://host[:port]`: plain SMTP (no TLS, no auth) for the reset and verification mails |
//! | `MAIL_FROM` | `axum-users <noreply@axum-users.invalid>` | the mails' sender |
//! | `FRONTEND_URL` | unset | when set, mails carry a link `$FRONTEND_URL/reset-password?token=…` or `$FRONTEND_URL/verify?token=…` |
//! | `REDIS_URL` | unset | when set, `/auth/redis`: bearer tokens stored in Redis (revocable); the login throttle and the mail cap then count in Redis, shared by every instance |
//! | `LOGIN_THROTTLE` | `5/300` | `N/S`: after N failed logins for one address within S seconds, that address answers 429 until the window has passed; `off` disables it |
//! | `MAIL_CAP` | `3/3600` | `N/S`: `forgot-password` and `request-verify-token` each send at most N mails per address within S seconds (still 202 past it); `off` disables it |
//! | `USERNAMES` | unset | `1`: usernames on; the user object then has `username`, and the login form takes a username or an address |
//! | `INVITE_ONLY` | unset | `1`: `POST /auth/register` is not mounted and OAuth logins make no new users (400 `OAUTH_REGISTRATION_CLOSED`); accounts come from invitations (`/users/invitations`, `/auth/accept-invitation`, mounted either way) |
//! | `WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGIN` | `localhost`, `http://localhost:8000` | the relying party of passkeys: its ID (a domain) and the origin pages that use them are served from |
//! | `TRUSTED_ORIGINS` | unset | comma-separated origins (`https://app.example.com`) allowed besides the server's own for cookie-authenticated requests |
//! | `RUST_LOG` | `info` | log filter; `tower_http=debug` adds a line per request |
//! | `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET` | unset | when all three are set, OAuth login with that OpenID Connect provider at `/auth/oidc` and `/auth/associate/oidc` |
//! | `OAUTH_REDIRECT_BASE` | `http://$BIND` | the base of the OAuth callback URLs registered at the providers (`<base>/auth/oidc/callback`, `<base>/auth/associate/oidc/callback`, …); never taken from the request |
//! | `OAUTH_<NAME>_CLIENT_ID`, `OAUTH_<NAME>_CLIENT_SECRET` | unset | NAME = `GITHUB`, `GOOGLE`, `MICROSOFT`, `DISCORD`, `GITLAB`: that preset at `/auth/<name>` and `/auth/associate/<name>` |
//! | `OAUTH_MICROSOFT_TENANT` | `common` | the Microsoft tenant |
//! | `OAUTH_GITLAB_URL` | `https://gitlab.com` | the GitLab instance |
//!
//! Routes: `/auth/jwt` (bearer JWT), `/auth/cookie` (cookie `fastapiusersauth`,
//! JWT), `/auth/session` (cookie `fastapiuserssession`, revocable sessions stored
//! in the database), `/auth/token` (bearer JWT access tokens of 15 minutes with
//! rotating refresh tokens, `POST /auth/token/refresh`), `/auth/redis` (with
//! `REDIS_URL`), `/auth/register`, `/auth/forgot-password`,
//! `/auth/reset-password`, `/auth/request-verify-token`, `/auth/verify`, `/users`,
//! multi-factor login (`/users/me/mfa…`, `/users/me/passkeys…`, and on each auth
//! prefix `/login/mfa`, `/passkey/options`, `/passkey/login`: docs/mfa.md),
//! and the OAuth routes of each configured provider (docs/oauth.md). `/demo` is
//! a page that drives them from a browser.
//! `/openapi.json` is the OpenAPI 3.1 document of exactly these routes and
//! `/docs` an interactive UI on it, served with all its assets by this server.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RedisStrategy,
    RefreshStrategy,
};
use axum_users::csrf::CsrfProtection;
use axum_users::http::request::Parts;
use axum_users::mfa::passkey::RelyingParty;
use axum_users::mfa::{Mfa, MfaFactor};
use axum_users::oauth::{OAuthConfig, OAuthProvider, OidcProvider, presets};
use axum_users::openapi;
use axum_users::password::Verified;
use axum_users::store::{
    ChallengeStore, Invitation, InvitationStore, MemoryStore, MfaStore, OAuthAccountStore,
    PostgresStore, RedisSessionStore, SessionStore, SqliteStore, UserChanges, UserStore,
};
use axum_users::throttle::{Limit, LoginThrottle, MailCap, MemoryThrottle, RedisThrottle};
use axum_users::tokens::{MIN_SECRET_BYTES, random_token};
use axum_users::{
    AxumUsers, Email, Error, Password, Routes, User, UserData, UserHooks, UserManager, UserModel,
};
use lettre::message::{Mailbox, SinglePart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

const DEFAULT_MAIL_FROM: &str = "axum-users <noreply@axum-users.invalid>";
/// How long one mail may take to reach the SMTP server (connect, each command).
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let bind: SocketAddr = env_or("BIND", "127.0.0.1:8000").parse()?;
    let database_url = env_or("DATABASE_URL", "sqlite://axum-users.db");
    let secret = match secret_from_env() {
        Ok(secret) => secret,
        Err(message) => {
            tracing::error!("{message}");
            std::process::exit(2);
        }
    };

    let hooks = ExampleHooks::from_env()?;

    if database_url.starts_with("memory:") {
        tracing::info!("store: in memory (nothing survives a restart)");
        run(MemoryStore::<User>::new(), bind, &secret, hooks).await
    } else if database_url.starts_with("sqlite:") {
        let store = SqliteStore::<User>::connect(&database_url).await?;
        store.migrate().await?;
        tracing::info!(url = %database_url, "store: SQLite");
        run(store, bind, &secret, hooks).await
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        let store = PostgresStore::<User>::connect(&database_url).await?;
        // Creates the schema on an empty database; several instances may start
        // at once (the migrator takes a lock).
        store.migrate().await?;
        tracing::info!("store: PostgreSQL");
        run(store, bind, &secret, hooks).await
    } else {
        Err(format!(
            "unsupported DATABASE_URL {database_url:?}: use sqlite://<path>, \
             postgres://… or memory://"
        )
        .into())
    }
}

/// The secret that signs every token, and whether it may be short.
struct Secret {
    value: String,
    allow_short: bool,
}

/// `SECRET`: a random one when unset (said loudly), refused when shorter than
/// 32 bytes unless `ALLOW_SHORT_SECRET=1`.
fn secret_from_env() -> Result<Secret, String> {
    let allow_short = matches!(
        std::env::var("ALLOW_SHORT_SECRET").as_deref(),
        Ok("1" | "true")
    );
    match std::env::var("SECRET") {
        Ok(value) if !value.is_empty() => {
            if value.len() < MIN_SECRET_BYTES {
                if !allow_short {
                    return Err(format!(
                        "SECRET has {} bytes; at least {MIN_SECRET_BYTES} are required (set it to 64 \
                         random characters, e.g. `openssl rand -base64 48`). A deployment migrated \
                         from FastAPI Users with a shorter secret can set ALLOW_SHORT_SECRET=1.",
                        value.len()
                    ));
                }
                tracing::warn!(
                    bytes = value.len(),
                    "SECRET is shorter than {MIN_SECRET_BYTES} bytes (ALLOW_SHORT_SECRET=1): \
                     it can be guessed from any token it signed; replace it soon"
                );
            }
            Ok(Secret { value, allow_short })
        }
        _ => {
            tracing::warn!(
                "SECRET is not set: tokens are signed with a random secret made at this start. \
                 They stop working when the server restarts, and other instances refuse them. \
                 Set SECRET to 64 random characters to keep them."
            );
            let value = random_token(48).map_err(|e| e.to_string())?;
            Ok(Secret {
                value,
                allow_short: false,
            })
        }
    }
}

/// Where the throttle counts: Redis (shared) or this process.
enum Counters {
    Redis(RedisThrottle),
    Memory(MemoryThrottle),
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn run<
    S: OAuthAccountStore<User = User>
        + SessionStore<uuid::Uuid>
        + InvitationStore
        + MfaStore<uuid::Uuid>
        + ChallengeStore
        + Clone,
>(
    store: S,
    bind: SocketAddr,
    secret: &Secret,
    hooks: ExampleHooks,
) -> Result<(), BoxError> {
    // Revocable sessions live beside the users, in the same store.
    let sessions = DatabaseStrategy::new(store.clone());
    let refresh_sessions = store.clone();
    // Login throttling (LOGIN_THROTTLE, 5 failures per 300 s by default) and
    // the cap on mails (3 per address, hour and route), counted in Redis when
    // REDIS_URL is set (shared by every instance), else in this process.
    let redis_url = env_set("REDIS_URL");
    let invite_only = env_set("INVITE_ONLY").is_some_and(|v| v.trim() == "1");
    let counters = match &redis_url {
        Some(url) => Counters::Redis(RedisThrottle::new(RedisSessionStore::connect_lazy(
            url.trim(),
        )?)),
        None => Counters::Memory(MemoryThrottle::new()),
    };
    let per_address = Limit::parse(&env_or("LOGIN_THROTTLE", "5/300"))
        .map_err(|e| format!("LOGIN_THROTTLE: {e}"))?;
    // MAIL_CAP: mails per address, route and window (3/3600 by default).
    let mail_limit =
        Limit::parse(&env_or("MAIL_CAP", "3/3600")).map_err(|e| format!("MAIL_CAP: {e}"))?;
    let (login_throttle, mail_cap) = match counters {
        Counters::Redis(redis) => (
            LoginThrottle::new(redis.clone()).per_address(per_address),
            MailCap::new(redis),
        ),
        Counters::Memory(memory) => (
            LoginThrottle::new(memory.clone()).per_address(per_address),
            MailCap::new(memory),
        ),
    };
    // Multi-factor login: TOTP with recovery codes, and passkeys for the
    // relying party WEBAUTHN_RP_ID at WEBAUTHN_ORIGIN (the browser's origin:
    // a page served from another one cannot use them).
    let relying_party = RelyingParty::new(
        env_or("WEBAUTHN_RP_ID", "localhost").trim(),
        env_or("WEBAUTHN_ORIGIN", "http://localhost:8000").trim(),
    )
    .map_err(|e| format!("WEBAUTHN_RP_ID / WEBAUTHN_ORIGIN: {e}"))?;
    let mfa = Mfa::new(store.clone())
        .issuer("axum-users example")
        .passkeys(relying_party);
    // TOTP secrets are sealed under a key derived from SECRET, which must
    // have 32 bytes for it: a migrated short secret leaves MFA off.
    let mfa_on = secret.value.len() >= MIN_SECRET_BYTES;
    if !mfa_on {
        tracing::warn!(
            "multi-factor login is off: it needs a SECRET of at least {MIN_SECRET_BYTES} bytes"
        );
    }
    let mut manager = UserManager::builder(store)
        .hooks(hooks)
        .token_secret(&secret.value)
        .allow_short_secrets(secret.allow_short)
        .login_throttle(login_throttle)
        // USERNAMES=1: users may have a username, and log in with it.
        .usernames(env_set("USERNAMES").is_some_and(|v| v.trim() == "1"))
        .invite_only(invite_only);
    if let Some(limit) = mail_limit {
        manager = manager.mail_cap(mail_cap.limit(limit));
    }
    if mfa_on {
        manager = manager.mfa(mfa);
    }
    let manager = manager.try_build()?;
    ensure_admin(&manager).await?;
    // What a failed login costs, measured on the hashes the store holds (a
    // database taken over from FastAPI Users keeps bcrypt and 64 MiB argon2
    // hashes): now, so that the first login does not wait for it.
    manager.calibrate_login_timing().await?;

    let jwt = match secret.allow_short {
        true => JwtStrategy::hs256_allow_short(&secret.value)?,
        false => JwtStrategy::hs256(&secret.value)?,
    };
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
    let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt);
    let session = AuthBackend::new(
        "session",
        CookieTransport::new().name("fastapiuserssession"),
        sessions,
    );
    // Short-lived access tokens (15 minutes) with rotating refresh tokens
    // (30 days at most, 7 days without a refresh), sessions in the store.
    let access = match secret.allow_short {
        true => JwtStrategy::hs256_allow_short(&secret.value)?,
        false => JwtStrategy::hs256(&secret.value)?,
    }
    .lifetime(Duration::from_secs(15 * 60));
    let token = AuthBackend::new(
        "token",
        BearerTransport::new("auth/token/login"),
        RefreshStrategy::new(access, refresh_sessions)
            .absolute_lifetime(Duration::from_secs(30 * 24 * 3600))
            .idle_lifetime(Duration::from_secs(7 * 24 * 3600)),
    );
    let mut backends = vec![
        bearer.clone(),
        cookie.clone(),
        session.clone(),
        token.clone(),
    ];
    // Redis sessions when REDIS_URL is set. The server starts even while Redis
    // is down: requests that need it answer 503 until it is back.
    let redis = match redis_url {
        Some(url) => {
            let strategy = RedisStrategy::connect_lazy(url.trim())?;
            tracing::info!("sessions: Redis at /auth/redis");
            let backend =
                AuthBackend::new("redis", BearerTransport::new("auth/redis/login"), strategy);
            backends.push(backend.clone());
            Some(backend)
        }
        None => None,
    };
    // Cookie requests from other sites are refused; TRUSTED_ORIGINS adds
    // origins besides the server's own, which is `http://<Host>` (this server
    // speaks plain HTTP: an `https` Origin is another site's).
    let csrf = CsrfProtection::new()
        .scheme("http")
        .trusted_origins_list(&env_or("TRUSTED_ORIGINS", ""))
        .map_err(|e| format!("TRUSTED_ORIGINS: {e}"))?;
    let users = AxumUsers::new(manager, backends).csrf(csrf);

    // Every router is mounted through `Routes`, which records what it mounts
    // where: the OpenAPI document is generated from the same configuration.
    let mut routes = users
        .routes()
        .auth("/auth/jwt", &bearer)
        .auth("/auth/cookie", &cookie)
        .auth("/auth/session", &session)
        .auth("/auth/token", &token);
    if let Some(redis) = &redis {
        routes = routes.auth("/auth/redis", redis);
    }
    // INVITE_ONLY=1: no register route; accounts come from invitations
    // (mounted either way) and OAuth makes no new ones.
    if !invite_only {
        routes = routes.register("/auth");
    }
    let routes = routes
        .reset_password("/auth")
        .verify("/auth")
        .users("/users")
        .invitations("/users", "/auth");
    let routes = match mfa_on {
        true => routes.mfa("/users"),
        false => routes,
    };
    let routes = oauth_routes(routes, &bearer, &secret.value, bind).await?;
    let document = routes.openapi(
        &openapi::Info::new("axum-users example server", env!("CARGO_PKG_VERSION"))
            .description("FastAPI Users' routes, served by axum-users."),
    );

    let app = routes
        .into_router()
        .merge(openapi::json_router("/openapi.json", &document))
        .merge(openapi::docs_router("/openapi.json"))
        // The demo page (examples/demo.html): one page, no external assets,
        // that drives the routes above from a browser.
        .route("/demo", axum::routing::get(demo_page))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"detail": "Not Found"}))) })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                Json(json!({"detail": "Method Not Allowed"})),
            )
                .into_response()
        })
        .layer(users.layer());
    // A log line per request (method, path, status, latency) only when asked
    // for, with RUST_LOG=tower_http=debug: the layer costs about 5% of the
    // throughput of GET /users/me even when its events are filtered out. The
    // library logs every 5xx itself.
    let app = if tracing::enabled!(target: "tower_http::trace::on_response", tracing::Level::DEBUG)
    {
        app.layer(TraceLayer::new_for_http())
    } else {
        app
    };

    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(%bind, "listening");
    // The peer address of each connection is what sessions record as the
    // client's (no proxy is trusted here).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// `GET /demo`: the demo page, with a policy that lets it run only its own
/// inline script and talk only to this server.
async fn demo_page() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; form-action 'self'; \
             base-uri 'none'; frame-ancestors 'none'",
        )],
        axum::response::Html(include_str!("demo.html")),
    )
}

fn env_set(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The OAuth routes of every provider the environment configures: the OpenID
/// Connect provider `oidc` and the presets. Logins get a bearer JWT.
async fn oauth_routes<S, H>(
    mut routes: Routes<S, H>,
    bearer: &AuthBackend<User>,
    secret: &str,
    bind: SocketAddr,
) -> Result<Routes<S, H>, BoxError>
where
    S: OAuthAccountStore<User = User>,
    H: UserHooks<User>,
{
    // The callback URLs come from configuration, never from the request's Host.
    let base = env_set("OAUTH_REDIRECT_BASE").unwrap_or_else(|| format!("http://{bind}"));
    let base = base.trim_end_matches('/').to_owned();

    if let (Some(issuer), Some(id), Some(client_secret)) = (
        env_set("OIDC_ISSUER_URL"),
        env_set("OIDC_CLIENT_ID"),
        env_set("OIDC_CLIENT_SECRET"),
    ) {
        // Discovery at startup tells a misconfiguration at once; a provider
        // that is not up yet is discovered at the first login instead.
        let oidc = match OidcProvider::discover("oidc", &issuer, &id, &client_secret).await {
            Ok(oidc) => oidc,
            Err(e) => {
                tracing::warn!(error = %e, "OpenID Connect discovery failed; retried at the first login");
                OidcProvider::new("oidc", &issuer, &id, &client_secret)?
            }
        };
        tracing::info!(%issuer, "OAuth: OpenID Connect at /auth/oidc");
        routes = provider_routes(routes, bearer, secret, &base, oidc)?;
    }
    let preset = |name: &str| {
        let upper = name.to_ascii_uppercase();
        match (
            env_set(&format!("OAUTH_{upper}_CLIENT_ID")),
            env_set(&format!("OAUTH_{upper}_CLIENT_SECRET")),
        ) {
            (Some(id), Some(secret)) => Some((id, secret)),
            _ => None,
        }
    };
    if let Some((id, client_secret)) = preset("github") {
        routes = provider_routes(
            routes,
            bearer,
            secret,
            &base,
            presets::github(id, client_secret)?,
        )?;
    }
    if let Some((id, client_secret)) = preset("google") {
        routes = provider_routes(
            routes,
            bearer,
            secret,
            &base,
            presets::google(id, client_secret)?,
        )?;
    }
    if let Some((id, client_secret)) = preset("microsoft") {
        let tenant = env_set("OAUTH_MICROSOFT_TENANT")
            .unwrap_or_else(|| presets::MICROSOFT_COMMON_TENANT.to_owned());
        routes = provider_routes(
            routes,
            bearer,
            secret,
            &base,
            presets::microsoft(id, client_secret, &tenant)?,
        )?;
    }
    if let Some((id, client_secret)) = preset("discord") {
        routes = provider_routes(
            routes,
            bearer,
            secret,
            &base,
            presets::discord(id, client_secret)?,
        )?;
    }
    if let Some((id, client_secret)) = preset("gitlab") {
        let url = env_set("OAUTH_GITLAB_URL").unwrap_or_else(|| presets::GITLAB_URL.to_owned());
        routes = provider_routes(
            routes,
            bearer,
            secret,
            &base,
            presets::gitlab(id, client_secret, &url)?,
        )?;
    }
    Ok(routes)
}

/// `/auth/<name>/{authorize,callback}` (login) and
/// `/auth/associate/<name>/{authorize,callback}` for one provider.
fn provider_routes<S, H, P>(
    routes: Routes<S, H>,
    bearer: &AuthBackend<User>,
    secret: &str,
    base: &str,
    provider: P,
) -> Result<Routes<S, H>, BoxError>
where
    S: OAuthAccountStore<User = User>,
    H: UserHooks<User>,
    P: OAuthProvider + Clone,
{
    let name = provider.name().to_owned();
    let login = OAuthConfig::new(
        provider.clone(),
        secret,
        format!("{base}/auth/{name}/callback"),
    )?;
    let associate = OAuthConfig::new(
        provider,
        secret,
        format!("{base}/auth/associate/{name}/callback"),
    )?;
    tracing::info!(provider = %name, callback = %login.redirect_uri(), "OAuth provider enabled");
    Ok(routes
        .oauth(&format!("/auth/{name}"), &login, bearer)
        .oauth_associate(&format!("/auth/associate/{name}"), &associate))
}

/// Makes sure `ADMIN_EMAIL` is an active, verified superuser with `ADMIN_PASSWORD`.
/// The operator chose this password, so the password policy is not applied.
async fn ensure_admin<S: UserStore<User = User>, H: UserHooks<User>>(
    manager: &UserManager<S, H>,
) -> Result<(), BoxError> {
    let (Ok(email), Ok(password)) = (
        std::env::var("ADMIN_EMAIL"),
        std::env::var("ADMIN_PASSWORD"),
    ) else {
        return Ok(());
    };
    let email = Email::parse(&email)?;
    let password = Password::new(password);
    match manager.store().get_by_email(email.as_str()).await? {
        Some(admin) => {
            // A new hash only for a new password: writing one ends the
            // admin's sessions.
            let known = manager
                .hasher()
                .verify(&password, &admin.data.hashed_password)
                .await?;
            let (hashed_password, hash_upgrade) = match known {
                Verified::Yes => (None, false),
                Verified::YesRehashed(upgraded) => (Some(upgraded), true),
                _ => (Some(manager.hasher().hash(&password).await?), false),
            };
            let changes = UserChanges {
                hashed_password,
                hash_upgrade,
                is_active: Some(true),
                is_superuser: Some(true),
                is_verified: Some(true),
                ..UserChanges::default()
            };
            let admin = manager.store().update(admin.id(), changes).await?;
            tracing::info!(id = %admin.id(), "admin user updated");
        }
        None => {
            let hashed_password = manager.hasher().hash(&password).await?;
            let mut data = UserData::new(email.into_string(), hashed_password, Default::default());
            data.is_superuser = true;
            data.is_verified = true;
            let admin = manager.store().create(data).await?;
            tracing::info!(id = %admin.id(), "admin user created");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Mail: the reset and verification tokens reach the user through these hooks.
// `forgot_password` and `request_verify` run them in a task of their own, so a
// slow or failing mail server neither delays nor fails the request: an error
// returned here is logged by the manager as `user hook failed`.

/// Where the mails go.
enum Mailer {
    /// Plain SMTP (no TLS, no auth): one connection and one transaction per mail
    /// (no pool). lettre asks for `SMTPUTF8` when an address is not ASCII.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development only: prints every mail, token included, to stdout.
    Console,
}

/// The example's hooks: send the reset and verification tokens by mail.
struct ExampleHooks {
    mailer: Mailer,
    from: Mailbox,
    /// `FRONTEND_URL` without its trailing slashes.
    frontend_url: Option<String>,
}

impl ExampleHooks {
    /// `SMTP_URL`, `MAIL_FROM` and `FRONTEND_URL`.
    fn from_env() -> Result<Self, BoxError> {
        let from_text = env_or("MAIL_FROM", DEFAULT_MAIL_FROM);
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| format!("MAIL_FROM {from_text:?} is not an address: {e}"))?;
        let frontend_url = std::env::var("FRONTEND_URL")
            .ok()
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        let mailer = match std::env::var("SMTP_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let (host, port) = parse_smtp_url(url.trim())?;
                tracing::info!(%host, port, "mail: plain SMTP (no TLS, no auth)");
                Mailer::Smtp(
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                        .port(port)
                        .timeout(Some(SMTP_TIMEOUT))
                        .build(),
                )
            }
            _ => {
                tracing::warn!(
                    "!!! SMTP_URL is not set: mails are PRINTED TO STDOUT, password-reset and \
                     verification TOKENS INCLUDED. Development only: anyone who reads this \
                     output can take over accounts. Set SMTP_URL=smtp://host:port to send them. !!!"
                );
                Mailer::Console
            }
        };
        Ok(ExampleHooks {
            mailer,
            from,
            frontend_url,
        })
    }

    /// The mail's text: an optional link, and the token on a line of its own,
    /// valid for one hour.
    fn body(&self, intro: &str, page: &str, token: &str) -> String {
        self.body_valid(intro, page, token, "one hour")
    }

    /// [`body`](Self::body) for a token valid for `validity`.
    fn body_valid(&self, intro: &str, page: &str, token: &str, validity: &str) -> String {
        let mut body = format!("Hello,\n\n{intro}\n\n");
        if let Some(frontend) = &self.frontend_url {
            let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
            body.push_str(&format!(
                "Open this link:\n{frontend}/{page}?token={token}\n\n"
            ));
        }
        body.push_str(&format!(
            "Your token:\n\ntoken: {token}\n\n\
             It is valid for {validity}. If you did not ask for it, ignore this mail.\n"
        ));
        body
    }

    /// One mail to `to` (the user's stored address): a single `text/plain` part,
    /// sent (or printed) as [`wire_format`] gives it.
    async fn send(&self, to: &str, subject: &str, text: String) -> axum_users::Result<()> {
        let address: Address = to
            .parse()
            .map_err(|e| Error::internal(format!("mailing {to:?}"), e))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, address))
            .subject(subject)
            .singlepart(SinglePart::plain(text.clone()))
            .map_err(|e| Error::internal("building the mail", e))?;
        let raw = wire_format(&message, &text);
        match &self.mailer {
            Mailer::Smtp(transport) => {
                // lettre adds SMTPUTF8 to MAIL FROM when an envelope address is not
                // ASCII, and BODY=8BITMIME when the message is not.
                transport
                    .send_raw(message.envelope(), &raw)
                    .await
                    .map_err(|e| Error::internal("SMTP", e))?;
            }
            Mailer::Console => {
                let text = String::from_utf8_lossy(&raw).replace("\r\n", "\n");
                let mut stdout = std::io::stdout().lock();
                writeln!(
                    stdout,
                    "----- mail (development mailer, NOT sent: set SMTP_URL) -----\n\
                     {text}\
                     ----- end of mail -----"
                )
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::internal("writing to stdout", e))?;
            }
        }
        Ok(())
    }
}

/// The mail as it goes on the wire: lettre's headers (From, To, Subject, Date,
/// MIME-Version) and the text unencoded, `7bit` (`8bit` when it is not ASCII), so
/// that the token line arrives as it is, for people who read a raw mail too.
/// lettre would pick quoted-printable for any line of 76 characters or more, and
/// a token line is longer; SMTP allows 998 octets a line. A text with a longer
/// line goes as lettre encodes it.
fn wire_format(message: &Message, text: &str) -> Vec<u8> {
    let body = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if body
        .split("\r\n")
        .any(|line| line.len() > 998 || line.contains('\r'))
    {
        return message.formatted();
    }
    let encoding = if body.is_ascii() { "7bit" } else { "8bit" };
    let mut raw = message.headers().to_string();
    raw.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    raw.push_str(&format!("Content-Transfer-Encoding: {encoding}\r\n\r\n"));
    raw.push_str(&body);
    if !raw.ends_with("\r\n") {
        raw.push_str("\r\n");
    }
    raw.into_bytes()
}

#[axum_users::async_trait]
impl UserHooks<User> for ExampleHooks {
    async fn on_after_forgot_password(
        &self,
        user: &User,
        token: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let body = self.body(
            "Someone asked to reset the password of your account. \
             Choose a new one with the token below.",
            "reset-password",
            token,
        );
        self.send(user.email(), "Reset your password", body).await
    }

    async fn on_after_request_verify(
        &self,
        user: &User,
        token: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let body = self.body(
            "Please confirm that this address is yours with the token below.",
            "verify",
            token,
        );
        self.send(user.email(), "Verify your e-mail address", body)
            .await
    }

    async fn on_after_request_email_change(
        &self,
        user: &User,
        new_email: &str,
        token: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let body = self.body(
            "Someone asked to make this the address of their account. \
             Confirm with the token below.",
            "confirm-email-change",
            token,
        );
        self.send(new_email, "Confirm your new e-mail address", body)
            .await?;
        // A notice to the current address, without the token.
        let notice = format!(
            "Hello,\n\nSomeone asked to change the address of your account to {new_email}. \
             Nothing changes until the new address confirms. If it was not you, change \
             your password now.\n"
        );
        self.send(
            user.email(),
            "Your e-mail address is about to change",
            notice,
        )
        .await
    }

    async fn on_after_invite(
        &self,
        invitation: &Invitation,
        token: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let days = (invitation.expires_at - invitation.created_at).num_days();
        let validity = match days {
            1 => "one day".to_owned(),
            days => format!("{days} days"),
        };
        let body = self.body_valid(
            "You are invited to create an account with this address. \
             Choose a password with the token below.",
            "accept-invitation",
            token,
            &validity,
        );
        self.send(&invitation.email, "You are invited", body).await
    }

    async fn on_email_changed(
        &self,
        user: &User,
        old_email: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        // The old address hears of it once more, now that it is done.
        let notice = format!(
            "Hello,\n\nThe address of your account was changed to {}. This address no \
             longer logs in. If it was not you, contact us now.\n",
            user.email()
        );
        self.send(old_email, "Your e-mail address was changed", notice)
            .await
    }

    async fn on_password_changed(
        &self,
        user: &User,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let notice = "Hello,\n\nThe password of your account was changed. If it was not \
                      you, reset it now and check your sessions.\n"
            .to_owned();
        self.send(user.email(), "Your password was changed", notice)
            .await
    }

    async fn on_after_mfa_enabled(
        &self,
        user: &User,
        factor: MfaFactor,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let (subject, what) = match factor {
            MfaFactor::Passkey => ("A passkey was added", "A passkey was added to"),
            _ => (
                "Two-factor login is on",
                "Two-factor login (an authenticator app) was turned on for",
            ),
        };
        let notice = format!(
            "Hello,\n\n{what} your account. If it was not you, reset your password now and \
             check your sessions.\n"
        );
        self.send(user.email(), subject, notice).await
    }

    async fn on_after_mfa_disabled(
        &self,
        user: &User,
        factor: MfaFactor,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let (subject, what) = match factor {
            MfaFactor::Passkey => ("A passkey was removed", "A passkey was removed from"),
            MfaFactor::All => (
                "Two-factor login was reset",
                "An administrator removed every second factor (authenticator app, recovery \
                 codes, passkeys) of",
            ),
            _ => (
                "Two-factor login is off",
                "Two-factor login (an authenticator app) was turned off for",
            ),
        };
        let notice = format!(
            "Hello,\n\n{what} your account. If it was not you, reset your password now and \
             check your sessions.\n"
        );
        self.send(user.email(), subject, notice).await
    }
}

/// `smtp://host[:port]` (port 25 by default; `[v6]` literals allowed) to its
/// host and port. Nothing else: no TLS, no credentials.
fn parse_smtp_url(url: &str) -> Result<(String, u16), BoxError> {
    let bad = || -> BoxError {
        format!(
            "unsupported SMTP_URL {url:?}: use smtp://host:port \
             (plain SMTP: no TLS, no credentials, no path)"
        )
        .into()
    };
    let rest = url.strip_prefix("smtp://").ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['@', '/', '?', '#']) {
        return Err(bad());
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (host, None),
                after => (host, Some(after.strip_prefix(':').ok_or_else(bad)?)),
            }
        }
        None => match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    let port = match port {
        None => 25,
        Some(port) => port.parse().map_err(|_| bad())?,
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
