//! Authentication: where a token travels ([`Transport`]), what it is
//! ([`Strategy`]), a named pair of both ([`AuthBackend`]), the [`Authenticator`]
//! that tries an application's backends in order, and the extractors that protect
//! handlers ([`CurrentUser`] and its variants).

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use http::request::Parts;

use crate::csrf::CsrfProtection;
use crate::error::{Error, Result};
use crate::session::{LoginContext, Session};
use crate::user::UserModel;

mod binding;
mod issued;
pub mod strategy;
pub mod transport;

pub use crate::extract::{CurrentUser, Superuser, VerifiedUser};
pub use binding::{Binding, TokenOwner};
pub use issued::{IssuedTokens, Refresh};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use strategy::RedisStrategy;
pub use strategy::{DatabaseStrategy, JwtStrategy, RefreshStrategy};
pub use transport::{BearerTransport, CookieTransport, SameSite};

/// How a transport documents itself (for OpenAPI security schemes).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportKind {
    /// `Authorization: Bearer <token>`; `token_url` is the login route.
    Bearer {
        /// The login route's path as the transport was configured.
        token_url: String,
    },
    /// A cookie of this name.
    Cookie {
        /// The cookie's name.
        name: String,
    },
}

/// Where a token travels: how to find it in a request, and what the login and
/// logout answers carry.
pub trait Transport: Send + Sync + 'static {
    /// The token this request carries for this transport, if any (not yet checked).
    fn token<'a>(&self, parts: &'a Parts) -> Option<&'a str>;
    /// The refresh token this request carries outside its body (the cookie
    /// transport's refresh cookie), if any; by default none, and the refresh
    /// route reads `{"refresh_token"}` from the body.
    fn refresh_token<'a>(&self, _parts: &'a Parts) -> Option<&'a str> {
        None
    }
    /// Whether a browser sends this transport's token by itself (a cookie):
    /// unsafe requests it authenticates then pass the
    /// [`CsrfProtection`] check. False by default.
    fn sent_by_browser(&self) -> bool {
        false
    }
    /// The answer to a successful login (or refresh) carrying `tokens`.
    fn login(&self, tokens: &IssuedTokens) -> Result<TransportAnswer>;
    /// The answer to a logout.
    fn logout(&self) -> Result<TransportAnswer>;
    /// The answer to a logout of a refresh-token backend, whose refresh
    /// route is at `refresh_path` (as the router derived it): by default
    /// [`logout`](Self::logout); the cookie transport also clears the
    /// refresh cookie.
    fn logout_refreshing(&self, _refresh_path: Option<&str>) -> Result<TransportAnswer> {
        self.logout()
    }
    /// What the transport is, for documentation.
    fn kind(&self) -> TransportKind;
}

/// What a transport answers to a login or a logout: a status, a JSON body or
/// none, and a `Set-Cookie` value or none. It becomes the response (it
/// implements [`IntoResponse`](axum::response::IntoResponse)), and its cookie
/// can go on another response (a redirect) as it is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportAnswer {
    /// The status: 200 with a body, 204 without.
    pub status: http::StatusCode,
    /// The JSON body, if any (the bearer login's).
    pub body: Option<serde_json::Value>,
    /// The `Set-Cookie` headers' values (the cookie transport's).
    pub set_cookies: Vec<http::HeaderValue>,
}

impl TransportAnswer {
    /// 200 with a JSON body.
    pub fn json(body: serde_json::Value) -> Self {
        Self {
            status: http::StatusCode::OK,
            body: Some(body),
            set_cookies: Vec::new(),
        }
    }

    /// 204, with these cookies to set.
    pub fn no_content(set_cookies: Vec<http::HeaderValue>) -> Self {
        Self {
            status: http::StatusCode::NO_CONTENT,
            body: None,
            set_cookies,
        }
    }
}

impl axum::response::IntoResponse for TransportAnswer {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, axum::Json(body)).into_response(),
            None => self.status.into_response(),
        };
        for cookie in self.set_cookies {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, cookie);
        }
        response
    }
}

