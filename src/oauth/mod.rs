//! OAuth2 and OpenID Connect login (feature `oauth`).
//!
//! A provider ([`OAuthProvider`]) knows how to send the user to its login page
//! and how to turn the code it sends back into an account: [`OidcProvider`]
//! for any OpenID Connect provider (discovery, ID token checked against the
//! provider's keys), [`OAuth2Provider`] for plain OAuth2 providers with a
//! user-info endpoint, and the presets in [`presets`] (GitHub, Google,
//! Microsoft, Discord, GitLab).
//!
//! An [`OAuthConfig`] adds what the routers need around a provider: the secret
//! that signs the `state`, the callback URL registered at the provider, and
//! the account rules. [`AxumUsers::oauth_router`](crate::AxumUsers::oauth_router)
//! and [`AxumUsers::oauth_associate_router`](crate::AxumUsers::oauth_associate_router)
//! build the routes from it.
//!
//! ```no_run
//! use axum::Router;
//! use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
//! use axum_users::oauth::{OAuthConfig, OidcProvider};
//! use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
//!
//! # fn run() -> axum_users::Result<()> {
//! let secret = "a random secret of 32 bytes or more";
//! let jwt = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), JwtStrategy::hs256(secret)?);
//! let users = AxumUsers::new(UserManager::new(MemoryStore::<User>::new()), vec![jwt.clone()]);
//!
//! let oidc = OidcProvider::new("oidc", "https://id.example.com", "client-id", "client-secret")?;
//! let login = OAuthConfig::new(oidc.clone(), secret, "https://app.example.com/auth/oidc/callback")?;
//! let associate = OAuthConfig::new(oidc, secret, "https://app.example.com/auth/associate/oidc/callback")?;
//!
//! let app: Router = Router::new()
//!     .nest("/auth/oidc", users.oauth_router(&login, &jwt))
//!     .nest("/auth/associate/oidc", users.oauth_associate_router(&associate))
//!     .layer(users.layer());
//! # Ok(()) }
//! ```
//!
//! What the routers guarantee, beyond FastAPI Users (docs/oauth.md says why):
//! the `state` and the CSRF cookie are checked before the code is exchanged;
//! PKCE (S256) on every login, with a verifier derived on the server and never
//! sent to the browser; the ID token's signature, issuer, audience, expiry and
//! nonce checked; one owner per provider account; a provider failure answers
//! 502 `OAUTH_PROVIDER_ERROR`, never a 500 and never the provider's URL.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::manager::OAuthLogin;

mod config;
mod generic;
mod http;
mod oidc;
pub mod presets;
pub(crate) mod state;

pub use config::OAuthConfig;
pub use generic::{ClientAuth, EmailVerified, OAuth2Provider, UserInfoMapping};
pub use oidc::OidcProvider;

/// What the authorize route asks a provider to put in its authorization URL.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AuthorizationRequest<'a> {
    /// The callback URL, exactly as registered at the provider.
    pub redirect_uri: &'a str,
    /// The signed state, sent back by the provider to the callback.
    pub state: &'a str,
    /// The scopes the client asked for; empty for the provider's defaults.
    pub scopes: &'a [String],
    /// The PKCE challenge: base64url(SHA-256(verifier)), method S256.
    pub code_challenge: &'a str,
    /// The nonce the ID token must carry (OpenID Connect).
    pub nonce: &'a str,
}

impl<'a> AuthorizationRequest<'a> {
    /// A request for the provider's default scopes.
    pub fn new(
        redirect_uri: &'a str,
        state: &'a str,
        code_challenge: &'a str,
        nonce: &'a str,
    ) -> Self {
        Self {
            redirect_uri,
            state,
            scopes: &[],
            code_challenge,
            nonce,
        }
    }

    /// The same request for these scopes.
    pub fn scopes(mut self, scopes: &'a [String]) -> Self {
        self.scopes = scopes;
        self
    }
}

/// What the callback route gives a provider to sign the user in: the code and
/// what proves this login started here. Its `Debug` hides the code and the
/// verifier.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct CodeExchange<'a> {
    /// The authorization code from the callback's query.
    pub code: &'a str,
    /// The callback URL, as sent in the authorization URL.
    pub redirect_uri: &'a str,
    /// The PKCE verifier matching the challenge sent at authorize.
    pub code_verifier: &'a str,
    /// The nonce sent at authorize.
    pub nonce: &'a str,
    /// The callback's `iss` parameter (RFC 9207), if the provider sent one.
    pub issuer: Option<&'a str>,
}

impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("code", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &"[redacted]")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl<'a> CodeExchange<'a> {
    /// An exchange without an `iss` parameter.
    pub fn new(
        code: &'a str,
        redirect_uri: &'a str,
        code_verifier: &'a str,
        nonce: &'a str,
    ) -> Self {
        Self {
            code,
            redirect_uri,
            code_verifier,
            nonce,
            issuer: None,
        }
    }

    /// The same exchange with the callback's `iss` parameter.
    pub fn issuer(mut self, issuer: Option<&'a str>) -> Self {
        self.issuer = issuer;
        self
    }
}

/// An OAuth2 or OpenID Connect provider: builds the authorization URL and
/// turns a code into the account that signed in.
///
/// Errors: [`Error::OAuthProvider`](crate::Error::OAuthProvider) (502) when
/// the provider is unreachable or answers something invalid,
/// `OAUTH_INVALID_CODE` (400) when it refuses the code.
#[async_trait]
pub trait OAuthProvider: Send + Sync + 'static {
    /// The provider's name in this application (`"github"`, `"oidc"`): the
    /// `oauth_name` of the accounts it links.
    fn name(&self) -> &str;

    /// The URL to send the user to.
    async fn authorization_url(&self, request: AuthorizationRequest<'_>) -> Result<String>;

    /// Exchanges the code (with the PKCE verifier) and reads the account:
    /// its id, address, whether the provider verified the address, and tokens.
    async fn sign_in(&self, exchange: CodeExchange<'_>) -> Result<OAuthLogin>;
}

#[async_trait]
impl<P: OAuthProvider + ?Sized> OAuthProvider for Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn authorization_url(&self, request: AuthorizationRequest<'_>) -> Result<String> {
        (**self).authorization_url(request).await
    }

    async fn sign_in(&self, exchange: CodeExchange<'_>) -> Result<OAuthLogin> {
        (**self).sign_in(exchange).await
    }
}
