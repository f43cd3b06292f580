//! `POST /register`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::request::Parts;

use super::route;
use super::spec::REGISTER_ROUTES;
use crate::error::{ErrorCode, Result};
use crate::extract::UserBody;
use crate::hooks::UserHooks;
use crate::manager::{UserManager, UserOf};
use crate::store::UserStore;
use crate::user::{UserCreate, UserFields, UserModel};

type CreateOf<S> = UserCreate<<<UserOf<S> as UserModel>::Fields as UserFields>::Create>;

pub(super) fn router<S, H, St>(manager: UserManager<S, H>, limit: usize, at: &str) -> Router<St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [register_route] = REGISTER_ROUTES;
    route(Router::new(), at, register_route, register::<S, H>, limit).with_state(manager)
}

async fn register<S: UserStore, H: UserHooks<S::User>>(
    State(manager): State<UserManager<S, H>>,
    parts: Parts,
    UserBody(create): UserBody<CreateOf<S>>,
) -> Result<Response> {
    let user = manager
        .create(create, true, Some(&parts))
        .await
        .map_err(|e| {
            e.in_route(
                ErrorCode::RegisterUserAlreadyExists,
                ErrorCode::RegisterInvalidPassword,
            )
        })?;
    Ok((StatusCode::CREATED, Json(manager.read(&user))).into_response())
}
