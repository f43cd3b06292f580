//! `POST /request-verify-token`, `POST /verify`, and `POST
//! /confirm-email-change` (the confirmation of a new address).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::request::Parts;
use serde::Deserialize;

use super::reset::{EmailBody, null};
use super::route;
use super::spec::{EMAIL_CHANGE_ROUTES, VERIFY_ROUTES};
use crate::error::Result;
use crate::extract::JsonBody;
use crate::hooks::UserHooks;
use crate::manager::UserManager;
use crate::store::UserStore;

/// Not `Debug`: it holds a token.
#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

pub(super) fn router<S, H, St>(manager: UserManager<S, H>, limit: usize, at: &str) -> Router<St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [request_route, verify_route] = VERIFY_ROUTES;
    let router = route(
        Router::new(),
        at,
        request_route,
        request_verify_token::<S, H>,
        limit,
    );
    let router = route(router, at, verify_route, verify::<S, H>, limit);
    let [confirm_route] = EMAIL_CHANGE_ROUTES;
    route(
        router,
        at,
        confirm_route,
        confirm_email_change::<S, H>,
        limit,
    )
    .with_state(manager)
}

async fn confirm_email_change<S: UserStore, H: UserHooks<S::User>>(
    State(manager): State<UserManager<S, H>>,
    parts: Parts,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Response> {
    let user = manager
        .confirm_email_change(&body.token, Some(&parts))
        .await?;
    Ok(Json(manager.read(&user)).into_response())
}

async fn request_verify_token<S: UserStore, H: UserHooks<S::User>>(
    State(manager): State<UserManager<S, H>>,
    parts: Parts,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response> {
    manager
        .request_verify(body.email.as_str(), Some(&parts))
        .await?;
    Ok(null(StatusCode::ACCEPTED))
}

async fn verify<S: UserStore, H: UserHooks<S::User>>(
    State(manager): State<UserManager<S, H>>,
    parts: Parts,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Response> {
    let user = manager.verify(&body.token, Some(&parts)).await?;
    Ok(Json(manager.read(&user)).into_response())
}