/// What a token is and how it is checked, issued and revoked.
///
/// A strategy reads a token into its owner (a user id and a [`Binding`]); the
/// [`Authenticator`] then loads the user from the store and checks the binding,
/// so that a deactivated or deleted user, or a token issued before a password
/// change or reset, is refused at once. Errors (an unreachable database or
/// cache) answer 503; an invalid token is `Ok(None)`.
#[async_trait]
pub trait Strategy<U: UserModel>: Send + Sync + 'static {
    /// Whom this token stands for, or `None` when it is invalid, expired or
    /// revoked.
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>>;
    /// New tokens for this user, logging in as `login` says (a revocable
    /// strategy records the session's backend, client and address).
    async fn write_token(&self, user: &U, login: &LoginContext) -> Result<IssuedTokens>;
    /// Revokes one token (a no-op for stateless strategies such as JWT).
    async fn destroy_token(&self, token: &str, user: &U) -> Result<()>;
    /// Whether issued tokens can be revoked before they expire (the strategy
    /// keeps sessions).
    fn is_revocable(&self) -> bool {
        false
    }
    /// Ends every session of a user (log out everywhere), where the strategy
    /// keeps sessions; the sessions that ended.
    async fn destroy_all_tokens(&self, _user: &U) -> Result<Vec<Session<U::Id>>> {
        Ok(Vec::new())
    }
    /// The stored sessions of a user (expired ones left out).
    async fn user_sessions(&self, _user_id: &U::Id) -> Result<Vec<Session<U::Id>>> {
        Ok(Vec::new())
    }
    /// The session with this id if it is alive (stored and not expired),
    /// recording its use; what an access token naming its session (claim
    /// `sid`) is checked against.
    async fn use_session(&self, _id: &str) -> Result<Option<Session<U::Id>>> {
        Ok(None)
    }
    /// Ends the session with this id; the session, if there was one.
    async fn end_session(&self, _id: &str) -> Result<Option<Session<U::Id>>> {
        Ok(None)
    }
    /// Binds the session `id` to `user`'s credentials as they are now (after
    /// the user changed their password in that session); whether the
    /// strategy keeps it.
    async fn rebind_session(&self, _id: &str, _user: &U) -> Result<bool> {
        Ok(false)
    }
    /// Whether the strategy hands out refresh tokens (the auth router then
    /// mounts `POST /refresh`).
    fn refreshes(&self) -> bool {
        false
    }
    /// Rotates a refresh token presented to the backend named `backend`:
    /// new tokens, the session that ended (reuse, expiry), or
    /// [`Refresh::Invalid`]. Users are loaded through `users`.
    async fn refresh(
        &self,
        _token: &str,
        _login: &LoginContext,
        _users: &dyn UserLoader<U>,
    ) -> Result<Refresh<U>> {
        Ok(Refresh::Invalid)
    }
}

/// A named pair of a [`Transport`] and a [`Strategy`]: one way to log in.
///
/// ```
/// use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
/// use axum_users::User;
/// let backend: AuthBackend<User> = AuthBackend::new(
///     "jwt",
///     BearerTransport::new("auth/jwt/login"),
///     JwtStrategy::hs256("a random secret of 32 bytes or more").unwrap(),
/// );
/// ```
pub struct AuthBackend<U: UserModel> {
    name: Arc<str>,
    transport: Arc<dyn Transport>,
    strategy: Arc<dyn Strategy<U>>,
}

impl<U: UserModel> Clone for AuthBackend<U> {
    fn clone(&self) -> Self {
        Self {
            name: Arc::clone(&self.name),
            transport: Arc::clone(&self.transport),
            strategy: Arc::clone(&self.strategy),
        }
    }
}

impl<U: UserModel> std::fmt::Debug for AuthBackend<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthBackend")
            .field("name", &self.name)
            .field("transport", &self.transport.kind())
            .finish_non_exhaustive()
    }
}

impl<U: UserModel> AuthBackend<U> {
    /// A backend named `name` (used in documentation and logs).
    pub fn new(
        name: impl Into<Arc<str>>,
        transport: impl Transport,
        strategy: impl Strategy<U>,
    ) -> Self {
        Self {
            name: name.into(),
            transport: Arc::new(transport),
            strategy: Arc::new(strategy),
        }
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The transport.
    pub fn transport(&self) -> &dyn Transport {
        &*self.transport
    }

    /// The strategy.
    pub fn strategy(&self) -> &dyn Strategy<U> {
        &*self.strategy
    }

    /// Whether two backends share one strategy instance.
    pub(crate) fn same_strategy(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.strategy, &other.strategy)
    }
}

/// What an authenticated request must have beyond an active user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    /// The user must be verified (else 403).
    pub verified: bool,
    /// The user must be a superuser (else 403).
    pub superuser: bool,
}

/// An authenticated request: the user, the backend that accepted its token,
/// and the token (for a logout).
#[derive(Clone)]
#[non_exhaustive]
pub struct Authenticated<U: UserModel> {
    /// The user (active, and meeting the requirements).
    pub user: U,
    /// The index of the backend that accepted the token.
    pub backend: usize,
    /// The token the backend accepted.
    pub token: String,
    /// The id of the session the token belongs to, if it belongs to one (a
    /// database or Redis session, or the `sid` of a refresh-token backend's
    /// access token).
    pub session: Option<String>,
}

