//! The routers, and [`AxumUsers`], the front door that builds them.
//!
//! Routers are thin: each handler parses the request, calls one
//! [`UserManager`] use case or the
//! [`Authenticator`], and shapes the response. Their
//! routes are described as data in [`spec`]; the
//! [routes guide](crate::guide::routes) lists each router's routes,
//! requests, responses and errors, and how to mount them.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};

use crate::auth::{AuthBackend, Authenticator};
use crate::client::TrustedProxies;
use crate::csrf::CsrfProtection;
use crate::hooks::{NoHooks, UserHooks};
use crate::manager::UserManager;
use crate::store::UserStore;
use state::RouterState;

pub(crate) mod app;
mod auth;
mod invitations;
mod mfa;
#[cfg(feature = "oauth")]
mod oauth;
mod register;
mod reset;
pub mod spec;
mod state;
mod users;
mod verify;

pub use app::Routes;

/// The default request body limit of every router: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The front door: a [`UserManager`] and the application's authentication
/// backends, from which the routers and the authenticator are built (FastAPI
/// Users' `FastAPIUsers` object).
///
/// ```
/// use axum::Router;
/// use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
/// use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
///
/// let jwt = AuthBackend::new(
///     "jwt",
///     BearerTransport::new("auth/jwt/login"),
///     JwtStrategy::hs256("a random secret of 32 bytes or more").unwrap(),
/// );
/// let users = AxumUsers::new(UserManager::new(MemoryStore::<User>::new()), vec![jwt.clone()]);
/// let app: Router = Router::new()
///     .nest("/auth/jwt", users.auth_router(&jwt))
///     .nest("/auth", users.register_router())
///     .nest("/users", users.users_router())
///     .layer(users.layer());
/// ```
pub struct AxumUsers<S: UserStore, H = NoHooks> {
    manager: UserManager<S, H>,
    authenticator: Authenticator<S::User>,
    body_limit: usize,
    requires_verification: bool,
    proxies: TrustedProxies,
}

impl<S: UserStore, H> Clone for AxumUsers<S, H> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            authenticator: self.authenticator.clone(),
            body_limit: self.body_limit,
            requires_verification: self.requires_verification,
            proxies: self.proxies.clone(),
        }
    }
}

impl<S: UserStore, H> std::fmt::Debug for AxumUsers<S, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxumUsers")
            .field("authenticator", &self.authenticator)
            .field("body_limit", &self.body_limit)
            .field("requires_verification", &self.requires_verification)
            .finish_non_exhaustive()
    }
}

impl<S: UserStore, H: UserHooks<S::User>> AxumUsers<S, H> {
    /// Builds the front door; `backends` are tried in order on authenticated
    /// routes, and the revocable ones are registered with the manager so that it
    /// can end a user's sessions ([`UserManager::logout_everywhere`]).
    pub fn new(manager: UserManager<S, H>, backends: Vec<AuthBackend<S::User>>) -> Self {
        // Revocable strategies learn of password changes, deactivations and
        // deletions through the manager.
        manager.register_backends(&backends);
        let authenticator = Authenticator::new(backends, manager.clone());
        Self {
            manager,
            authenticator,
            body_limit: DEFAULT_BODY_LIMIT,
            requires_verification: false,
            proxies: TrustedProxies::none(),
        }
    }

    /// The request body limit of the routers built afterwards (default 1 MiB);
    /// larger bodies answer 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Whether the routers built afterwards require a verified user: login answers
    /// `LOGIN_USER_NOT_VERIFIED` and the users routes 403 for unverified users
    /// (default false).
    pub fn requires_verification(mut self, required: bool) -> Self {
        self.requires_verification = required;
        self
    }

    /// Which proxies' forwarding headers (`Forwarded`, `X-Forwarded-For`)
    /// name the client's address recorded with each session (default none:
    /// the socket's peer address, which needs the application served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`). Applies to the
    /// routers built afterwards.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// The cross-site check of cookie-authenticated requests and cookie
    /// logins ([`CsrfProtection`]: on by default, trusting the server's own
    /// origin only). Applies to the routers and the authenticator built
    /// afterwards, the application's own extractors included.
    pub fn csrf(mut self, csrf: CsrfProtection) -> Self {
        self.authenticator = self.authenticator.clone().with_csrf(csrf);
        self
    }

