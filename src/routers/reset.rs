//! `POST /forgot-password` and `POST /reset-password`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::request::Parts;
use serde::Deserialize;

use super::route;
use super::spec::RESET_ROUTES;
use crate::email::Email;
use crate::error::{ErrorCode, Result};
use crate::extract::JsonBody;
use crate::hooks::UserHooks;
use crate::manager::UserManager;
use crate::store::UserStore;
use crate::user::Password;

/// The body of `/forgot-password` and `/request-verify-token`.
#[derive(Debug, Deserialize)]
pub(super) struct EmailBody {
    pub(super) email: Email,
}

/// Not `Debug`: it holds a token.
#[derive(Deserialize)]
struct ResetBody {
    token: String,
    password: Password,
}

pub(super) fn router<S, H, St>(manager: UserManager<S, H>, limit: usize, at: &str) -> Router<St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [forgot_route, reset_route] = RESET_ROUTES;
    let router = route(
        Router::new(),
        at,
        forgot_route,
        forgot_password::<S, H>,
        limit,
    );
    route(router, at, reset_route, reset_password::<S, H>, limit).with_state(manager)
}

/// JSON `null` with a status, as FastAPI Users answers 202 and the reset's 200.
pub(super) fn null(status: StatusCode) -> Response {
    (status, Json(serde_json::Value::Null)).into_response()
}

async fn forgot_password<S: UserStore, H: UserHooks<S::User>>(
    State(manager): State<UserManager<S, H>>,
    parts: Parts,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response> {
    manager
        .forgot_password(body.email.as_str(), Some(&parts))
        .await?;
    Ok(null(StatusCode::ACCEPTED))
}

async fn reset_password<S: UserStore, H: UserHooks<S::User>>(
    State(manager): State<UserManager<S, H>>,
    parts: Parts,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<Response> {
    manager
        .reset_password(&body.token, &body.password, Some(&parts))
        .await
        .map_err(|e| {
            e.in_route(
                ErrorCode::RegisterUserAlreadyExists,
                ErrorCode::ResetPasswordInvalidPassword,
            )
        })?;
    Ok(null(StatusCode::OK))
}