impl<U: UserModel> std::fmt::Debug for Authenticated<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("user", &self.user)
            .field("backend", &self.backend)
            .field("token", &"[redacted]")
            .field("session", &self.session)
            .finish()
    }
}

/// Loads users by id for the [`Authenticator`]; implemented by
/// [`UserManager`](crate::UserManager).
#[async_trait]
pub trait UserLoader<U: UserModel>: Send + Sync + 'static {
    /// The user with this id, if any.
    async fn load_user(&self, id: &U::Id) -> Result<Option<U>>;

    /// Whether a new password ends the sessions opened before it (the
    /// [`Binding::Credentials`] of database and Redis sessions); true by
    /// default. The manager answers with its
    /// [`LogoutEverywhere::on_password_change`](crate::LogoutEverywhere).
    fn sessions_end_with_password(&self) -> bool {
        true
    }
}

/// Tries an application's backends in order to find who is calling.
///
/// The first backend whose transport finds a token and whose strategy accepts it
/// wins; the user is then reloaded from the store, so that deactivation and
/// deletion take effect at once, and the token's [`Binding`] is checked against
/// it. Insert it into requests with
/// [`Authenticator::layer`] for the extractors of the application's own handlers.
pub struct Authenticator<U: UserModel> {
    backends: Arc<[AuthBackend<U>]>,
    /// Every backend of the application, also where [`with_only`](Self::with_only)
    /// keeps one: an access token naming its session is checked against the
    /// strategy that keeps it, whichever backend reads the token.
    sessions: Arc<[AuthBackend<U>]>,
    loader: Arc<dyn UserLoader<U>>,
    csrf: Arc<CsrfProtection>,
}

impl<U: UserModel> Clone for Authenticator<U> {
    fn clone(&self) -> Self {
        Self {
            backends: Arc::clone(&self.backends),
            sessions: Arc::clone(&self.sessions),
            loader: Arc::clone(&self.loader),
            csrf: Arc::clone(&self.csrf),
        }
    }
}

impl<U: UserModel> std::fmt::Debug for Authenticator<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("backends", &self.backends)
            .finish_non_exhaustive()
    }
}

impl<U: UserModel> Authenticator<U> {
    /// An authenticator over these backends, loading users through `loader`
    /// (usually the [`UserManager`](crate::UserManager)).
    pub fn new(backends: Vec<AuthBackend<U>>, loader: impl UserLoader<U>) -> Self {
        let backends: Arc<[AuthBackend<U>]> = backends.into();
        Self {
            sessions: Arc::clone(&backends),
            backends,
            loader: Arc::new(loader),
            csrf: Arc::new(CsrfProtection::default()),
        }
    }

    /// The same authenticator with another cross-site check of cookie
    /// requests (on by default, trusting the server's own origin only).
    pub fn with_csrf(mut self, csrf: CsrfProtection) -> Self {
        self.csrf = Arc::new(csrf);
        self
    }

    /// The cross-site check of cookie-authenticated requests.
    pub fn csrf(&self) -> &CsrfProtection {
        &self.csrf
    }

    /// The same loader with only one of the backends (the auth router's logout
    /// accepts only its own backend's token, as FastAPI Users does).
    pub fn with_only(&self, backend: &AuthBackend<U>) -> Self {
        Self {
            backends: vec![backend.clone()].into(),
            sessions: Arc::clone(&self.sessions),
            loader: Arc::clone(&self.loader),
            csrf: Arc::clone(&self.csrf),
        }
    }

    /// The backends, in the order they are tried.
    pub fn backends(&self) -> &[AuthBackend<U>] {
        &self.backends
    }

    /// Every backend of the application, each strategy once: where sessions
    /// are listed and ended.
    pub fn session_backends(&self) -> impl Iterator<Item = &AuthBackend<U>> {
        self.sessions.iter().enumerate().filter_map(|(i, backend)| {
            let first = !self.sessions[..i]
                .iter()
                .any(|earlier| earlier.same_strategy(backend));
            (first && backend.strategy().is_revocable()).then_some(backend)
        })
    }

    /// The loader of users.
    pub fn loader(&self) -> &dyn UserLoader<U> {
        &*self.loader
    }

    /// A layer that makes this authenticator available to the extractors
    /// ([`CurrentUser`], …) of every handler below it.
    pub fn layer(&self) -> axum::Extension<Self> {
        axum::Extension(self.clone())
    }

