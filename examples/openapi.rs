//! The OpenAPI document and Swagger UI of an app with every router (feature
//! `openapi`): integer ids, an application field (`display_name`), a bearer
//! and two cookie backends.
//!
//! ```text
//! cargo run --example openapi             # serves http://127.0.0.1:8000/docs
//! cargo run --example openapi -- --print  # prints the document
//! ```
//!
//! `BIND` sets the address (default `127.0.0.1:8000`).

use axum::Router;
use axum_users::auth::{AuthBackend, BearerTransport, CookieTransport, JwtStrategy};
use axum_users::openapi::{self, Info};
use axum_users::store::MemoryStore;
use axum_users::{AxumUsers, UpdatedBy, User, UserFields, UserManager};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The application's own field on a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Profile {
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ProfileUpdate {
    display_name: Option<String>,
}

impl UserFields for Profile {
    type Create = Profile;
    type Update = ProfileUpdate;
    fn create(input: Profile) -> Self {
        input
    }
    fn update(&mut self, update: ProfileUpdate, _by: UpdatedBy) {
        if let Some(name) = update.display_name {
            self.display_name = Some(name);
        }
    }
    fn read_schema() -> serde_json::Value {
        json!({
            "type": "object",
            "required": ["display_name"],
            "properties": {"display_name": {"type": ["string", "null"]}},
            "additionalProperties": false,
        })
    }
    fn create_schema() -> serde_json::Value {
        json!({"type": "object", "properties": {"display_name": {"type": ["string", "null"]}}})
    }
    fn update_schema() -> serde_json::Value {
        json!({"type": "object", "properties": {"display_name": {"type": ["string", "null"]}}})
    }
}

type AppUser = User<Profile, i64>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SECRET")
        .unwrap_or_else(|_| "openapi-example-secret-not-for-production".to_owned());
    let jwt = JwtStrategy::hs256(&secret)?;
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
    let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt.clone());
    let session = AuthBackend::new(
        "session",
        CookieTransport::new().name("fastapiuserssession"),
        jwt,
    );
    let manager = UserManager::builder(MemoryStore::<AppUser>::new())
        .token_secret(&secret)
        .build();
    let users = AxumUsers::new(
        manager,
        vec![bearer.clone(), cookie.clone(), session.clone()],
    );

    let api = users
        .routes()
        .auth("/auth/jwt", &bearer)
        .auth("/auth/cookie", &cookie)
        .auth("/auth/session", &session)
        .register("/auth")
        .reset_password("/auth")
        .verify("/auth")
        .users("/users");
    let document = api.openapi(
        &Info::new("axum-users example", env!("CARGO_PKG_VERSION"))
            .description("Every router of axum-users, with an application field."),
    );
    if std::env::args().any(|arg| arg == "--print") {
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(());
    }

    let app: Router = api
        .into_router()
        .merge(openapi::json_router("/openapi.json", &document))
        .merge(openapi::docs_router("/openapi.json"))
        .layer(users.layer());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("Swagger UI at http://{}/docs", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
