//! Signed tokens: the JWT codec shared by access tokens (and, later, by the
//! purpose-bound reset, verify and OAuth-state tokens), and random opaque tokens.
//!
//! Every token purpose has its own audience (`fastapi-users:auth` for access
//! tokens), so a token minted for one purpose is rejected for every other.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The audience of access tokens, as FastAPI Users sets it.
pub const AUTH_AUDIENCE: &str = "fastapi-users:auth";

/// `len` random bytes from the operating system, URL-safe base64 without padding.
pub fn random_token(len: usize) -> Result<String> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("operating system random source failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Keys and algorithm for signing and verifying JWTs.
///
/// HS256 with a shared secret is the default and what FastAPI Users uses; RS256
/// and ES256 take a PEM key pair (the private key signs, the public one verifies).
/// Only the configured algorithm is accepted when verifying (no `none`, no HS512
/// for an HS256 codec). `Debug` never shows a key.
#[derive(Clone)]
pub struct JwtCodec {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    leeway: u64,
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCodec")
            .field("algorithm", &self.algorithm)
            .field("leeway", &self.leeway)
            .field("keys", &"[redacted]")
            .finish()
    }
}

impl JwtCodec {
    /// HS256 with this secret (FastAPI Users: the UTF-8 bytes of `SECRET`).
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self> {
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(Error::Config("the JWT secret must not be empty".into()));
        }
        Self::new(
            Algorithm::HS256,
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        )
    }

    /// RS256 with a PEM-encoded RSA key pair.
    pub fn rs256(private_pem: &[u8], public_pem: &[u8]) -> Result<Self> {
        let bad = |e: jsonwebtoken::errors::Error| Error::Config(format!("bad RSA key: {e}"));
        Self::new(
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(private_pem).map_err(bad)?,
            DecodingKey::from_rsa_pem(public_pem).map_err(bad)?,
        )
    }

    /// ES256 with a PEM-encoded P-256 key pair (private key in PKCS#8).
    pub fn es256(private_pem: &[u8], public_pem: &[u8]) -> Result<Self> {
        let bad = |e: jsonwebtoken::errors::Error| Error::Config(format!("bad EC key: {e}"));
        Self::new(
            Algorithm::ES256,
            EncodingKey::from_ec_pem(private_pem).map_err(bad)?,
            DecodingKey::from_ec_pem(public_pem).map_err(bad)?,
        )
    }

    fn new(algorithm: Algorithm, encoding: EncodingKey, decoding: DecodingKey) -> Result<Self> {
        let codec = Self {
            algorithm,
            encoding,
            decoding,
            leeway: 0,
        };
        codec.self_test()?;
        Ok(codec)
    }

    /// Seconds of tolerance on `exp` (default 0, as PyJWT in FastAPI Users).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs and verifies a token once, so that a misconfigured crypto backend
    /// (jsonwebtoken with none or both of its backends, which panics at first use)
    /// is reported when the application starts, not at the first login.
    fn self_test(&self) -> Result<()> {
        #[derive(Serialize, serde::Deserialize)]
        struct Probe {
            aud: String,
            exp: u64,
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let probe = Probe {
                aud: "axum-users:self-test".into(),
                exp: now_secs() + 60,
            };
            let token = self.encode(&probe)?;
            self.decode::<Probe>(&token, &["axum-users:self-test"])
                .map(|_| ())
                .ok_or_else(|| Error::Config("JWT self-test: token did not verify".into()))
        }));
        match outcome {
            Ok(result) => result,
            Err(_) => Err(Error::Config(
                "jsonwebtoken has no usable crypto backend: enable exactly one of its \
                 `rust_crypto` (axum-users' choice) and `aws_lc_rs` features in the \
                 whole dependency graph"
                    .into(),
            )),
        }
    }

    /// Signs claims.
    pub fn encode<C: Serialize>(&self, claims: &C) -> Result<String> {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("JWT signing failed: {e}")))
    }

    /// The validation rules of this codec for tokens of these audiences: the
    /// configured algorithm only, `exp` and `aud` required, `exp` checked with the
    /// codec's leeway, `nbf` checked when present. Build it once and pass it to
    /// [`decode_with`](Self::decode_with).
    pub fn validation(&self, audience: &[impl AsRef<str>]) -> Validation {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "aud"]);
        let audience: Vec<&str> = audience.iter().map(|a| a.as_ref()).collect();
        validation.set_audience(&audience);
        validation
    }

    /// Verifies a token's signature, algorithm, `exp` (required) and audience (one
    /// of `audience` must be in the token's `aud`, a string or a list), and returns
    /// its claims; `None` for any invalid token.
    pub fn decode<C: DeserializeOwned>(
        &self,
        token: &str,
        audience: &[impl AsRef<str>],
    ) -> Option<C> {
        self.decode_with(token, &self.validation(audience))
    }

    /// [`decode`](Self::decode) with validation rules built beforehand by
    /// [`validation`](Self::validation).
    pub fn decode_with<C: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Option<C> {
        jsonwebtoken::decode::<C>(token, &self.decoding, validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
