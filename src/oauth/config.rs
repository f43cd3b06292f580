//! [`OAuthConfig`]: a provider and what its routers need around it.

use std::sync::Arc;
use std::time::Duration;

use super::OAuthProvider;
use super::state::StateCodec;
use crate::auth::CookieTransport;
use crate::error::{Error, Result};
use crate::manager::OAuthCallbackOptions;
use crate::tokens::Secret;

/// The default lifetime of a login's state and CSRF cookie: one hour, as in
/// FastAPI Users.
pub const DEFAULT_STATE_LIFETIME: Duration = Duration::from_secs(3600);

/// The name of the CSRF cookie, as in FastAPI Users.
pub const CSRF_COOKIE_NAME: &str = "fastapiusersoauthcsrf";

/// A provider, the secret that signs its `state`, the callback URL registered
/// at the provider, and the rules of its routers. One per router: the login
/// router and the associate router of a provider have different callback URLs.
///
/// The callback URL is configuration, never taken from the request's `Host`.
#[derive(Clone)]
pub struct OAuthConfig {
    pub(crate) provider: Arc<dyn OAuthProvider>,
    pub(crate) state: StateCodec,
    pub(crate) redirect_uri: String,
    pub(crate) options: OAuthCallbackOptions,
    pub(crate) success_redirect: Option<String>,
    pub(crate) csrf_cookie: CookieTransport,
    pub(crate) lifetime: Duration,
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("provider", &self.provider.name())
            .field("redirect_uri", &self.redirect_uri)
            .field("options", &self.options)
            .field("success_redirect", &self.success_redirect)
            .field("csrf_cookie", &self.csrf_cookie.cookie_name())
            .finish_non_exhaustive()
    }
}

impl OAuthConfig {
    /// The routers of `provider`, with states signed by `state_secret` (HS256;
    /// FastAPI Users' `state_secret`) and `redirect_uri` as the callback URL —
    /// exactly as registered at the provider, e.g.
    /// `https://app.example.com/auth/github/callback`.
    pub fn new(
        provider: impl OAuthProvider,
        state_secret: impl AsRef<[u8]>,
        redirect_uri: impl Into<String>,
    ) -> Result<Self> {
        let redirect_uri = redirect_uri.into();
        let parsed = reqwest::Url::parse(&redirect_uri)
            .map_err(|e| Error::Config(format!("invalid OAuth redirect URI: {e}")))?;
        if parsed.fragment().is_some() {
            return Err(Error::Config(
                "an OAuth redirect URI must not have a fragment".into(),
            ));
        }
        let lifetime = DEFAULT_STATE_LIFETIME;
        // The state and the secrets derived from it belong to this provider
        // and callback URL: a state issued for another router is refused.
        let state = StateCodec::new(
            &Secret::new(state_secret),
            lifetime.as_secs(),
            provider.name(),
            &redirect_uri,
        )?;
        Ok(Self {
            provider: Arc::new(provider),
            state,
            redirect_uri,
            options: OAuthCallbackOptions::default(),
            success_redirect: None,
            csrf_cookie: Self::default_cookie(lifetime),
            lifetime,
        })
    }

    fn default_cookie(lifetime: Duration) -> CookieTransport {
        CookieTransport::new()
            .name(CSRF_COOKIE_NAME)
            .max_age(Some(lifetime))
    }

    /// Link an unknown provider account to the user with the same address when
    /// the provider verified it (default off: such a login answers
    /// `OAUTH_USER_ALREADY_EXISTS`). Login router only.
    pub fn associate_by_email(mut self, on: bool) -> Self {
        self.options.associate_by_email = on;
        self
    }

    /// Mark users created by OAuth login as verified when the provider
    /// verified their address (default off). Login router only.
    pub fn is_verified_by_default(mut self, on: bool) -> Self {
        self.options.is_verified_by_default = on;
        self
    }

    /// Let only verified users link a provider account to theirs (default
    /// off, as in FastAPI Users): the associate router then answers 403 to
    /// an unverified caller, before anything else. Without it, a link made by
    /// an unverified user is dropped when the owner of the address takes it
    /// back (a password reset, an e-mail verification, an OAuth login by
    /// address). Associate router only.
    pub fn associate_requires_verification(mut self, on: bool) -> Self {
        self.options.associate_requires_verification = on;
        self
    }

    /// Answer a successful callback with a 302 to this URL instead of the
    /// login response's body (its cookies are kept): for the cookie transport,
    /// where the browser itself follows the provider's redirect.
    ///
    /// Fails when `url` is not a valid header value (checked here, not after
    /// a login).
    pub fn success_redirect(mut self, url: impl Into<String>) -> Result<Self> {
        let url = url.into();
        if url.is_empty() || http::HeaderValue::from_str(&url).is_err() {
            return Err(Error::Config(format!(
                "invalid OAuth success redirect URL {url:?}"
            )));
        }
        self.success_redirect = Some(url);
        Ok(self)
    }

    /// How long a login may take between authorize and callback: the state's
    /// lifetime and the CSRF cookie's `Max-Age` (default one hour).
    pub fn state_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self.state = self.state.with_lifetime(lifetime.as_secs());
        self.csrf_cookie = self.csrf_cookie.max_age(Some(lifetime));
        self
    }

    /// The CSRF cookie's attributes (default: `fastapiusersoauthcsrf`,
    /// `HttpOnly; SameSite=Lax; Secure; Path=/`); its `Max-Age` is always the
    /// state lifetime.
    /// Keep `SameSite` at `Lax` or `None`: the provider's redirect back is a
    /// cross-site navigation, which a `Strict` cookie does not follow.
    pub fn csrf_cookie(mut self, cookie: CookieTransport) -> Self {
        // The cookie lives as long as the state, whatever the order of calls.
        self.csrf_cookie = cookie.max_age(Some(self.lifetime));
        self
    }

    /// The provider.
    pub fn provider(&self) -> &dyn OAuthProvider {
        self.provider.as_ref()
    }

    /// The callback URL.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}
