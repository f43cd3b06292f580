//! [`OidcProvider`]: any OpenID Connect provider, configured by discovery:
//! its metadata and signing keys, fetched and kept here; the keys a token may
//! be checked with in `keys.rs`; the checks of an ID token in `id_token.rs`.

mod id_token;
mod keys;

use id_token::{ID_TOKEN_ALGORITHMS, id_token_header, validate_id_token};
use keys::{algorithm_name, parse_jwks, select_key};

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::generic::authorization_url;
use super::http::{self, ClientAuth, Credentials, bool_claim, string_claim};
use super::{AuthorizationRequest, CodeExchange, OAuthProvider};
use crate::error::{Error, ErrorCode, Result};
use crate::manager::OAuthLogin;
use crate::tokens::Secret;

/// The provider's keys are fetched again for an unknown key id at most this
/// often (key rotation), so forged key ids cannot make us hammer the provider.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// What discovery tells about the provider.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
}

/// The provider's configuration once discovered.
#[derive(Debug)]
struct Discovered {
    metadata: Metadata,
    authorize_url: Url,
    auth: ClientAuth,
    algorithms: Vec<Algorithm>,
}

/// The provider's signing keys and when they were fetched.
#[derive(Debug, Default)]
struct Keys {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
}

/// An OpenID Connect provider, configured from its discovery document
/// (`<issuer>/.well-known/openid-configuration`), fetched at the first use
/// and kept (fetched again after a failure).
///
/// Sign-in exchanges the code with PKCE, authenticating with
/// `client_secret_basic` (or `client_secret_post` when the provider supports
/// only that), then checks the ID token — signature against the provider's
/// published keys (asymmetric algorithms only), `iss`, `aud`, `exp`, and the
/// `nonce` sent at authorize — and reads the address from the user-info
/// endpoint, whose `sub` must be the ID token's.
///
/// Cheap to clone: clones share the discovered configuration and keys.
#[derive(Clone)]
pub struct OidcProvider {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    issuer: String,
    client_id: String,
    client_secret: Secret,
    scopes: Vec<String>,
    extra_params: Vec<(String, String)>,
    discovered: OnceCell<Discovered>,
    keys: RwLock<Keys>,
    /// Held while the keys are fetched again: concurrent logins that meet an
    /// unknown key id wait for one fetch instead of each making their own.
    refetch: tokio::sync::Mutex<()>,
    client: reqwest::Client,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("name", &self.inner.name)
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// A provider named `name` (the `oauth_name` of its accounts) at `issuer`
    /// (exactly as the provider spells it, e.g. `https://accounts.google.com`),
    /// for this confidential client. Nothing is fetched yet. The default
    /// scopes are `openid email`.
    pub fn new(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl AsRef<[u8]>,
    ) -> Result<Self> {
        Self::with_scopes(name, issuer, client_id, client_secret, ["openid", "email"])
    }

