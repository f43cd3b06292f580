//! An application with its own user model and its own store: integer ids, and
//! a profile (`display_name`, required at registration, an optional `locale`,
//! and a `role` that only superusers may set) that flows through register,
//! `/users/me` and PATCH.
//!
//! - `user.rs`: the user type `AppUser` and its fields `Profile`;
//! - `store.rs`: `AppStore`, the application's `UserStore`, which
//!   `tests/it/custom_user_store.rs` checks with the crate's store test suite;
//! - here: the wiring, and one route of the application's own.
//!
//! ```text
//! cargo run --example custom_user      # SECRET and BIND (default 127.0.0.1:8000) optional
//!
//! curl -X POST localhost:8000/auth/register -H 'content-type: application/json' \
//!      -d '{"email": "king.arthur@camelot.bt", "password": "guinevere-1", "display_name": "Arthur"}'
//! TOKEN=$(curl -s -X POST localhost:8000/auth/jwt/login \
//!      -d 'username=king.arthur@camelot.bt&password=guinevere-1' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//! curl localhost:8000/users/me -H "Authorization: Bearer $TOKEN"
//! curl -X PATCH localhost:8000/users/me -H "Authorization: Bearer $TOKEN" \
//!      -H 'content-type: application/json' -d '{"display_name": "King Arthur", "locale": "fr-FR"}'
//! curl localhost:8000/greeting -H "Authorization: Bearer $TOKEN"
//! ```

mod store;
mod user;

use axum::{Router, routing::get};
use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
use axum_users::{AxumUsers, CurrentUser, UserManager};

use crate::store::AppStore;
use crate::user::AppUser;

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
    // The backend's user type is inferred from `users` below: `AuthBackend<AppUser>`.
    let bearer = AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(&secret)?,
    );
    // The manager takes its user type, `AppUser`, from the store.
    let users = AxumUsers::new(UserManager::new(AppStore::new()), vec![bearer.clone()]);

    let app = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer)) // POST /auth/jwt/login, /auth/jwt/logout
        .nest("/auth", users.register_router()) // POST /auth/register, with the profile
        .nest("/users", users.users_router()) // GET|PATCH /users/me, GET|PATCH|DELETE /users/{id}
        .route("/greeting", get(greeting))
        .layer(users.layer()); // lets `CurrentUser<AppUser>` authenticate

    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{bind}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The application's own route: the logged-in user arrives as an `AppUser`,
/// profile included (401 without a valid token).
async fn greeting(CurrentUser(user): CurrentUser<AppUser>) -> String {
    user.greeting() + "\n"
}
