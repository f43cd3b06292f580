//! `POST /login` and `POST /logout` for one backend.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use http::request::Parts;

use super::route;
use super::spec::AUTH_ROUTES;
use crate::auth::{AuthBackend, Authenticator, Requirements};
use crate::error::{Error, Result};
use crate::extract::LoginForm;
use crate::hooks::UserHooks;
use crate::manager::UserManager;
use crate::store::UserStore;

struct AuthState<S: UserStore, H> {
    manager: UserManager<S, H>,
    backend: AuthBackend<S::User>,
    authenticator: Authenticator<S::User>,
    requires_verification: bool,
}

impl<S: UserStore, H> Clone for AuthState<S, H> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            backend: self.backend.clone(),
            authenticator: self.authenticator.clone(),
            requires_verification: self.requires_verification,
        }
    }
}

pub(super) fn router<S, H, St>(
    manager: UserManager<S, H>,
    backend: AuthBackend<S::User>,
    authenticator: Authenticator<S::User>,
    requires_verification: bool,
    limit: usize,
) -> Router<St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let state = AuthState {
        manager,
        backend,
        authenticator,
        requires_verification,
    };
    let [login_route, logout_route] = AUTH_ROUTES;
    let router = route(Router::new(), login_route, login::<S, H>, limit);
    let router = route(router, logout_route, logout::<S, H>, limit);
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
    let token = state.backend.strategy().write_token(&user).await?;
    let mut response = state.backend.transport().login_response(&token);
    state
        .manager
        .hooks()
        .on_after_login(&user, Some(&parts), Some(&mut response))
        .await?;
    Ok(response)
}

async fn logout<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    parts: Parts,
) -> Result<Response> {
    let requirements = Requirements {
        verified: state.requires_verification,
        superuser: false,
    };
    let Some(authenticated) = state
        .authenticator
        .authenticate(&parts, requirements)
        .await?
    else {
        return Err(Error::Unauthorized);
    };
    // The single backend of this router's authenticator accepted the token, so
    // its transport finds it.
    let token = state
        .backend
        .transport()
        .token(&parts)
        .ok_or(Error::Unauthorized)?;
    state
        .backend
        .strategy()
        .destroy_token(token, &authenticated.user)
        .await?;
    Ok(state.backend.transport().logout_response())
}