    /// [`new`](Self::new) with other default scopes (`openid` is always added).
    pub fn with_scopes<I, T>(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl AsRef<[u8]>,
        scopes: I,
    ) -> Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let name = name.into();
        let issuer = issuer.into();
        if name.is_empty() {
            return Err(Error::Config("an OAuth provider needs a name".into()));
        }
        let parsed =
            Url::parse(&issuer).map_err(|e| Error::Config(format!("invalid issuer URL: {e}")))?;
        if !http::is_secure_endpoint(&parsed) {
            return Err(Error::Config(format!(
                "the issuer must be https (plain http only to localhost): {issuer}"
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                issuer,
                client_id: client_id.into(),
                client_secret: Secret::new(client_secret),
                scopes: scopes.into_iter().map(Into::into).collect(),
                extra_params: Vec::new(),
                discovered: OnceCell::new(),
                keys: RwLock::new(Keys::default()),
                refetch: tokio::sync::Mutex::new(()),
                client: http::client()?,
            }),
        })
    }

    /// [`new`](Self::new), then discovery at once: a provider that cannot be
    /// reached or misdescribes itself fails here instead of at the first login.
    pub async fn discover(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl AsRef<[u8]>,
    ) -> Result<Self> {
        let provider = Self::new(name, issuer, client_id, client_secret)?;
        provider.discovered().await?;
        Ok(provider)
    }

    /// An extra parameter for the authorization URL (`prompt=login`, …). Call
    /// it before cloning the provider.
    pub fn authorization_param(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.extra_params.push((name.into(), value.into()));
        } else {
            tracing::warn!("OidcProvider::authorization_param on a shared provider is ignored");
        }
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    fn error(&self, what: impl std::fmt::Display) -> Error {
        Error::provider(format!("{}: {what}", self.inner.name))
    }

    async fn discovered(&self) -> Result<&Discovered> {
        self.inner
            .discovered
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.inner.issuer.trim_end_matches('/')
                );
                let document = http::get_json(
                    &self.inner.client,
                    &self.inner.name,
                    "discovery",
                    &url,
                    None,
                )
                .await?;
                let metadata: Metadata = serde_json::from_value(document)
                    .map_err(|e| self.error(format!("invalid discovery document: {e}")))?;
                // OpenID Connect Discovery §4.3: the issuer must be the one asked.
                if metadata.issuer != self.inner.issuer {
                    return Err(self.error("the discovery document names another issuer"));
                }
                let authorize_url = Url::parse(&metadata.authorization_endpoint)
                    .ok()
                    .filter(http::is_secure_endpoint)
                    .ok_or_else(|| self.error("invalid or insecure authorization endpoint"))?;
                for endpoint in [
                    Some(&metadata.token_endpoint),
                    Some(&metadata.jwks_uri),
                    metadata.userinfo_endpoint.as_ref(),
                ]
                .into_iter()
                .flatten()
                {
                    Url::parse(endpoint)
                        .ok()
                        .filter(http::is_secure_endpoint)
                        .ok_or_else(|| {
                            self.error("invalid or insecure endpoint URL in discovery")
                        })?;
                }
                let auth = match &metadata.token_endpoint_auth_methods_supported {
                    Some(methods)
                        if !methods.iter().any(|m| m == "client_secret_basic")
                            && methods.iter().any(|m| m == "client_secret_post") =>
                    {
                        ClientAuth::Post
                    }
                    _ => ClientAuth::Basic,
                };
                let algorithms = match &metadata.id_token_signing_alg_values_supported {
                    Some(names) => ID_TOKEN_ALGORITHMS
                        .iter()
                        .copied()
                        .filter(|alg| names.iter().any(|n| n == algorithm_name(*alg)))
                        .collect(),
                    None => vec![Algorithm::RS256],
                };
                if algorithms.is_empty() {
                    return Err(self.error("no supported ID token signing algorithm"));
                }
                Ok(Discovered {
                    metadata,
                    authorize_url,
                    auth,
                    algorithms,
                })
            })
            .await
    }

    /// The signing key for an ID token header's key id: from the cached set,
    /// or from a fresh fetch when the id is unknown (key rotation).
    async fn key_for(
        &self,
        discovered: &Discovered,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey> {
        if let Some(key) = self.cached_key(kid, alg)? {
            return Ok(key);
        }
        let _refetching = self.inner.refetch.lock().await;
        // Another login may have fetched the keys while this one waited.
        if let Some(key) = self.cached_key(kid, alg)? {
            return Ok(key);
        }
        let stale = {
            let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
            keys.fetched
                .is_none_or(|at| at.elapsed() >= JWKS_REFETCH_INTERVAL)
        };
        if stale {
            let document = http::get_json(
                &self.inner.client,
                &self.inner.name,
                "JWKS endpoint",
                &discovered.metadata.jwks_uri,
                None,
            )
            .await?;
            let keys = parse_jwks(&document);
            let mut cache = self.inner.keys.write().unwrap_or_else(|e| e.into_inner());
            cache.keys = keys;
            cache.fetched = Some(Instant::now());
        }
        self.cached_key(kid, alg)?.ok_or_else(|| {
            self.error("the ID token's signing key is not among the provider's keys")
        })
    }

    fn cached_key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>> {
        let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
        match select_key(&keys.keys, kid, alg) {
            Some(jwk) => DecodingKey::from_jwk(jwk)
                .map(Some)
                .map_err(|_| self.error("unusable key in the provider's key set")),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl OAuthProvider for OidcProvider {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn authorization_url(&self, request: AuthorizationRequest<'_>) -> Result<String> {
        let discovered = self.discovered().await?;
        Ok(authorization_url(
            &discovered.authorize_url,
            &self.inner.client_id,
            &self.inner.scopes,
            &["openid"],
            &self.inner.extra_params,
            &request,
            true,
        ))
    }

    async fn sign_in(&self, exchange: CodeExchange<'_>) -> Result<OAuthLogin> {
        let discovered = self.discovered().await?;
        // RFC 9207: an `iss` naming another issuer means the response is from
        // another provider (a mix-up attack); the code is not sent anywhere.
        if let Some(issuer) = exchange.issuer
            && issuer != discovered.metadata.issuer
        {
            tracing::info!(provider = %self.inner.name, "callback with the iss of another issuer");
            return Err(Error::Code(ErrorCode::OAuthInvalidState));
        }
        let credentials = Credentials {
            client_id: self.inner.client_id.clone(),
            client_secret: self.inner.client_secret.clone(),
            auth: discovered.auth,
        };
        let tokens = http::exchange_code(
            &self.inner.client,
            &self.inner.name,
            &discovered.metadata.token_endpoint,
            &credentials,
            exchange.code,
            exchange.redirect_uri,
            exchange.code_verifier,
        )
        .await?;
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| self.error("no ID token in the token answer"))?;
        let (kid, alg) =
            id_token_header(id_token, &discovered.algorithms).map_err(|e| self.error(e))?;
        let key = self.key_for(discovered, kid.as_deref(), alg).await?;
        let claims = validate_id_token(
            id_token,
            &key,
            alg,
            &discovered.metadata.issuer,
            &self.inner.client_id,
            exchange.nonce,
        )
        .map_err(|e| self.error(e))?;
        // An empty subject would make every such account one; a NUL cannot be
        // stored.
        if claims.sub.is_empty() || claims.sub.contains('\0') {
            return Err(self.error("ID token with an empty or invalid subject"));
        }
        let (email, email_verified) = match &discovered.metadata.userinfo_endpoint {
            Some(url) => {
                let info = http::get_json(
                    &self.inner.client,
                    &self.inner.name,
                    "user-info endpoint",
                    url,
                    Some(&tokens.access_token),
                )
                .await?;
                // OpenID Connect Core §5.3.2: the user info must be the ID token's subject.
                if info.get("sub").and_then(Value::as_str) != Some(claims.sub.as_str()) {
                    return Err(self.error("user info for another subject than the ID token's"));
                }
                (
                    string_claim(info.get("email")),
                    bool_claim(info.get("email_verified")),
                )
            }
            None => (
                string_claim(claims.email.as_ref()),
                bool_claim(claims.email_verified.as_ref()),
            ),
        };
        Ok(OAuthLogin {
            oauth_name: self.inner.name.clone(),
            account_id: claims.sub,
            email_verified: email_verified && email.is_some(),
            email,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at: tokens.expires_at,
        })
    }
}
