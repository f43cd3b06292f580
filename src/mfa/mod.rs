//! Multi-factor login: one-time codes ([`totp`], RFC 6238), recovery codes
//! ([`recovery`]), passkeys (`passkey`, feature `passkeys`), and the
//! two-step login that asks for them.
//!
//! Turn it on with [`UserManagerBuilder::mfa`](crate::UserManagerBuilder::mfa)
//! and mount [`Routes::mfa`](crate::Routes::mfa); the auth routers then get
//! `POST {prefix}/login/mfa` (and, with passkeys, `{prefix}/passkey/options`
//! and `{prefix}/passkey/login`). A user with TOTP on who gives the right
//! password gets 400 `LOGIN_MFA_REQUIRED` with an `mfa_token` instead of a
//! token, and logs in by sending it back with a code. The guide is
//! `guide::mfa` (docs/mfa.md).
//!
//! Secrets at rest: the TOTP secret is sealed ([`secret_box`]) under a key
//! derived from the application's token secret, recovery codes are keyed
//! digests, the `mfa_token` and the WebAuthn challenges are stored as
//! digests of what the client holds. A database dump alone yields nothing
//! that logs in.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{ChallengeStore, MfaStore};

#[cfg(feature = "passkeys")]
#[cfg_attr(docsrs, doc(cfg(feature = "passkeys")))]
pub mod passkey;
pub mod recovery;
pub mod secret_box;
pub mod totp;

/// How long an `mfa_token` lives: 5 minutes.
pub const MFA_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// How many bad codes an `mfa_token` survives: the 5th kills it.
pub const MFA_TOKEN_MAX_FAILURES: u32 = 5;

/// How long a WebAuthn challenge lives: 5 minutes.
pub const PASSKEY_CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);

/// The longest passkey name kept, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// Which factor a hook is told about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaFactor {
    /// TOTP, with its recovery codes.
    Totp,
    /// A passkey.
    Passkey,
    /// Every factor (a superuser's reset).
    All,
}

/// The second step a login needs: the `mfa_token` (the client sends it back
/// to `{prefix}/login/mfa` with a code) and the methods the user can use
/// (`"totp"`, `"recovery_code"`, `"passkey"`). `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    token: String,
    methods: Vec<&'static str>,
}

impl MfaChallenge {
    pub(crate) fn new(token: String, methods: Vec<&'static str>) -> Self {
        Self { token, methods }
    }

    /// The `mfa_token`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The methods the user can finish with.
    pub fn methods(&self) -> &[&'static str] {
        &self.methods
    }
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("token", &"[redacted]")
            .field("methods", &self.methods)
            .finish()
    }
}

/// A user's second factors, as `GET /users/me/mfa` answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MfaStatus {
    /// Whether TOTP is on (confirmed).
    pub totp: bool,
    /// How many recovery codes are left.
    pub recovery_codes_left: u32,
    /// How many passkeys the user has.
    pub passkeys: u32,
}

/// A TOTP enrolment begun: the secret to put in an authenticator app, as
/// base32 text and as an `otpauth://` URL (a QR code's content). `Debug`
/// hides both.
#[derive(Clone, serde::Serialize)]
pub struct TotpEnrolment {
    /// The secret, base32 without padding (160 bits).
    pub secret: String,
    /// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…`.
    pub otpauth_url: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment([redacted])")
    }
}

/// Recovery codes to show the user once. `Debug` hides them.
#[derive(Clone, serde::Serialize)]
pub struct RecoveryCodeList {
    /// The codes, `xxxxx-xxxxx`.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecoveryCodeList([{} redacted])",
            self.recovery_codes.len()
        )
    }
}

/// A passkey as the user sees it (`GET /users/me/passkeys`); times are
/// RFC 3339 in UTC, to the second.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PasskeyInfo {
    /// Its id.
    pub id: uuid::Uuid,
    /// The name the user gave it.
    pub name: String,
    /// When it was registered.
    pub created_at: String,
    /// When it last logged in, if ever.
    pub last_used_at: Option<String>,
}

