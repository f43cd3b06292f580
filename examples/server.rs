//! The full example application: FastAPI Users' routes on SQLite (or in memory),
//! as `CONTRACT.md` describes it.
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
//! | `DATABASE_URL` | `sqlite://axum-users.db` | `sqlite://<path>` (created if missing) or `memory://` |
//! | `SECRET` | a development secret, with a warning | signs every token |
//! | `ADMIN_EMAIL`, `ADMIN_PASSWORD` | unset | a superuser ensured at startup |
//! | `RUST_LOG` | `info` | log filter |

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Json, Router};
use axum_users::auth::{AuthBackend, BearerTransport, CookieTransport, JwtStrategy};
use axum_users::store::{MemoryStore, SqliteStore, UserChanges, UserStore};
use axum_users::{AxumUsers, Email, Password, User, UserData, UserManager, UserModel};
use serde_json::json;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

const DEV_SECRET: &str = "axum-users-development-secret-do-not-use-in-production";

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
    let secret = match std::env::var("SECRET") {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            tracing::warn!(
                "!!! SECRET is not set: tokens are signed with a PUBLIC development secret. \
                 Anyone can forge them. Set SECRET to 64 random characters in production. !!!"
            );
            DEV_SECRET.to_owned()
        }
    };

    if database_url.starts_with("memory:") {
        tracing::info!("store: in memory (nothing survives a restart)");
        run(MemoryStore::<User>::new(), bind, &secret).await
    } else if database_url.starts_with("sqlite:") {
        let store = SqliteStore::<User>::connect(&database_url).await?;
        store.migrate().await?;
        tracing::info!(url = %database_url, "store: SQLite");
        run(store, bind, &secret).await
    } else {
        Err(
            format!("unsupported DATABASE_URL {database_url:?}: use sqlite://<path> or memory://")
                .into(),
        )
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn run<S: UserStore<User = User>>(
    store: S,
    bind: SocketAddr,
    secret: &str,
) -> Result<(), BoxError> {
    let manager = UserManager::new(store);
    ensure_admin(&manager).await?;

    let jwt = JwtStrategy::hs256(secret)?;
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
    let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt);
    let users = AxumUsers::new(manager, vec![bearer.clone(), cookie.clone()]);

    let app = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth/cookie", users.auth_router(&cookie))
        .nest("/auth", users.register_router())
        .nest("/users", users.users_router())
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"detail": "Not Found"}))) })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                Json(json!({"detail": "Method Not Allowed"})),
            )
                .into_response()
        })
        .layer(users.layer())
        .layer(TraceLayer::new_for_http());

    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(%bind, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Makes sure `ADMIN_EMAIL` is an active, verified superuser with `ADMIN_PASSWORD`.
/// The operator chose this password, so the password policy is not applied.
async fn ensure_admin<S: UserStore<User = User>>(manager: &UserManager<S>) -> Result<(), BoxError> {
    let (Ok(email), Ok(password)) = (
        std::env::var("ADMIN_EMAIL"),
        std::env::var("ADMIN_PASSWORD"),
    ) else {
        return Ok(());
    };
    let email = Email::parse(&email)?;
    let hashed_password = manager.hasher().hash(&Password::new(password)).await?;
    match manager.store().get_by_email(email.as_str()).await? {
        Some(admin) => {
            let changes = UserChanges {
                hashed_password: Some(hashed_password),
                is_active: Some(true),
                is_superuser: Some(true),
                is_verified: Some(true),
                ..UserChanges::default()
            };
            let admin = manager.store().update(admin.id(), changes).await?;
            tracing::info!(id = %admin.id(), "admin user updated");
        }
        None => {
            let admin = manager
                .store()
                .create(UserData {
                    email: email.into_string(),
                    hashed_password,
                    is_active: true,
                    is_superuser: true,
                    is_verified: true,
                    fields: Default::default(),
                })
                .await?;
            tracing::info!(id = %admin.id(), "admin user created");
        }
    }
    Ok(())
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
