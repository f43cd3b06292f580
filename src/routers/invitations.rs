//! `POST|GET /invitations`, `GET|DELETE /invitations/{invitation_id}`
//! (superusers), and `POST /accept-invitation` (anyone with a token).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::request::Parts;
use serde::Deserialize;
use uuid::Uuid;

use super::route;
use super::spec::{ACCEPT_INVITATION_ROUTES, INVITATION_ROUTES};
use super::state::RouterState;
use super::users::Admin;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::extract::{JsonBody, UserBody};
use crate::hooks::UserHooks;
use crate::invitation::{DEFAULT_DAYS, MAX_REMARK_CHARS};
use crate::manager::{AcceptInvitation, UserManager, UserOf};
use crate::store::{InvitationStore, UserStore};
use crate::user::{UserFields, UserModel};

type AcceptOf<S> = AcceptInvitation<<<UserOf<S> as UserModel>::Fields as UserFields>::Create>;

/// The largest page of `GET /invitations`.
pub const MAX_PAGE: u64 = 100;
/// The page of `GET /invitations` without `limit`.
pub const DEFAULT_PAGE: u64 = 50;

pub(super) fn admin_router<S, H, St>(state: RouterState<S, H>, limit: usize, at: &str) -> Router<St>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [invite_route, list_route, get_route, revoke_route] = INVITATION_ROUTES;
    let router = route(Router::new(), at, invite_route, invite::<S, H>, limit);
    let router = route(router, at, list_route, list::<S, H>, limit);
    let router = route(router, at, get_route, get_one::<S, H>, limit);
    let router = route(router, at, revoke_route, revoke::<S, H>, limit);
    router.with_state(state)
}

pub(super) fn accept_router<S, H, St>(
    manager: UserManager<S, H>,
    limit: usize,
    at: &str,
) -> Router<St>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [accept_route] = ACCEPT_INVITATION_ROUTES;
    route(Router::new(), at, accept_route, accept::<S, H>, limit).with_state(manager)
}

/// Not `Debug`-relevant: no secret.
#[derive(Deserialize)]
struct InviteBody {
    email: Email,
    #[serde(default)]
    expires_in_days: Option<i64>,
    #[serde(default)]
    remark: Option<String>,
}

async fn invite<S, H>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    parts: Parts,
    JsonBody(body): JsonBody<InviteBody>,
) -> Result<Response>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
{
    let days = body.expires_in_days.unwrap_or(i64::from(DEFAULT_DAYS));
    let days = u32::try_from(days)
        .ok()
        .filter(|days| (crate::invitation::MIN_DAYS..=crate::invitation::MAX_DAYS).contains(days))
        .ok_or_else(|| {
            Error::validation(
                &["body", "expires_in_days"],
                "expires_in_days must be between 1 and 90",
            )
        })?;
    if body
        .remark
        .as_ref()
        .is_some_and(|remark| remark.chars().count() > MAX_REMARK_CHARS)
    {
        return Err(Error::validation(
            &["body", "remark"],
            format!("remark must have at most {MAX_REMARK_CHARS} characters"),
        ));
    }
    let invitation = state
        .manager
        .invite(&body.email, days, body.remark, Some(&parts))
        .await?;
    Ok((StatusCode::CREATED, Json(invitation)).into_response())
}

/// `offset` (default 0) and `limit` (default 50, 1 to 100) of a page: 422
/// for anything else.
fn page(query: Option<&str>) -> Result<(u64, u64)> {
    let mut offset = 0;
    let mut limit = DEFAULT_PAGE;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "offset" => {
                offset = value.parse::<u64>().map_err(|_| {
                    Error::validation(&["query", "offset"], "offset must be an integer >= 0")
                })?;
            }
            "limit" => {
                limit = value
                    .parse::<u64>()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| {
                        Error::validation(
                            &["query", "limit"],
                            format!("limit must be an integer from 1 to {MAX_PAGE}"),
                        )
                    })?;
            }
            _ => {}
        }
    }
    Ok((offset, limit))
}

async fn list<S, H>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
{
    let (offset, limit) = page(query.as_deref())?;
    let page = state.manager.invitations(offset, limit).await?;
    Ok(Json(page).into_response())
}

/// The `{invitation_id}` of the path: a malformed one names no invitation
/// (404).
type InvitationId = std::result::Result<Path<String>, PathRejection>;

fn invitation_id(id: InvitationId) -> Result<Uuid> {
    match id {
        Ok(Path(id)) => Uuid::parse_str(&id).map_err(|_| Error::NotFound),
        Err(_) => Err(Error::NotFound),
    }
}

async fn get_one<S, H>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    id: InvitationId,
) -> Result<Response>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
{
    let id = invitation_id(id)?;
    let invitation = state.manager.invitation(&id).await?;
    Ok(Json(invitation).into_response())
}

async fn revoke<S, H>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    id: InvitationId,
) -> Result<Response>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
{
    let id = invitation_id(id)?;
    state.manager.revoke_invitation(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn accept<S, H>(
    State(manager): State<UserManager<S, H>>,
    parts: Parts,
    UserBody(accept): UserBody<AcceptOf<S>>,
) -> Result<Response>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
{
    let user = manager.accept_invitation(accept, Some(&parts)).await?;
    Ok((StatusCode::CREATED, Json(manager.read(&user))).into_response())
}
