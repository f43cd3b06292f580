//! Authentication: where a token travels ([`Transport`]), what it is
//! ([`Strategy`]), a named pair of both ([`AuthBackend`]), the [`Authenticator`]
//! that tries an application's backends in order, and the extractors that protect
//! handlers ([`CurrentUser`] and its variants).

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use http::request::Parts;

use crate::error::{Error, Result};
use crate::store::UserStore;
use crate::user::UserModel;

mod binding;
mod extract;
pub mod strategy;
pub mod transport;

pub use binding::{Binding, TokenOwner};
pub use extract::{CurrentUser, Superuser, VerifiedUser};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use strategy::RedisStrategy;
pub use strategy::{DatabaseStrategy, JwtStrategy};
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
/// logout responses look like.
pub trait Transport: Send + Sync + 'static {
    /// The token this request carries for this transport, if any (not yet checked).
    fn token<'a>(&self, parts: &'a Parts) -> Option<&'a str>;
    /// The response to a successful login carrying `token`.
    fn login_response(&self, token: &str) -> Response;
    /// The response to a logout.
    fn logout_response(&self) -> Response;
    /// What the transport is, for documentation.
    fn kind(&self) -> TransportKind;
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
    /// A new token for this user.
    async fn write_token(&self, user: &U) -> Result<String>;
    /// Revokes one token (a no-op for stateless strategies such as JWT).
    async fn destroy_token(&self, token: &str, user: &U) -> Result<()>;
    /// Whether issued tokens can be revoked before they expire.
    fn is_revocable(&self) -> bool {
        false
    }
    /// Revokes every token of a user (log out everywhere), where the strategy can.
    async fn destroy_all_tokens(&self, _user: &U) -> Result<()> {
        Ok(())
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

/// An authenticated request: the user, and the backend that accepted its token
/// (whose transport finds the token in the request again, for a logout).
#[derive(Debug, Clone)]
pub struct Authenticated<U: UserModel> {
    /// The user (active, and meeting the requirements).
    pub user: U,
    /// The index of the backend that accepted the token.
    pub backend: usize,
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

#[async_trait]
impl<S, H> UserLoader<S::User> for crate::UserManager<S, H>
where
    S: UserStore,
    H: crate::UserHooks<S::User>,
{
    async fn load_user(&self, id: &<S::User as UserModel>::Id) -> Result<Option<S::User>> {
        Ok(self.store().get(id).await?)
    }

    fn sessions_end_with_password(&self) -> bool {
        self.logout_everywhere_policy().on_password_change
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
    loader: Arc<dyn UserLoader<U>>,
}

impl<U: UserModel> Clone for Authenticator<U> {
    fn clone(&self) -> Self {
        Self {
            backends: Arc::clone(&self.backends),
            loader: Arc::clone(&self.loader),
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
        Self {
            backends: backends.into(),
            loader: Arc::new(loader),
        }
    }

    /// The same loader with only one of the backends (the auth router's logout
    /// accepts only its own backend's token, as FastAPI Users does).
    pub fn with_only(&self, backend: &AuthBackend<U>) -> Self {
        Self {
            backends: vec![backend.clone()].into(),
            loader: Arc::clone(&self.loader),
        }
    }

    /// The backends, in the order they are tried.
    pub fn backends(&self) -> &[AuthBackend<U>] {
        &self.backends
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

    /// Who is calling, checked against `requirements`.
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
            let owner = match backend.strategy.read_token(token).await {
                Ok(Some(owner)) => owner,
                Ok(None) => continue,
                Err(e) => {
                    failure.get_or_insert(e);
                    continue;
                }
            };
            let user = match self.loader.load_user(&owner.user_id).await {
                // A token issued before the credentials changed is no token.
                Ok(Some(user)) if self.binding_holds(&owner.binding, &user) => user,
                Ok(_) => continue,
                Err(e) => {
                    failure.get_or_insert(e);
                    continue;
                }
            };
            if !user.is_active() {
                return Ok(None);
            }
            if (requirements.verified && !user.is_verified())
                || (requirements.superuser && !user.is_superuser())
            {
                return Err(Error::Forbidden);
            }
            return Ok(Some(Authenticated {
                user,
                backend: index,
            }));
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }
}