    /// The manager.
    pub fn manager(&self) -> &UserManager<S, H> {
        &self.manager
    }

    /// The authenticator over every backend.
    pub fn authenticator(&self) -> &Authenticator<S::User> {
        &self.authenticator
    }

    /// A layer that makes the authenticator available to the extractors
    /// ([`CurrentUser`](crate::CurrentUser), …) of the application's own handlers.
    pub fn layer(&self) -> axum::Extension<Authenticator<S::User>> {
        self.authenticator.layer()
    }

    /// `POST /login` and `POST /logout` for one backend. Logout takes only this
    /// backend's token.
    pub fn auth_router<St: Clone + Send + Sync + 'static>(
        &self,
        backend: &AuthBackend<S::User>,
    ) -> Router<St> {
        self.auth_router_at("", backend)
    }

    /// [`auth_router`](Self::auth_router) with its paths under `at`.
    pub(crate) fn auth_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
        backend: &AuthBackend<S::User>,
    ) -> Router<St> {
        let state = RouterState::new(
            self.manager.clone(),
            self.authenticator.with_only(backend),
            self.requires_verification,
            self.proxies.clone(),
        );
        auth::router(state.with(backend.clone()), self.body_limit, at)
    }

    /// The state every router starts from.
    fn state(&self) -> RouterState<S, H> {
        RouterState::new(
            self.manager.clone(),
            self.authenticator.clone(),
            self.requires_verification,
            self.proxies.clone(),
        )
    }

    /// The MFA router ([`crate::mfa`]): `GET /me/mfa`, `POST /me/mfa/totp`,
    /// `POST /me/mfa/totp/confirm`, `DELETE /me/mfa/totp`, `POST
    /// /me/mfa/recovery-codes`, `DELETE /{id}/mfa` (superusers), and with
    /// passkeys `POST /me/passkeys/options`, `POST|GET /me/passkeys`,
    /// `DELETE /me/passkeys/{passkey_id}`: mount it beside the users router.
    ///
    /// # Panics
    ///
    /// When the manager has no multi-factor login
    /// ([`UserManagerBuilder::mfa`](crate::UserManagerBuilder::mfa)): a
    /// configuration mistake, told at start-up.
    pub fn mfa_router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.mfa_router_at("")
    }

    /// [`mfa_router`](Self::mfa_router) with its paths under `at`.
    pub(crate) fn mfa_router_at<St: Clone + Send + Sync + 'static>(&self, at: &str) -> Router<St> {
        assert!(
            self.manager.has_mfa(),
            "the MFA router needs multi-factor login on the manager (UserManagerBuilder::mfa)"
        );
        mfa::router(self.state(), self.body_limit, at)
    }

    /// `POST /register`.
    pub fn register_router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.register_router_at("")
    }

    /// [`register_router`](Self::register_router) with its paths under `at`.
    pub(crate) fn register_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
    ) -> Router<St> {
        register::router(self.manager.clone(), self.body_limit, at)
    }

    /// `POST /forgot-password` and `POST /reset-password`.
    pub fn reset_password_router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.reset_password_router_at("")
    }

    /// [`reset_password_router`](Self::reset_password_router) with its paths under `at`.
    pub(crate) fn reset_password_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
    ) -> Router<St> {
        reset::router(self.manager.clone(), self.body_limit, at)
    }

    /// `POST /request-verify-token` and `POST /verify`.
    pub fn verify_router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.verify_router_at("")
    }

    /// [`verify_router`](Self::verify_router) with its paths under `at`.
    pub(crate) fn verify_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
    ) -> Router<St> {
        verify::router(self.manager.clone(), self.body_limit, at)
    }

    /// `GET|PATCH /me` and `GET|PATCH|DELETE /{id}`.
    pub fn users_router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.users_router_at("")
    }

    /// [`users_router`](Self::users_router) with its paths under `at`.
    pub(crate) fn users_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
    ) -> Router<St> {
        users::router(self.state(), self.body_limit, at)
    }
}

