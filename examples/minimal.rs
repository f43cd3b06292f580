//! The smallest useful application: register, log in with a bearer JWT, read
//! `/users/me`, and one route of the application's own. Users live in memory.
//!
//! ```text
//! cargo run --example minimal      # SECRET and BIND (default 127.0.0.1:8000) optional
//!
//! curl -X POST localhost:8000/auth/register -H 'content-type: application/json' \
//!      -d '{"email": "king.arthur@camelot.bt", "password": "guinevere-1"}'
//! TOKEN=$(curl -s -X POST localhost:8000/auth/jwt/login \
//!      -d 'username=king.arthur@camelot.bt&password=guinevere-1' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//! curl localhost:8000/users/me -H "Authorization: Bearer $TOKEN"
//! ```

use axum::{Router, routing::get};
use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
use axum_users::{AxumUsers, CurrentUser, User, UserManager, store::MemoryStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The secret signs every token: SECRET, at least 32 bytes (64 random
    // characters, say). Without it, a random one made now: tokens die at restart.
    let secret = match std::env::var("SECRET") {
        Ok(secret) => secret,
        Err(_) => {
            eprintln!(
                "SECRET is not set: tokens are signed with a random secret and die at restart"
            );
            axum_users::tokens::random_token(48)?
        }
    };
    let bearer = AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(&secret)?,
    );
    let manager = UserManager::new(MemoryStore::<User>::new());
    let users = AxumUsers::new(manager, vec![bearer.clone()]);

    let app = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer)) // POST /auth/jwt/login, /auth/jwt/logout
        .nest("/auth", users.register_router()) // POST /auth/register
        .nest("/users", users.users_router()) // GET|PATCH /users/me, GET|PATCH|DELETE /users/{id}
        .route("/hello", get(hello))
        .layer(users.layer()); // lets the extractors (`CurrentUser`, …) authenticate

    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{bind}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The application's own route, for logged-in users only (401 otherwise).
async fn hello(CurrentUser(user): CurrentUser<User>) -> String {
    format!("Hello, {}!\n", user.data.email)
}
