//! [`OidcProvider`]: any OpenID Connect provider, configured by discovery.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
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

/// How much clock difference with the provider an ID token's `exp`, `iat`
/// and `nbf` tolerate.
const ID_TOKEN_LEEWAY: u64 = 60;
/// The provider's keys are fetched again for an unknown key id at most this
/// often (key rotation), so forged key ids cannot make us hammer the provider.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The asymmetric algorithms accepted for ID tokens. HMAC (keyed with the
/// client secret) and `none` are refused.
const ID_TOKEN_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

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

fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        // Only the asymmetric algorithms above are ever asked about.
        _ => "",
    }
}

/// The keys of a JWKS document that can verify signatures; symmetric keys and
/// keys of unknown types are left out.
fn parse_jwks(document: &Value) -> Vec<Jwk> {
    document
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
                .filter(|jwk| {
                    !matches!(
                        jwk.algorithm,
                        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a key's type can verify `alg` (RSA for RS*/PS*, EC for ES*, OKP
/// for EdDSA): a header cannot make us use a key with another algorithm.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let family_fits = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => matches!(alg, Algorithm::ES256 | Algorithm::ES384),
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        _ => false,
    };
    let usable = !matches!(
        jwk.common.public_key_use,
        Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
    );
    // A key that names its algorithm is used for that one only.
    let declared_fits = jwk
        .common
        .key_algorithm
        .is_none_or(|declared| declared == jsonwebtoken::jwk::KeyAlgorithm::from(alg));
    family_fits && usable && declared_fits
}

/// The key with this id (or, without one, the only key that fits).
fn select_key<'k>(keys: &'k [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'k Jwk> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid) && key_fits(jwk, alg)),
        None => {
            let mut fitting = keys.iter().filter(|jwk| key_fits(jwk, alg));
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// The claims of an ID token that sign-in reads.
#[derive(Debug, Deserialize)]
pub(crate) struct IdClaims {
    pub(crate) sub: String,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
    #[serde(default)]
    pub(crate) azp: Option<String>,
    #[serde(default)]
    pub(crate) aud: Option<Value>,
    #[serde(default)]
    pub(crate) email: Option<Value>,
    #[serde(default)]
    pub(crate) email_verified: Option<Value>,
}

/// Why an ID token was refused (logged, never sent).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IdTokenError {
    Header,
    Algorithm,
    Invalid(String),
    Nonce,
    AuthorizedParty,
}

impl std::fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdTokenError::Header => f.write_str("ID token header unreadable"),
            IdTokenError::Algorithm => {
                f.write_str("ID token signed with an algorithm not accepted")
            }
            IdTokenError::Invalid(reason) => write!(f, "ID token invalid: {reason}"),
            IdTokenError::Nonce => f.write_str("ID token nonce does not match"),
            IdTokenError::AuthorizedParty => f.write_str("ID token issued to another party"),
        }
    }
}

/// The header fields needed to pick the key: `(kid, alg)`, with `alg` one of
/// `accepted`.
pub(crate) fn id_token_header(
    token: &str,
    accepted: &[Algorithm],
) -> Result<(Option<String>, Algorithm), IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Header)?;
    if !accepted.contains(&header.alg) || !ID_TOKEN_ALGORITHMS.contains(&header.alg) {
        return Err(IdTokenError::Algorithm);
    }
    Ok((header.kid, header.alg))
}

