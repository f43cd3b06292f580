//! What the routers' handlers share, and the two steps they would otherwise
//! each write again: who is calling, and answering a login.

use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::auth::{AuthBackend, Authenticated, Authenticator, Requirements};
use crate::error::Result;
use crate::hooks::UserHooks;
use crate::manager::{UserManager, UserOf};
use crate::store::UserStore;

/// The state of a router: the manager, the authenticator of its protected
/// routes (the auth router's accepts only its own backend), whether they
/// require a verified user, and what the router needs besides (`extra`: the
/// auth router's backend, the OAuth routers' configuration).
pub(crate) struct RouterState<S: UserStore, H, E = ()> {
    pub(crate) manager: UserManager<S, H>,
    pub(crate) authenticator: Authenticator<S::User>,
    pub(crate) requires_verification: bool,
    pub(crate) extra: E,
}

impl<S: UserStore, H, E: Clone> Clone for RouterState<S, H, E> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            authenticator: self.authenticator.clone(),
            requires_verification: self.requires_verification,
            extra: self.extra.clone(),
        }
    }
}

impl<S: UserStore, H> RouterState<S, H> {
    /// The same state with `extra` beside it (a router's own needs).
    pub(crate) fn with<E>(self, extra: E) -> RouterState<S, H, E> {
        RouterState {
            manager: self.manager,
            authenticator: self.authenticator,
            requires_verification: self.requires_verification,
            extra,
        }
    }
}

impl<S: UserStore, H, E> RouterState<S, H, E> {
    /// What a protected route of this router requires: an active user,
    /// verified when the router says so, a superuser when `superuser`.
    pub(crate) fn requirements(&self, superuser: bool) -> Requirements {
        Requirements {
            verified: self.requires_verification,
            superuser,
        }
    }

    /// The caller of a protected route: 401 or 403 before anything else.
    pub(crate) async fn caller(
        &self,
        parts: &Parts,
        requirements: Requirements,
    ) -> Result<Authenticated<S::User>> {
        self.authenticator.require(parts, requirements).await
    }
}

impl<S: UserStore, H: UserHooks<S::User>, E> RouterState<S, H, E> {
    /// The answer to a login of `user` through `backend`, by password or by a
    /// provider: the login rule ([`UserManager::may_log_in`]), a new token,
    /// the transport's answer, then `on_after_login`, which may amend it.
    pub(crate) async fn log_in(
        &self,
        backend: &AuthBackend<S::User>,
        user: &UserOf<S>,
        parts: &Parts,
    ) -> Result<Response> {
        UserManager::<S, H>::may_log_in(user, self.requires_verification)?;
        let token = backend.strategy().write_token(user).await?;
        let mut response = backend.transport().login(&token)?.into_response();
        self.manager
            .hooks()
            .on_after_login(user, Some(parts), Some(&mut response))
            .await?;
        Ok(response)
    }
}
