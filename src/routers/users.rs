//! `GET|PATCH /me` and `GET|PATCH|DELETE /{id}`.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::request::Parts;

use super::route;
use super::spec::USERS_ROUTES;
use super::state::RouterState;
use crate::error::{Error, ErrorCode, Result};
use crate::extract::{IdPath, UserBody};
use crate::hooks::UserHooks;
use crate::manager::UserOf;
use crate::store::UserStore;
use crate::user::{UserFields, UserModel, UserUpdate};

type UpdateOf<S> = UserUpdate<<<UserOf<S> as UserModel>::Fields as UserFields>::Update>;
type IdOf<S> = <UserOf<S> as UserModel>::Id;

pub(super) fn router<S, H, St>(state: RouterState<S, H>, limit: usize, at: &str) -> Router<St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [me, patch_me, get_one, patch_one, delete_one] = USERS_ROUTES;
    let router = route(Router::new(), at, me, get_me::<S>, limit);
    let router = route(router, at, patch_me, update_me::<S, H>, limit);
    let router = route(router, at, get_one, get_user::<S, H>, limit);
    let router = route(router, at, patch_one, update_user::<S, H>, limit);
    let router = route(router, at, delete_one, delete_user::<S, H>, limit);
    router.with_state(state)
}

/// The caller, active (401) and verified when the router requires it (403).
struct Caller<U>(U);

/// The caller, an active (401) superuser (403), verified when required (403).
struct Admin;

impl<S: UserStore, H: Send + Sync + 'static> FromRequestParts<RouterState<S, H>>
    for Caller<UserOf<S>>
{
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &RouterState<S, H>) -> Result<Self> {
        let caller = state.caller(parts, state.requirements(false)).await?;
        Ok(Caller(caller.user))
    }
}

impl<S: UserStore, H: Send + Sync + 'static> FromRequestParts<RouterState<S, H>> for Admin {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &RouterState<S, H>) -> Result<Self> {
        state.caller(parts, state.requirements(true)).await?;
        Ok(Admin)
    }
}

fn user_response<U: UserModel>(user: &U) -> Response {
    Json(user.read()).into_response()
}

fn update_error(e: Error) -> Error {
    e.in_route(
        ErrorCode::UpdateUserEmailAlreadyExists,
        ErrorCode::UpdateUserInvalidPassword,
    )
}

async fn get_me<S: UserStore>(Caller(user): Caller<UserOf<S>>) -> Response {
    user_response(&user)
}

async fn update_me<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    parts: Parts,
    UserBody(update): UserBody<UpdateOf<S>>,
) -> Result<Response> {
    let user = state
        .manager
        .update(user, update, true, Some(&parts))
        .await
        .map_err(update_error)?;
    Ok(user_response(&user))
}

async fn get_user<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    IdPath(id): IdPath<IdOf<S>>,
) -> Result<Response> {
    let user = state.manager.get(&id).await?;
    Ok(user_response(&user))
}

async fn update_user<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    IdPath(id): IdPath<IdOf<S>>,
    parts: Parts,
    UserBody(update): UserBody<UpdateOf<S>>,
) -> Result<Response> {
    let user = state.manager.get(&id).await?;
    let user = state
        .manager
        .update(user, update, false, Some(&parts))
        .await
        .map_err(update_error)?;
    Ok(user_response(&user))
}

async fn delete_user<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    IdPath(id): IdPath<IdOf<S>>,
    parts: Parts,
) -> Result<Response> {
    let user = state.manager.get(&id).await?;
    state.manager.delete(user, Some(&parts)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