impl PasskeyInfo {
    /// What the user sees of a stored passkey.
    pub fn of<Id>(passkey: &crate::store::StoredPasskey<Id>) -> Self {
        let time = |t: &chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        Self {
            id: passkey.id,
            name: passkey.name.clone(),
            created_at: time(&passkey.created_at),
            last_used_at: passkey.last_used_at.as_ref().map(time),
        }
    }
}

/// A WebAuthn ceremony begun: its id (sent back with the browser's answer)
/// and the options for `navigator.credentials` (`publicKey`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PasskeyOptions {
    /// The ceremony's id.
    pub challenge_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or
    /// `PublicKeyCredentialRequestOptionsJSON`.
    #[serde(rename = "publicKey")]
    pub public_key: serde_json::Value,
}

/// Multi-factor login's configuration: where factors and challenges are
/// stored, the issuer name authenticator apps show, and (feature `passkeys`)
/// the WebAuthn relying party. Given to
/// [`UserManagerBuilder::mfa`](crate::UserManagerBuilder::mfa).
///
/// ```
/// use axum_users::{User, UserManager, mfa::Mfa, store::MemoryStore};
/// let store = MemoryStore::<User>::new();
/// let manager = UserManager::builder(store.clone())
///     .token_secret("a secret of at least 32 bytes, from the environment")
///     .mfa(Mfa::new(store).issuer("Example"))
///     .build();
/// ```
pub struct Mfa<Id> {
    pub(crate) store: Arc<dyn MfaStore<Id>>,
    pub(crate) challenges: Arc<dyn ChallengeStore>,
    pub(crate) issuer: String,
    #[cfg(feature = "passkeys")]
    pub(crate) relying_party: Option<passkey::RelyingParty>,
}

impl<Id> Clone for Mfa<Id> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            challenges: Arc::clone(&self.challenges),
            issuer: self.issuer.clone(),
            #[cfg(feature = "passkeys")]
            relying_party: self.relying_party.clone(),
        }
    }
}

impl<Id> std::fmt::Debug for Mfa<Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Mfa");
        debug.field("issuer", &self.issuer);
        #[cfg(feature = "passkeys")]
        debug.field("relying_party", &self.relying_party);
        debug.finish_non_exhaustive()
    }
}

impl<Id: crate::user::UserId> Mfa<Id> {
    /// Factors and challenges in `store` (the provided stores keep both; so
    /// should the user store, so that a user's factors go with the user).
    /// The issuer is `"axum-users"` until [`issuer`](Self::issuer) says
    /// otherwise.
    pub fn new<M>(store: M) -> Self
    where
        M: MfaStore<Id> + ChallengeStore + Clone,
    {
        Self {
            store: Arc::new(store.clone()),
            challenges: Arc::new(store),
            issuer: "axum-users".to_owned(),
            #[cfg(feature = "passkeys")]
            relying_party: None,
        }
    }

    /// Challenges (`mfa_token`s, WebAuthn ceremonies) in another store than
    /// the factors.
    pub fn challenges(mut self, store: impl ChallengeStore) -> Self {
        self.challenges = Arc::new(store);
        self
    }

    /// The name authenticator apps show beside the account (the
    /// `otpauth://` URL's issuer).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Passkeys on, for this relying party: the passkey routes answer, and
    /// a passkey logs in without a password and satisfies the second factor.
    #[cfg(feature = "passkeys")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkeys")))]
    pub fn passkeys(mut self, relying_party: passkey::RelyingParty) -> Self {
        self.relying_party = Some(relying_party);
        self
    }

    /// Whether passkeys are on.
    pub fn has_passkeys(&self) -> bool {
        #[cfg(feature = "passkeys")]
        {
            self.relying_party.is_some()
        }
        #[cfg(not(feature = "passkeys"))]
        {
            false
        }
    }
}