impl<S, H> AxumUsers<S, H>
where
    S: UserStore + crate::store::InvitationStore,
    H: UserHooks<S::User>,
{
    /// `POST|GET /invitations` and `GET|DELETE /invitations/{invitation_id}`,
    /// for superusers ([`crate::invitation`]): mount it beside the users
    /// router (`/users`).
    pub fn invitations_router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.invitations_router_at("")
    }

    /// [`invitations_router`](Self::invitations_router) with its paths under
    /// `at`.
    pub(crate) fn invitations_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
    ) -> Router<St> {
        invitations::admin_router(self.state(), self.body_limit, at)
    }

    /// `POST /accept-invitation`: an invitation's token and a password make
    /// an account. Mount it beside the register router (`/auth`).
    pub fn accept_invitation_router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.accept_invitation_router_at("")
    }

    /// [`accept_invitation_router`](Self::accept_invitation_router) with its
    /// paths under `at`.
    pub(crate) fn accept_invitation_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
    ) -> Router<St> {
        invitations::accept_router(self.manager.clone(), self.body_limit, at)
    }
}

#[cfg(feature = "oauth")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
impl<S, H> AxumUsers<S, H>
where
    S: crate::store::OAuthAccountStore,
    H: UserHooks<S::User>,
    <S::User as crate::user::UserModel>::Fields: Default,
{
    /// `GET /authorize` and `GET /callback`: log in with the provider of
    /// `config`, getting a token of `backend` (feature `oauth`). Users the
    /// provider signs in for the first time are created with default
    /// application fields.
    pub fn oauth_router<St: Clone + Send + Sync + 'static>(
        &self,
        config: &crate::oauth::OAuthConfig,
        backend: &AuthBackend<S::User>,
    ) -> Router<St> {
        self.oauth_router_at("", config, backend)
    }

    /// [`oauth_router`](Self::oauth_router) with its paths under `at`.
    pub(crate) fn oauth_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
        config: &crate::oauth::OAuthConfig,
        backend: &AuthBackend<S::User>,
    ) -> Router<St> {
        oauth::login_router(self.state(), config.clone(), backend.clone(), at)
    }

    /// `GET /authorize` and `GET /callback` for the current user (any backend's
    /// token): link an account at the provider of `config` to the user, who
    /// can then log in with it (feature `oauth`).
    pub fn oauth_associate_router<St: Clone + Send + Sync + 'static>(
        &self,
        config: &crate::oauth::OAuthConfig,
    ) -> Router<St> {
        self.oauth_associate_router_at("", config)
    }

    /// [`oauth_associate_router`](Self::oauth_associate_router) with its paths
    /// under `at`.
    pub(crate) fn oauth_associate_router_at<St: Clone + Send + Sync + 'static>(
        &self,
        at: &str,
        config: &crate::oauth::OAuthConfig,
    ) -> Router<St> {
        oauth::associate_router(self.state(), config.clone(), at)
    }
}

/// Adds the route a spec describes, with its method and its path under `at`
/// (`""`, or a prefix such as `/auth/jwt`), to `router`; a route that reads a
/// body gets the body limit (one that reads none pays nothing for it).
fn route<St, Hd, T>(
    router: Router<St>,
    at: &str,
    spec: &spec::RouteSpec,
    handler: Hd,
    body_limit: usize,
) -> Router<St>
where
    St: Clone + Send + Sync + 'static,
    Hd: Handler<T, St>,
    T: 'static,
{
    let filter = MethodFilter::try_from(spec.method.clone()).unwrap_or_else(|_| {
        // Invariant: every spec in `spec` uses GET, POST, PATCH or DELETE, which
        // MethodFilter has; the unit test `every_spec_method_is_routable` pins it.
        unreachable!("route spec with an unroutable method {}", spec.method)
    });
    let method_router = on(filter, handler);
    let method_router = match spec.body.has_body() {
        false => method_router,
        true => method_router.layer(DefaultBodyLimit::max(body_limit)),
    };
    if at.is_empty() {
        router.route(spec.path, method_router)
    } else {
        router.route(&format!("{at}{}", spec.path), method_router)
    }
}

#[cfg(test)]
mod tests {
    use super::spec::*;
    use axum::routing::MethodFilter;

    #[test]
    fn every_spec_method_is_routable() {
        for route in all_routes() {
            assert!(
                MethodFilter::try_from(route.method.clone()).is_ok(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
