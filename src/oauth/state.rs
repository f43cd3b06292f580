//! The OAuth `state`: a JWT (HS256 under the state secret, audience
//! `fastapi-users:oauth-state`) carrying the CSRF token that the browser also
//! holds in a cookie, and for association the user id. FastAPI Users' format,
//! so that clients and tests can read and mint it.
//!
//! The PKCE verifier and the OpenID Connect nonce are derived from the CSRF
//! token with a key that never leaves the server: the browser sees the CSRF
//! token (in the state and its cookie) but cannot compute the verifier from
//! it, and nothing needs to be stored between authorize and callback.
//!
//! A state belongs to one router: its provider and callback URL (the
//! *target*) go into the derivation, so a state issued for one provider (or
//! for linking) gives the wrong verifier and nonce anywhere else and the code
//! is refused; the state also names its target (claim `oauth_target`, a keyed
//! digest), so such a mix-up is refused before any code exchange.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode, Result};
use crate::tokens::{JwtCodec, Secret, hmac_sha256, now_secs, random_token};

/// The audience of OAuth state tokens, as FastAPI Users sets it.
pub const STATE_AUDIENCE: &str = "fastapi-users:oauth-state";

/// The claims of a state token that the routers read; other claims are
/// allowed and ignored.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StateClaims {
    pub(crate) csrftoken: String,
    #[serde(default)]
    pub(crate) sub: Option<String>,
    /// The router the state was issued for; states minted elsewhere (by
    /// FastAPI Users' clients, or tests) may lack it.
    #[serde(default)]
    pub(crate) oauth_target: Option<String>,
}

#[derive(Serialize)]
struct NewState<'a> {
    csrftoken: &'a str,
    aud: &'a str,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    oauth_target: &'a str,
}

/// Issues and checks state tokens, and derives the per-login secrets.
#[derive(Clone)]
pub(crate) struct StateCodec {
    codec: JwtCodec,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: u64,
    derive_key: [u8; 32],
    /// The provider's name and the callback URL, NUL-separated.
    target: Vec<u8>,
    /// The keyed digest of `target` that states carry.
    target_digest: String,
}

impl std::fmt::Debug for StateCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCodec")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// A fresh login's state token and the CSRF token for its cookie.
pub(crate) struct IssuedState {
    pub(crate) state: String,
    pub(crate) csrf: String,
}

impl StateCodec {
    /// States signed with `secret`, valid `lifetime` seconds, for the router
    /// of `provider` whose callback URL is `redirect_uri`.
    pub(crate) fn new(
        secret: &Secret,
        lifetime: u64,
        provider: &str,
        redirect_uri: &str,
    ) -> Result<Self> {
        let codec = JwtCodec::hs256(secret.expose())?;
        let mut validation = Validation::new(Algorithm::HS256);
        // PyJWT (FastAPI Users) allows no leeway; neither do we.
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.set_audience(&[STATE_AUDIENCE]);
        let derive_key = hmac_sha256(secret.expose(), b"axum-users:oauth-derive-key");
        let mut target = Vec::with_capacity(provider.len() + 1 + redirect_uri.len());
        target.extend_from_slice(provider.as_bytes());
        target.push(0);
        target.extend_from_slice(redirect_uri.as_bytes());
        let mut labelled = b"oauth-target\0".to_vec();
        labelled.extend_from_slice(&target);
        let target_digest = URL_SAFE_NO_PAD.encode(&hmac_sha256(&derive_key, &labelled)[..16]);
        Ok(Self {
            codec,
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            lifetime,
            derive_key,
            target,
            target_digest,
        })
    }

    /// The same codec issuing states valid for `lifetime` seconds.
    pub(crate) fn with_lifetime(mut self, lifetime: u64) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// A new state with a fresh CSRF token; `sub` for association.
    pub(crate) fn issue(&self, sub: Option<&str>) -> Result<IssuedState> {
        let csrf = random_token(32)?;
        let state = self.codec.encode(&NewState {
            csrftoken: &csrf,
            aud: STATE_AUDIENCE,
            exp: now_secs() + self.lifetime,
            sub,
            oauth_target: &self.target_digest,
        })?;
        Ok(IssuedState { state, csrf })
    }