    fn binding_holds(&self, binding: &Binding, user: &U) -> bool {
        if self.loader.sessions_end_with_password() {
            binding.holds_for(user)
        } else {
            binding.holds_for_any_password(user)
        }
    }

    /// Who is calling, who must meet `requirements`: [`Error::Unauthorized`]
    /// (401) when no backend accepts the request's token or the user is
    /// inactive, [`Error::Forbidden`] (403) when the user lacks a required
    /// flag. The one authenticated path of the crate: the extractors and every
    /// protected route go through it.
    pub async fn require(
        &self,
        parts: &Parts,
        requirements: Requirements,
    ) -> Result<Authenticated<U>> {
        self.authenticate(parts, requirements)
            .await?
            .ok_or(Error::Unauthorized)
    }

    /// Who is calling, checked against `requirements`; `Ok(None)` where
    /// [`require`](Self::require) answers 401.
    ///
    /// `Ok(None)` when no backend accepts the request's token (401); an inactive
    /// user also counts as no user. [`Error::Forbidden`] when the user lacks a
    /// required flag; [`Error::ServiceUnavailable`]/[`Error::Store`] when a
    /// dependency failed and no other backend accepted the request.
    pub async fn authenticate(
        &self,
        parts: &Parts,
        requirements: Requirements,
    ) -> Result<Option<Authenticated<U>>> {
        let mut failure = None;
        for (index, backend) in self.backends.iter().enumerate() {
            let Some(token) = backend.transport.token(parts) else {
                continue;
            };
            match self.check(index, token).await {
                // An inactive user counts as no user.
                Ok(Some(found)) if !found.user.is_active() => return Ok(None),
                Ok(Some(found)) => {
                    // A browser sends cookies by itself, from other sites too.
                    if backend.transport.sent_by_browser() {
                        self.csrf.check(parts)?;
                    }
                    return Self::meets(found, requirements).map(Some);
                }
                Ok(None) => continue,
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// Whether `token` is a live token of the first backend (the one of an
    /// authenticator [`with_only`](Self::with_only) one): its user, active
    /// or not, with the session it belongs to. What `POST /verify-token`
    /// asks.
    pub async fn verify(&self, token: &str) -> Result<Option<Authenticated<U>>> {
        if self.backends.is_empty() {
            return Ok(None);
        }
        Ok(self
            .check(0, token)
            .await?
            .filter(|found| found.user.is_active()))
    }

    /// The user and session `token` stands for in the backend at `index`,
    /// with every binding checked.
    async fn check(&self, index: usize, token: &str) -> Result<Option<Authenticated<U>>> {
        let backend = &self.backends[index];
        let Some(mut owner) = backend.strategy.read_token(token).await? else {
            return Ok(None);
        };
        if owner.binding == Binding::Session {
            // An access token naming its session: valid while it lives, and
            // bound as the session is.
            let Some(session) = self.live_session(owner.session.as_deref()).await? else {
                return Ok(None);
            };
            if session.user_id != owner.user_id {
                return Ok(None);
            }
            let Some(binding) = Binding::parse(&session.binding) else {
                return Ok(None);
            };
            owner.binding = binding;
        }
        let Some(user) = self.loader.load_user(&owner.user_id).await? else {
            return Ok(None);
        };
        // A token issued before the credentials changed is no token.
        if !self.binding_holds(&owner.binding, &user) {
            return Ok(None);
        }
        Ok(Some(Authenticated {
            user,
            backend: index,
            token: token.to_owned(),
            session: owner.session,
        }))
    }

    /// The live session with this id, in whichever strategy keeps it.
    async fn live_session(&self, id: Option<&str>) -> Result<Option<Session<U::Id>>> {
        let Some(id) = id.filter(|id| crate::session::could_be_session_id(id)) else {
            return Ok(None);
        };
        for backend in self.session_backends() {
            if let Some(session) = backend.strategy.use_session(id).await? {
                // Only refresh-token sessions issue access tokens naming them.
                return Ok(
                    (session.kind == crate::session::SessionKind::Refresh).then_some(session)
                );
            }
        }
        Ok(None)
    }

    /// An active caller checked against `requirements`: a missing flag is
    /// a 403.
    fn meets(found: Authenticated<U>, requirements: Requirements) -> Result<Authenticated<U>> {
        let user = &found.user;
        if (requirements.verified && !user.is_verified())
            || (requirements.superuser && !user.is_superuser())
        {
            return Err(Error::Forbidden);
        }
        Ok(found)
    }
}
