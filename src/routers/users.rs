//! `GET|PATCH /me` and `GET|PATCH|DELETE /{id}`.

use crate::email::Email;
use crate::extract::JsonBody;
use crate::session::Session;
use crate::user::Password;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::request::Parts;
use serde::{Deserialize, Serialize};

use super::route;
use super::spec::{ACCOUNT_ROUTES, SESSIONS_ROUTES, USERS_ROUTES};
use super::state::RouterState;
use crate::error::{Error, ErrorCode, Result};
use crate::extract::{IdPath, UserBody};
use crate::hooks::UserHooks;
use crate::manager::{UserManager, UserOf};
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
    let router = route(Router::new(), at, me, get_me::<S, H>, limit);
    let router = route(router, at, patch_me, update_me::<S, H>, limit);
    let router = route(router, at, get_one, get_user::<S, H>, limit);
    let router = route(router, at, patch_one, update_user::<S, H>, limit);
    let router = route(router, at, delete_one, delete_user::<S, H>, limit);
    let [
        my_sessions,
        end_my_other_sessions,
        end_my_session,
        sessions_of,
        end_sessions_of,
    ] = SESSIONS_ROUTES;
    let router = route(router, at, my_sessions, list_my_sessions::<S, H>, limit);
    let router = route(
        router,
        at,
        end_my_other_sessions,
        end_other_sessions::<S, H>,
        limit,
    );
    let router = route(router, at, end_my_session, end_one_session::<S, H>, limit);
    let router = route(router, at, sessions_of, list_user_sessions::<S, H>, limit);
    let router = route(
        router,
        at,
        end_sessions_of,
        end_user_sessions::<S, H>,
        limit,
    );
    let [change_password_route, change_email_route] = ACCOUNT_ROUTES;
    let router = route(
        router,
        at,
        change_password_route,
        change_password::<S, H>,
        limit,
    );
    let router = route(router, at, change_email_route, change_email::<S, H>, limit);
    router.with_state(state)
}

/// Not `Debug`: it holds passwords.
#[derive(Deserialize)]
struct ChangePasswordBody {
    current_password: Password,
    new_password: Password,
}

/// Not `Debug`: it holds a password.
#[derive(Deserialize)]
struct ChangeEmailBody {
    email: Email,
    current_password: Password,
}

async fn change_password<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    SessionCaller(user, current): SessionCaller<UserOf<S>>,
    parts: Parts,
    JsonBody(body): JsonBody<ChangePasswordBody>,
) -> Result<Response> {
    let client = state.proxies.client_ip(&parts);
    state
        .manager
        .change_password(
            user,
            &body.current_password,
            &body.new_password,
            current.as_deref(),
            client,
            Some(&parts),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn change_email<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    parts: Parts,
    JsonBody(body): JsonBody<ChangeEmailBody>,
) -> Result<Response> {
    let client = state.proxies.client_ip(&parts);
    state
        .manager
        .request_email_change(
            &user,
            &body.email,
            &body.current_password,
            client,
            Some(&parts),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::Value::Null)).into_response())
}

/// The caller, active (401) and verified when the router requires it (403).
pub(super) struct Caller<U>(pub(super) U);

/// The caller as [`Caller`], with the session its token belongs to.
struct SessionCaller<U>(U, Option<String>);

impl<S: UserStore, H: Send + Sync + 'static> FromRequestParts<RouterState<S, H>>
    for SessionCaller<UserOf<S>>
{
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &RouterState<S, H>) -> Result<Self> {
        let caller = state.caller(parts, state.requirements(false)).await?;
        Ok(SessionCaller(caller.user, caller.session))
    }
}

/// The caller, an active (401) superuser (403), verified when required (403).
pub(super) struct Admin;

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

fn user_response<S: UserStore, H: UserHooks<S::User>>(
    manager: &UserManager<S, H>,
    user: &UserOf<S>,
) -> Response {
    Json(manager.read(user)).into_response()
}

fn update_error(e: Error) -> Error {
    e.in_route(
        ErrorCode::UpdateUserEmailAlreadyExists,
        ErrorCode::UpdateUserInvalidPassword,
    )
}

async fn get_me<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
) -> Response {
    user_response(&state.manager, &user)
}

async fn update_me<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    parts: Parts,
    UserBody(update): UserBody<UpdateOf<S>>,
) -> Result<Response> {
    let user = state
        .manager
        .update_from(
            user,
            update,
            true,
            state.proxies.client_ip(&parts),
            Some(&parts),
        )
        .await
        .map_err(update_error)?;
    Ok(user_response(&state.manager, &user))
}

async fn get_user<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    IdPath(id): IdPath<IdOf<S>>,
) -> Result<Response> {
    let user = state.manager.get(&id).await?;
    Ok(user_response(&state.manager, &user))
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
    Ok(user_response(&state.manager, &user))
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

/// A session as the sessions routes answer it.
#[derive(Serialize)]
struct SessionRead<'a> {
    id: &'a str,
    backend: &'a str,
    created_at: String,
    last_used_at: String,
    expires_at: String,
    user_agent: Option<&'a str>,
    ip: Option<&'a str>,
    current: bool,
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn sessions_response<Id>(sessions: &[Session<Id>], current: Option<&str>) -> Response {
    let list: Vec<SessionRead<'_>> = sessions
        .iter()
        .map(|session| SessionRead {
            id: &session.id,
            backend: &session.backend,
            created_at: rfc3339(session.created_at),
            last_used_at: rfc3339(session.last_used_at),
            expires_at: rfc3339(session.expires_at),
            user_agent: session.user_agent.as_deref(),
            ip: session.ip.as_deref(),
            current: Some(session.id.as_str()) == current,
        })
        .collect();
    Json(list).into_response()
}

async fn list_my_sessions<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    SessionCaller(user, current): SessionCaller<UserOf<S>>,
) -> Result<Response> {
    let sessions = state.manager.sessions(user.id()).await?;
    Ok(sessions_response(&sessions, current.as_deref()))
}

async fn end_other_sessions<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    SessionCaller(user, current): SessionCaller<UserOf<S>>,
    parts: Parts,
) -> Result<Response> {
    state
        .manager
        .end_other_sessions(user.id(), current.as_deref(), Some(&parts))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn end_one_session<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    session_id: std::result::Result<Path<String>, PathRejection>,
    parts: Parts,
) -> Result<Response> {
    // An id that is not even a path segment (invalid percent-encoding) names
    // no session either.
    let Ok(Path(session_id)) = session_id else {
        return Err(Error::NotFound);
    };
    state
        .manager
        .end_session(user.id(), &session_id, Some(&parts))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_user_sessions<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    IdPath(id): IdPath<IdOf<S>>,
) -> Result<Response> {
    let user = state.manager.get(&id).await?;
    let sessions = state.manager.sessions(user.id()).await?;
    Ok(sessions_response(&sessions, None))
}

async fn end_user_sessions<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    IdPath(id): IdPath<IdOf<S>>,
    parts: Parts,
) -> Result<Response> {
    let user = state.manager.get(&id).await?;
    state
        .manager
        .end_other_sessions(user.id(), None, Some(&parts))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