/// Checks an ID token (OpenID Connect Core §3.1.3.7): signature with `key`
/// under `alg`, `iss` = `issuer`, `aud` containing `client_id` (and `azp` =
/// `client_id` when present), `exp` in the future, and `nonce` = `nonce`.
pub(crate) fn validate_id_token(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<IdClaims, IdTokenError> {
    let mut validation = Validation::new(alg);
    validation.leeway = ID_TOKEN_LEEWAY;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    let claims = jsonwebtoken::decode::<IdClaims>(token, key, &validation)
        .map_err(|e| IdTokenError::Invalid(e.to_string()))?
        .claims;
    use subtle::ConstantTimeEq;
    let nonce_matches = claims
        .nonce
        .as_deref()
        .is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(nonce.as_bytes())));
    if !nonce_matches {
        return Err(IdTokenError::Nonce);
    }
    let several_audiences = matches!(&claims.aud, Some(Value::Array(list)) if list.len() > 1);
    match &claims.azp {
        Some(azp) if azp != client_id => return Err(IdTokenError::AuthorizedParty),
        None if several_audiences => return Err(IdTokenError::AuthorizedParty),
        _ => {}
    }
    Ok(claims)
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

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://id.example.com";
    const CLIENT: &str = "client-1";
    const NONCE: &str = "nonce-1";

    fn jwk(name: &str) -> Jwk {
        let text = match name {
            "a" => include_str!("testdata/jwk_a.json"),
            _ => include_str!("testdata/jwk_b.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn sign(private: &str, kid: &str, claims: Value) -> String {
        let pem = match private {
            "a" => include_bytes!("testdata/rsa_a.pem").as_slice(),
            _ => include_bytes!("testdata/rsa_b.pem").as_slice(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": CLIENT,
            "sub": "alice",
            "nonce": NONCE,
            "iat": crate::tokens::now_secs(),
            "exp": crate::tokens::now_secs() + 300,
        })
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    /// Header → key → validation, as sign-in does it.
    fn check(token: &str) -> Result<IdClaims, IdTokenError> {
        let keys = vec![jwk("a")];
        let (kid, alg) = id_token_header(token, &[Algorithm::RS256])?;
        let key = select_key(&keys, kid.as_deref(), alg).ok_or(IdTokenError::Header)?;
        validate_id_token(
            token,
            &DecodingKey::from_jwk(key).unwrap(),
            alg,
            ISSUER,
            CLIENT,
            NONCE,
        )
    }

    #[test]
    fn a_genuine_id_token_is_accepted() {
        let claims = check(&sign("a", "key-a", claims())).unwrap();
        assert_eq!(claims.sub, "alice");
    }

    #[test]
    fn an_id_token_with_a_bad_signature_is_rejected() {
        // Signed with another key under the published key's id.
        let forged = sign("b", "key-a", claims());
        assert!(matches!(check(&forged), Err(IdTokenError::Invalid(_))));
        // A flipped signature byte.
        let genuine = sign("a", "key-a", claims());
        let (head, signature) = genuine.rsplit_once('.').unwrap();
        let mut bytes = signature.as_bytes().to_vec();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{head}.{}", String::from_utf8(bytes).unwrap());
        assert!(matches!(check(&tampered), Err(IdTokenError::Invalid(_))));
    }

    #[test]
    fn an_id_token_from_another_issuer_is_rejected() {
        let token = sign(
            "a",
            "key-a",
            with(claims(), "iss", json!("https://evil.example")),
        );
        assert!(matches!(check(&token), Err(IdTokenError::Invalid(_))));
    }

    #[test]
    fn an_id_token_for_another_audience_is_rejected() {
        let token = sign("a", "key-a", with(claims(), "aud", json!("other-client")));
        assert!(matches!(check(&token), Err(IdTokenError::Invalid(_))));
        // Several audiences but issued to (azp) another party.
        let token = sign(
            "a",
            "key-a",
            with(
                with(claims(), "aud", json!([CLIENT, "other-client"])),
                "azp",
                json!("other-client"),
            ),
        );
        assert_eq!(check(&token).unwrap_err(), IdTokenError::AuthorizedParty);
    }

    #[test]
    fn an_id_token_with_a_stale_or_missing_nonce_is_rejected() {
        let stale = sign(
            "a",
            "key-a",
            with(claims(), "nonce", json!("nonce-of-another-login")),
        );
        assert_eq!(check(&stale).unwrap_err(), IdTokenError::Nonce);
        let mut without = claims();
        without.as_object_mut().unwrap().remove("nonce");
        assert_eq!(
            check(&sign("a", "key-a", without)).unwrap_err(),
            IdTokenError::Nonce
        );
    }

    #[test]
    fn an_expired_id_token_is_rejected() {
        let expired = with(claims(), "exp", json!(crate::tokens::now_secs() - 3600));
        assert!(matches!(
            check(&sign("a", "key-a", expired)),
            Err(IdTokenError::Invalid(_))
        ));
    }

    #[test]
    fn symmetric_and_none_algorithms_are_refused() {
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"client-secret"),
        )
        .unwrap();
        assert_eq!(check(&hs).unwrap_err(), IdTokenError::Algorithm);
        // alg "none": header {"alg":"none"} and no signature.
        let none = format!(
            "{}.{}.",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                br#"{"alg":"none"}"#
            ),
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                claims().to_string()
            )
        );
        assert!(check(&none).is_err());
    }

    #[test]
    fn keys_are_picked_by_id_and_type() {
        let keys = vec![jwk("a"), jwk("b")];
        assert!(select_key(&keys, Some("key-b"), Algorithm::RS256).is_some());
        assert!(select_key(&keys, Some("key-c"), Algorithm::RS256).is_none());
        assert!(
            select_key(&keys, Some("key-a"), Algorithm::ES256).is_none(),
            "RSA key for ES256"
        );
        assert!(
            select_key(&keys, Some("key-a"), Algorithm::PS256).is_none(),
            "a key declared RS256 is not used for PS256"
        );
        assert!(
            select_key(&keys, None, Algorithm::RS256).is_none(),
            "ambiguous without a kid"
        );
        assert!(select_key(&keys[..1], None, Algorithm::RS256).is_some());
        let jwks = parse_jwks(&json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"},
            {"kty": "weird"},
            serde_json::from_str::<Value>(include_str!("testdata/jwk_a.json")).unwrap(),
        ]}));
        assert_eq!(jwks.len(), 1, "symmetric and unknown keys are dropped");
    }
}
