//! `POST /login` and `POST /logout` for one backend.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::route;
use super::spec::AUTH_ROUTES;
use super::state::RouterState;
use crate::auth::AuthBackend;
use crate::error::Result;
use crate::extract::LoginForm;
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
    let [login_route, logout_route] = AUTH_ROUTES;
    let router = route(Router::new(), at, login_route, login::<S, H>, limit);
    let router = route(router, at, logout_route, logout::<S, H>, limit);
    router.with_state(state)
}

async fn login<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    parts: Parts,
    form: LoginForm,
) -> Result<Response> {
    let user = state
        .manager
        .login(&form.username, &form.password, state.requires_verification)
        .await?;
    state.log_in(&state.extra, &user, &parts).await
}

async fn logout<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    parts: Parts,
) -> Result<Response> {
    let caller = state.caller(&parts, state.requirements(false)).await?;
    let backend = &state.extra;
    backend
        .strategy()
        .destroy_token(&caller.token, &caller.user)
        .await?;
    Ok(backend.transport().logout()?.into_response())
}
