//! `POST /login`, `POST /logout` and `POST /verify-token` for one backend,
//! and `POST /refresh` when its strategy hands out refresh tokens.

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use serde::Deserialize;

use super::route;
use super::spec::{AUTH_ROUTES, REFRESH_ROUTES};
use super::state::{RouterState, refresh_path};
use crate::auth::AuthBackend;
use crate::error::{Error, Result};
use crate::extract::{JsonBody, LoginForm};
use crate::hooks::UserHooks;
use crate::store::UserStore;

/// The auth router's state: its backend beside the shared state, whose
/// authenticator accepts only that backend (a logout ends only its own token,
/// as in FastAPI Users).
type AuthState<S, H> = RouterState<S, H, AuthBackend<<S as UserStore>::User>>;

pub(super) fn router<S, H, St>(state: AuthState<S, H>, limit: usize, at: &str) -> Router<St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [login_route, logout_route, verify_route] = AUTH_ROUTES;
    let router = route(Router::new(), at, login_route, login::<S, H>, limit);
    let router = route(router, at, logout_route, logout::<S, H>, limit);
    let mut router = route(router, at, verify_route, verify_token::<S, H>, limit);
    if state.extra.strategy().refreshes() {
        let [refresh_route] = REFRESH_ROUTES;
        router = route(router, at, refresh_route, refresh::<S, H>, limit);
    }
    let router = super::mfa::auth_routes(router, &state, at, limit);
    router.with_state(state)
}

async fn login<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    parts: Parts,
    form: LoginForm,
) -> Result<Response> {
    let backend = &state.extra;
    // A login that sets a cookie is one another site could make a browser
    // send: login CSRF.
    if backend.transport().sent_by_browser() {
        state.authenticator.csrf().check(&parts)?;
    }
    let client = state.proxies.client_ip(&parts);
    let user = state
        .manager
        .password_login(
            &form.username,
            &form.password,
            state.requires_verification,
            client,
            Some(&parts),
            Some(backend.name()),
        )
        .await?;
    state.log_in(backend, &user, &parts).await
}

async fn logout<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    parts: Parts,
) -> Result<Response> {
    let caller = state.caller(&parts, state.requirements(false)).await?;
    let backend = &state.extra;
    state
        .manager
        .log_out(backend, &caller, Some(&parts))
        .await?;
    let answer = if backend.strategy().refreshes() {
        backend
            .transport()
            .logout_refreshing(refresh_path_of_logout(&parts).as_deref())?
    } else {
        backend.transport().logout()?
    };
    Ok(answer.into_response())
}

/// The refresh route beside a logout route.
fn refresh_path_of_logout(parts: &Parts) -> Option<String> {
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(parts.uri.path(), |uri| uri.0.path());
    path.strip_suffix("/logout")
        .map(|prefix| format!("{prefix}/refresh"))
        .or_else(|| refresh_path(parts))
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn verify_token<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Response> {
    match state.authenticator.verify(&body.token).await? {
        Some(_) => Ok(axum::Json(serde_json::json!({})).into_response()),
        None => Err(Error::Unauthorized),
    }
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    request: Request,
) -> Result<Response> {
    let backend = &state.extra;
    let (parts, body) = request.into_parts();
    if backend.transport().sent_by_browser() {
        state.authenticator.csrf().check(&parts)?;
    }
    // The cookie transport's refresh cookie, else `{"refresh_token"}`.
    let token = match backend.transport().refresh_token(&parts) {
        Some(token) => token.to_owned(),
        None => {
            let request = Request::from_parts(parts.clone(), body);
            let JsonBody(body) = JsonBody::<RefreshBody>::from_request(request, &()).await?;
            body.refresh_token
        }
    };
    let login = state.login_context(backend, &parts);
    let mut tokens = state
        .manager
        .refresh(backend, &token, &login, Some(&parts))
        .await?;
    tokens.refresh_path = refresh_path(&parts);
    Ok(backend.transport().login(&tokens)?.into_response())
}
