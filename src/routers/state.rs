//! What the routers' handlers share, and the two steps they would otherwise
//! each write again: who is calling, and answering a login.

use std::ops::Deref;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::auth::{AuthBackend, Authenticated, Authenticator, Requirements};
use crate::client::TrustedProxies;
use crate::error::Result;
use crate::hooks::UserHooks;
use crate::manager::{UserManager, UserOf};
use crate::session::LoginContext;
use crate::store::UserStore;

/// The state of a router ([`Shared`] behind one `Arc`: axum clones a
/// router's state for every request, and one reference count costs less than
/// one per field).
pub(crate) struct RouterState<S: UserStore, H, E = ()>(Arc<Shared<S, H, E>>);

/// What a router's handlers share: the manager, the authenticator of its
/// protected routes (the auth router's accepts only its own backend), whether
/// they require a verified user, and what the router needs besides (`extra`:
/// the auth router's backend, the OAuth routers' configuration).
pub(crate) struct Shared<S: UserStore, H, E> {
    pub(crate) manager: UserManager<S, H>,
    pub(crate) authenticator: Authenticator<S::User>,
    pub(crate) requires_verification: bool,
    pub(crate) proxies: TrustedProxies,
    pub(crate) extra: E,
}

impl<S: UserStore, H, E> Clone for RouterState<S, H, E> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S: UserStore, H, E> Deref for RouterState<S, H, E> {
    type Target = Shared<S, H, E>;

    fn deref(&self) -> &Shared<S, H, E> {
        &self.0
    }
}

impl<S: UserStore, H> RouterState<S, H> {
    /// The state of a router: see [`Shared`].
    pub(crate) fn new(
        manager: UserManager<S, H>,
        authenticator: Authenticator<S::User>,
        requires_verification: bool,
        proxies: TrustedProxies,
    ) -> Self {
        Self(Arc::new(Shared {
            manager,
            authenticator,
            requires_verification,
            proxies,
            extra: (),
        }))
    }

    /// The same state with `extra` beside it (a router's own needs).
    pub(crate) fn with<E>(self, extra: E) -> RouterState<S, H, E> {
        RouterState(Arc::new(Shared {
            manager: self.manager.clone(),
            authenticator: self.authenticator.clone(),
            requires_verification: self.requires_verification,
            proxies: self.proxies.clone(),
            extra,
        }))
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

    /// Who logs in through `backend` with this request: its `User-Agent`
    /// and the client's address.
    pub(crate) fn login_context(
        &self,
        backend: &AuthBackend<S::User>,
        parts: &Parts,
    ) -> LoginContext {
        let agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok());
        LoginContext::new(backend.name(), agent, self.proxies.client_ip(parts))
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
        let login = self.login_context(backend, parts);
        let mut tokens = backend.strategy().write_token(user, &login).await?;
        tokens.refresh_path = refresh_path(parts);
        let mut response = backend.transport().login(&tokens)?.into_response();
        self.manager
            .hooks()
            .on_after_login(user, Some(parts), Some(&mut response))
            .await?;
        Ok(response)
    }
}

/// The refresh route beside the route of this request (`…/login`,
/// `…/login/mfa`, `…/passkey/login`, `…/refresh`), where a refresh cookie is scoped; `None` for
/// another route (an OAuth callback: the transport's own setting applies).
pub(crate) fn refresh_path(parts: &Parts) -> Option<String> {
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(parts.uri.path(), |uri| uri.0.path());
    // The second steps of a login (`/login/mfa`, `/passkey/login`) first:
    // `/passkey/login` also ends with `/login`.
    ["/login/mfa", "/passkey/login", "/login", "/refresh"]
        .iter()
        .find_map(|suffix| path.strip_suffix(suffix))
        .map(|prefix| format!("{prefix}/refresh"))
}
