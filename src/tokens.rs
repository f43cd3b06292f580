//! Signed tokens: the JWT codec ([`JwtCodec`]) shared by access tokens, OAuth
//! states and the purpose-bound reset and verification tokens (the crate's
//! own), and random opaque tokens ([`random_token`]).
//!
//! Most applications only meet [`JwtCodec`], to give
//! [`JwtStrategy::new`](crate::auth::JwtStrategy::new) an RS256 or ES256 key
//! pair instead of a shared HS256 secret.
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
        .map_err(|e| Error::internal("the operating system's random source", e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

/// The SHA-256 digest of an opaque token, lowercase hex: what the session
/// strategies store instead of the token.
pub(crate) fn token_digest(token: &str) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(token.as_bytes()))
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

/// The fewest bytes an HS256 secret may have: 32 (256 bits, the size of the
/// HMAC-SHA256 output, as RFC 7518 §3.2 requires). A shorter or guessable
/// secret lets anyone who finds it mint a token for any user.
pub const MIN_SECRET_BYTES: usize = 32;

/// Checks a signing secret's length: never empty, and at least
/// [`MIN_SECRET_BYTES`] unless `allow_short`.
pub(crate) fn check_secret(secret: &[u8], what: &str, allow_short: bool) -> Result<()> {
    if secret.is_empty() {
        return Err(Error::Config(format!("the {what} must not be empty")));
    }
    if !allow_short && secret.len() < MIN_SECRET_BYTES {
        return Err(Error::Config(format!(
            "the {what} has {} bytes; at least {MIN_SECRET_BYTES} are required (for example \
             48 random bytes in base64: `openssl rand -base64 48`). A deployment migrated \
             with a shorter secret can opt in explicitly: `JwtStrategy::hs256_allow_short`, \
             `UserManagerBuilder::allow_short_secrets`",
            secret.len()
        )));
    }
    Ok(())
}

impl JwtCodec {
    /// HS256 with this secret (FastAPI Users: the UTF-8 bytes of `SECRET`),
    /// which must have at least [`MIN_SECRET_BYTES`] (32) bytes: a shorter one
    /// is an [`Error::Config`] naming the minimum.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self> {
        Self::hs256_checked(secret.as_ref(), false)
    }

    /// HS256 with a secret that may be shorter than [`MIN_SECRET_BYTES`]
    /// (never empty): only for a deployment migrated from FastAPI Users whose
    /// `SECRET` is shorter, so that its users' tokens stay valid. A short
    /// secret can be guessed offline from any token it signed; move to a long
    /// one as soon as the old tokens may die.
    pub fn hs256_allow_short(secret: impl AsRef<[u8]>) -> Result<Self> {
        Self::hs256_checked(secret.as_ref(), true)
    }

    fn hs256_checked(secret: &[u8], allow_short: bool) -> Result<Self> {
        check_secret(secret, "HS256 secret", allow_short)?;
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
            .map_err(|e| Error::internal("JWT signing", e))
    }

    /// The validation rules of this codec for tokens of these audiences: the
    /// configured algorithm only, `exp` and `aud` required, `exp` checked with the
    /// codec's leeway, `nbf` checked when present. Build it once and pass it to
    /// [`decode_with`](Self::decode_with).
    pub(crate) fn validation(&self, audience: &[impl AsRef<str>]) -> Validation {
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
    pub(crate) fn decode_with<C: DeserializeOwned>(
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

/// The audience of password-reset tokens, as FastAPI Users sets it.
pub const RESET_AUDIENCE: &str = "fastapi-users:reset";
/// The audience of e-mail verification tokens, as FastAPI Users sets it.
pub const VERIFY_AUDIENCE: &str = "fastapi-users:verify";
/// The audience of e-mail change tokens (`POST /auth/confirm-email-change`).
pub const EMAIL_CHANGE_AUDIENCE: &str = "axum-users:change-email";

/// A secret for signing tokens; `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes (for HS256: the UTF-8 bytes of a string secret).
    pub(crate) fn new(secret: impl AsRef<[u8]>) -> Self {
        Self(secret.as_ref().to_vec())
    }

    /// 32 random bytes, for a process that was given no secret.
    pub(crate) fn random() -> Result<Self> {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::internal("the operating system's random source", e.to_string()))?;
        Ok(Self(bytes))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Signs and reads the tokens of one purpose (password reset, e-mail
/// verification, …): HS256 under the purpose's secret, its own audience, and a
/// lifetime (one hour by default). A token of another purpose, even signed with
/// the same secret, carries another audience and is refused.
#[derive(Clone)]
pub(crate) struct PurposeTokens {
    codec: JwtCodec,
    audience: [String; 1],
    lifetime: Duration,
    validation: Validation,
    /// A key derived from the secret, for keyed digests carried in the tokens.
    digest_key: [u8; 32],
}

impl std::fmt::Debug for PurposeTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurposeTokens")
            .field("audience", &self.audience[0])
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Stamped<'a, C> {
    #[serde(flatten)]
    claims: &'a C,
    aud: &'a str,
    exp: u64,
}

impl PurposeTokens {
    /// Tokens of `audience`, signed with `secret` (at least
    /// [`MIN_SECRET_BYTES`] bytes, unless `allow_short`), valid for
    /// `lifetime`.
    pub(crate) fn with_secret(
        secret: &Secret,
        audience: &str,
        lifetime: Duration,
        allow_short: bool,
    ) -> Result<Self> {
        let codec = JwtCodec::hs256_checked(secret.expose(), allow_short)?;
        let audience = [audience.to_owned()];
        let validation = codec.validation(&audience);
        let digest_key = hmac_sha256(secret.expose(), b"axum-users:token-digest-key");
        Ok(Self {
            codec,
            audience,
            lifetime,
            validation,
            digest_key,
        })
    }

    /// A token carrying `claims` (which must serialise to a JSON object without
    /// `aud` or `exp`), this purpose's audience and an expiry.
    pub(crate) fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        self.codec.encode(&Stamped {
            claims,
            aud: &self.audience[0],
            exp: now_secs() + self.lifetime.as_secs(),
        })
    }

    /// The claims of a valid, unexpired token of this purpose; `None` otherwise.
    pub(crate) fn read<C: DeserializeOwned>(&self, token: &str) -> Option<C> {
        self.codec.decode_with(token, &self.validation)
    }

    /// A keyed digest (HMAC-SHA256 under a key derived from the secret) of
    /// `data`, URL-safe base64: it binds a token to a value without revealing it.
    pub(crate) fn digest(&self, data: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.digest_key, data))
    }

    /// Whether `digest` is [`digest`](Self::digest) of `data`, compared in constant
    /// time.
    pub(crate) fn digest_matches(&self, digest: &str, data: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.digest(data);
        expected.as_bytes().ct_eq(digest.as_bytes()).into()
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
    }

    #[test]
    fn purpose_tokens_round_trip_and_refuse_other_purposes() {
        let secret = Secret::new("s3cret-s3cret-s3cret-s3cret-s3cret");
        let reset =
            PurposeTokens::with_secret(&secret, RESET_AUDIENCE, Duration::from_secs(60), false)
                .unwrap();
        let verify =
            PurposeTokens::with_secret(&secret, VERIFY_AUDIENCE, Duration::from_secs(60), false)
                .unwrap();
        let token = reset.sign(&Claims { sub: "u".into() }).unwrap();
        assert_eq!(
            reset.read::<Claims>(&token),
            Some(Claims { sub: "u".into() })
        );
        assert_eq!(verify.read::<Claims>(&token), None);
        let other = PurposeTokens::with_secret(
            &Secret::new("another-secret-of-32-bytes-or-more"),
            RESET_AUDIENCE,
            Duration::from_secs(60),
            false,
        )
        .unwrap();
        assert_eq!(other.read::<Claims>(&token), None);
    }

    #[test]
    fn digests_are_keyed_and_compared() {
        let secret = |c: char| Secret::new(c.to_string().repeat(32));
        let a = PurposeTokens::with_secret(
            &secret('a'),
            RESET_AUDIENCE,
            Duration::from_secs(60),
            false,
        )
        .unwrap();
        let b = PurposeTokens::with_secret(
            &secret('b'),
            RESET_AUDIENCE,
            Duration::from_secs(60),
            false,
        )
        .unwrap();
        let d = a.digest(b"$argon2id$hash");
        assert!(a.digest_matches(&d, b"$argon2id$hash"));
        assert!(!a.digest_matches(&d, b"$argon2id$other"));
        assert!(!b.digest_matches(&d, b"$argon2id$hash"));
        assert!(!d.contains("argon2"));
    }

    #[test]
    fn token_digest_is_sha256_hex() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn short_secrets_are_refused_unless_allowed_and_empty_ones_always() {
        let short = "x".repeat(MIN_SECRET_BYTES - 1);
        match JwtCodec::hs256(&short) {
            Err(Error::Config(message)) => {
                assert!(message.contains("at least 32"), "{message}");
                assert!(message.contains("31 bytes"), "{message}");
            }
            other => panic!("a 31-byte secret: {other:?}"),
        }
        assert!(JwtCodec::hs256("x".repeat(MIN_SECRET_BYTES)).is_ok());
        assert!(JwtCodec::hs256_allow_short(&short).is_ok());
        assert!(JwtCodec::hs256_allow_short("").is_err());
        assert!(
            PurposeTokens::with_secret(&Secret::new(&short), RESET_AUDIENCE, Duration::ZERO, false)
                .is_err()
        );
        assert!(
            PurposeTokens::with_secret(&Secret::new(&short), RESET_AUDIENCE, Duration::ZERO, true)
                .is_ok()
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret([redacted])"
        );
    }
}