    /// The claims of a valid state: `ACCESS_TOKEN_ALREADY_EXPIRED` for an
    /// expired one with a valid signature, `ACCESS_TOKEN_DECODE_ERROR` for
    /// anything else (garbage, bad signature, another audience).
    pub(crate) fn read(&self, state: &str) -> Result<StateClaims> {
        match jsonwebtoken::decode::<StateClaims>(state, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
                Err(Error::Code(ErrorCode::AccessTokenAlreadyExpired))
            }
            Err(_) => Err(Error::Code(ErrorCode::AccessTokenDecodeError)),
        }
    }

    /// Whether a state's claims are for this router (true for a state that
    /// names no router: its verifier, derived for this router, decides).
    pub(crate) fn is_for_this_router(&self, claims: &StateClaims) -> bool {
        use subtle::ConstantTimeEq;
        claims
            .oauth_target
            .as_deref()
            .is_none_or(|digest| bool::from(digest.as_bytes().ct_eq(self.target_digest.as_bytes())))
    }

    /// The PKCE verifier of the login with this CSRF token: 43 characters of
    /// base64url (RFC 7636 §4.1), from a server-side key.
    pub(crate) fn pkce_verifier(&self, csrf: &str) -> String {
        self.derive(b"pkce-verifier", csrf)
    }

    /// The OpenID Connect nonce of the login with this CSRF token.
    pub(crate) fn nonce(&self, csrf: &str) -> String {
        self.derive(b"nonce", csrf)
    }

    fn derive(&self, label: &[u8], csrf: &str) -> String {
        let mut input = Vec::with_capacity(label.len() + self.target.len() + 2 + csrf.len());
        input.extend_from_slice(label);
        input.push(0);
        input.extend_from_slice(&self.target);
        input.push(0);
        input.extend_from_slice(csrf.as_bytes());
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.derive_key, &input))
    }
}

/// The S256 challenge of a PKCE verifier.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A codec whose secret is `name` made long enough.
    fn codec(name: &str) -> StateCodec {
        StateCodec::new(&secret(name), 3600, "oidc", "https://app/cb").unwrap()
    }

    fn secret(name: &str) -> Secret {
        Secret::new(format!("{name}-a-state-secret-of-32-bytes-or-more"))
    }

    #[test]
    fn state_round_trips_and_is_bound_to_its_secret() {
        let issued = codec("s").issue(Some("user-1")).unwrap();
        let claims = codec("s").read(&issued.state).unwrap();
        assert_eq!(claims.csrftoken, issued.csrf);
        assert_eq!(claims.sub.as_deref(), Some("user-1"));
        assert!(matches!(
            codec("other").read(&issued.state),
            Err(Error::Code(ErrorCode::AccessTokenDecodeError))
        ));
        assert!(matches!(
            codec("s").read("garbage"),
            Err(Error::Code(ErrorCode::AccessTokenDecodeError))
        ));
    }

    #[test]
    fn a_state_names_its_router() {
        let login = codec("s");
        let other = StateCodec::new(&secret("s"), 3600, "oidc", "https://app/associate").unwrap();
        let claims = login.read(&login.issue(None).unwrap().state).unwrap();
        assert!(login.is_for_this_router(&claims));
        assert!(!other.is_for_this_router(&claims));
        // A state minted without the claim (FastAPI Users' format) is let
        // through to the verifier, which is this router's.
        let bare = StateClaims {
            csrftoken: "x".into(),
            sub: None,
            oauth_target: None,
        };
        assert!(other.is_for_this_router(&bare));
    }

    #[test]
    fn expired_state_is_told_apart() {
        let expired = StateCodec::new(&secret("s"), 0, "oidc", "https://app/cb").unwrap();
        let issued = expired.issue(None).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(matches!(
            codec("s").read(&issued.state),
            Err(Error::Code(ErrorCode::AccessTokenAlreadyExpired))
        ));
    }

    #[test]
    fn pkce_verifier_is_keyed_and_well_formed() {
        let a = codec("s");
        let verifier = a.pkce_verifier("csrf");
        assert_eq!(verifier.len(), 43);
        assert_eq!(verifier, a.pkce_verifier("csrf"));
        assert_ne!(verifier, a.pkce_verifier("other"));
        assert_ne!(verifier, codec("t").pkce_verifier("csrf"));
        assert_ne!(verifier, a.nonce("csrf"));
        // Another provider, or another callback of the same provider (the
        // associate router's), derives another verifier from the same state.
        let other_provider =
            StateCodec::new(&secret("s"), 3600, "github", "https://app/cb").unwrap();
        let other_callback =
            StateCodec::new(&secret("s"), 3600, "oidc", "https://app/cb2").unwrap();
        assert_ne!(verifier, other_provider.pkce_verifier("csrf"));
        assert_ne!(verifier, other_callback.pkce_verifier("csrf"));
        assert_ne!(a.nonce("csrf"), other_provider.nonce("csrf"));
        assert_eq!(pkce_challenge(&verifier).len(), 43);
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
