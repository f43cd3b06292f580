//! Bare axum baseline for the `GET /users/me` load benchmark (`benches/load.sh`).
//!
//! This is the least a server can do to answer `GET /users/me` the way
//! axum-users does: parse `Authorization: Bearer <jwt>`, decode it as an HS256
//! JWT with audience `fastapi-users:auth` (leeway 0, `exp` required), look the
//! `sub` uuid up in an in-memory `HashMap`, and answer the user as JSON
//! (`id`, `email`, `is_active`, `is_superuser`, `is_verified`). Whatever the
//! crate's example server costs beyond this is the library's overhead.
//!
//! It is a `harness = false` bench target, so `cargo build --release --benches`
//! builds it and `cargo bench --bench baseline_server` runs it.
//!
//! Environment:
//!
//! * `BIND` — address to listen on (default `127.0.0.1:18089`);
//! * `SECRET` — the HS256 secret (the same one the example server is given);
//! * `BENCH_USER_ID`, `BENCH_USER_EMAIL` — the one user it knows. Without
//!   `BENCH_USER_ID` a random id is used, and a token valid for one hour is
//!   printed on stdout as `token=<jwt>` so the baseline can be tried alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The audience FastAPI Users puts in (and requires of) its access tokens.
const AUDIENCE: &str = "fastapi-users:auth";

/// One stored user, as `GET /users/me` answers it.
#[derive(Clone, Serialize)]
struct UserRecord {
    id: Uuid,
    email: String,
    is_active: bool,
    is_superuser: bool,
    is_verified: bool,
}

/// The JWT claims read from (and, for the stand-alone token, written to) a token.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: Vec<String>,
    exp: u64,
}

/// What every request shares.
struct AppState {
    users: HashMap<Uuid, UserRecord>,
    key: DecodingKey,
    validation: Validation,
}

/// `GET /users/me`: bearer token → claims → user → JSON.
async fn me(State(state): State<Arc<AppState>>, headers: axum::http::HeaderMap) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return unauthorized();
    };
    let Ok(data) = jsonwebtoken::decode::<Claims>(token, &state.key, &state.validation) else {
        return unauthorized();
    };
    let Ok(id) = Uuid::parse_str(&data.claims.sub) else {
        return unauthorized();
    };
    match state.users.get(&id) {
        Some(user) if user.is_active => Json(user).into_response(),
        _ => unauthorized(),
    }
}

/// The 401 FastAPI Users answers for a missing or bad token.
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(serde_json::json!({ "detail": "Unauthorized" })),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:18089".to_owned());
    let secret = std::env::var("SECRET").unwrap_or_else(|_| "baseline-secret".to_owned());
    let given_id = std::env::var("BENCH_USER_ID").ok();
    let id = match &given_id {
        Some(s) => Uuid::parse_str(s)?,
        None => Uuid::new_v4(),
    };
    let email =
        std::env::var("BENCH_USER_EMAIL").unwrap_or_else(|_| "bench@example.com".to_owned());

    if given_id.is_none() {
        let exp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 3600;
        let claims = Claims {
            sub: id.to_string(),
            aud: vec![AUDIENCE.to_owned()],
            exp,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )?;
        println!("token={token}");
    }

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    validation.leeway = 0;

    let user = UserRecord {
        id,
        email,
        is_active: true,
        is_superuser: false,
        is_verified: false,
    };
    let state = Arc::new(AppState {
        users: HashMap::from([(id, user)]),
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    });

    let app = Router::new().route("/users/me", get(me)).with_state(state);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("baseline listening on {bind}, user {id}");
    axum::serve(listener, app).await?;
    Ok(())
}
