//! The multi-factor use cases ([`crate::mfa`]): TOTP enrolment and removal,
//! recovery codes, the second step of a login, a superuser's reset, and
//! passkeys (feature `passkeys`).
//!
//! Every rule about second factors is here; the store only keeps them
//! (compare-and-sets for what may be used once).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use http::request::Parts;
use serde::{Deserialize, Serialize};

use super::{IdOf, UserManager, UserOf};
use crate::error::{Error, ErrorCode, Result};
use crate::hooks::UserHooks;
use crate::mfa::recovery::{RecoveryCodes, RecoveryKey};
use crate::mfa::secret_box::SecretBox;
use crate::mfa::totp::{self, TotpSecret};
use crate::mfa::{
    MFA_TOKEN_LIFETIME, MFA_TOKEN_MAX_FAILURES, Mfa, MfaChallenge, MfaFactor, MfaStatus,
    RecoveryCodeList, TotpEnrolment,
};
use crate::store::{MfaStore, UserStore};
use crate::throttle::Attempt;
use crate::tokens::{random_token, token_digest};
use crate::user::{Password, UserModel};

/// Multi-factor login as a manager holds it: the configuration and the keys
/// derived from the token secret.
pub(crate) struct MfaRuntime<Id> {
    pub(crate) config: Mfa<Id>,
    secret_box: SecretBox,
    recovery_key: RecoveryKey,
    /// Challenges stored so far, to sweep the dead ones now and then.
    challenges_put: AtomicU64,
}

/// Dead challenges are swept once every this many stored.
const SWEEP_EVERY: u64 = 64;

impl<Id> MfaRuntime<Id> {
    /// The runtime of `config`, its keys derived from `secret`.
    pub(crate) fn new(config: Mfa<Id>, secret: &[u8]) -> Result<Self> {
        Ok(Self {
            config,
            secret_box: SecretBox::new(secret)?,
            recovery_key: RecoveryKey::new(secret)?,
            challenges_put: AtomicU64::new(0),
        })
    }

    /// Stores a challenge under `key` for `lifetime`; every
    /// [`SWEEP_EVERY`]th time, deletes the dead ones too (a store that
    /// nobody sweeps only shrinks when challenges are used).
    pub(crate) async fn put_challenge(
        &self,
        key: &str,
        data: &[u8],
        lifetime: std::time::Duration,
    ) -> Result<()> {
        let now = Utc::now();
        let expires_at = now
            + chrono::Duration::from_std(lifetime)
                .map_err(|e| Error::internal("a challenge lifetime", e))?;
        let challenges = self.config.challenges.as_ref();
        challenges.put_challenge(key, data, expires_at).await?;
        if self.challenges_put.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Housekeeping: the request succeeds whether or not it does.
            if let Err(e) = challenges.delete_expired_challenges(now).await {
                tracing::debug!(error = %e, "deleting expired challenges failed");
            }
        }
        Ok(())
    }

    pub(crate) fn store(&self) -> &dyn MfaStore<Id> {
        self.config.store.as_ref()
    }
}

/// What an `mfa_token` stands for (stored under the token's digest): the
/// user, the backend whose login it continues (any, when `None`), and the
/// user's generations when it was made, so that a new password, a
/// deactivation or a logout everywhere ends it.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    user: String,
    backend: Option<String>,
    #[serde(rename = "gen")]
    token_generation: u32,
    #[serde(rename = "pgen")]
    password_generation: u32,
}

/// The key of an `mfa_token`'s challenge.
fn login_key(token: &str) -> String {
    format!("mfa-login:{}", token_digest(token))
}

/// Seconds since the Unix epoch, for TOTP.
fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
    /// Whether multi-factor login is configured
    /// ([`UserManagerBuilder::mfa`](super::UserManagerBuilder::mfa)).
    pub fn has_mfa(&self) -> bool {
        self.inner.mfa.is_some()
    }

    /// Whether passkeys are configured ([`Mfa::passkeys`]).
    pub fn has_passkeys(&self) -> bool {
        self.inner
            .mfa
            .as_ref()
            .is_some_and(|mfa| mfa.config.has_passkeys())
    }

    /// The MFA runtime, or a configuration error (a route of the MFA router
    /// mounted on a manager without MFA is refused when mounted, so this is
    /// for direct callers).
    pub(crate) fn mfa_runtime(&self) -> Result<&MfaRuntime<IdOf<S>>> {
        self.inner.mfa.as_ref().ok_or_else(|| {
            Error::Config("multi-factor login is not configured (UserManagerBuilder::mfa)".into())
        })
    }

    /// The user's second factors (`GET /users/me/mfa`).
    pub async fn mfa_status(&self, user: &UserOf<S>) -> Result<MfaStatus> {
        let mfa = self.mfa_runtime()?;
        let id = user.id();
        let totp = mfa
            .store()
            .totp(id)
            .await?
            .is_some_and(|factor| factor.confirmed);
        let recovery_codes_left = match totp {
            true => mfa.store().recovery_codes(id).await?.len(),
            false => 0,
        };
        let passkeys = mfa.store().passkeys(id).await?.len();
        Ok(MfaStatus {
            totp,
            recovery_codes_left: u32::try_from(recovery_codes_left).unwrap_or(u32::MAX),
            passkeys: u32::try_from(passkeys).unwrap_or(u32::MAX),
        })
    }

    /// Begins a TOTP enrolment after checking the current password (counted
    /// by the login throttle): a new secret, pending until
    /// [`confirm_totp`](Self::confirm_totp); asking again while pending
    /// replaces it. 400 `INVALID_CURRENT_PASSWORD`, 429, or
    /// `MFA_ALREADY_ENABLED` when TOTP is on.
    pub async fn start_totp(
        &self,
        user: &UserOf<S>,
        current_password: &Password,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<TotpEnrolment> {
        let mfa = self.mfa_runtime()?;
        self.check_current_password(user, current_password, client, request)
            .await?;
        let secret = TotpSecret::generate()?;
        let sealed = mfa
            .secret_box
            .seal(secret.as_bytes(), user.id().to_string().as_bytes())?;
        if !mfa
            .store()
            .set_pending_totp(user.id(), &sealed, Utc::now())
            .await?
        {
            return Err(Error::Code(ErrorCode::MfaAlreadyEnabled));
        }
        Ok(TotpEnrolment {
            secret: secret.to_base32(),
            otpauth_url: totp::otpauth_url(&secret, &mfa.config.issuer, user.email()),
        })
    }

    /// Confirms the pending TOTP enrolment with a first code: TOTP is on,
    /// and the user gets 10 new recovery codes, shown once. 400
    /// `MFA_NOT_PENDING` without a pending enrolment, `MFA_BAD_CODE` for a
    /// wrong code. Fires `on_after_mfa_enabled`.
    pub async fn confirm_totp(
        &self,
        user: &UserOf<S>,
        code: &str,
        request: Option<&Parts>,
    ) -> Result<RecoveryCodeList> {
        let mfa = self.mfa_runtime()?;
        let id = user.id();
        let factor = match mfa.store().totp(id).await? {
            Some(factor) if !factor.confirmed => factor,
            _ => return Err(Error::Code(ErrorCode::MfaNotPending)),
        };
        let secret = self.open_totp_secret(mfa, user, &factor.secret)?;
        let Some(step) = totp::verify(&secret, code, unix_now(), None) else {
            return Err(Error::Code(ErrorCode::MfaBadCode));
        };
        let (shown, stored) = RecoveryCodes::generate(&mfa.recovery_key)?;
        // Only the secret this code was checked against is confirmed: one
        // replaced meanwhile (a second enrolment) stays pending.
        if !mfa
            .store()
            .confirm_totp(id, &factor.secret, step, &stored, Utc::now())
            .await?
        {
            return Err(Error::Code(ErrorCode::MfaNotPending));
        }
        tracing::info!(
            target: "axum_users::audit",
            event = "mfa_enabled",
            user = %id,
            factor = "totp",
            "TOTP was turned on"
        );
        self.mfa_hook(user, MfaFactor::Totp, true, request).await;
        Ok(RecoveryCodeList {
            recovery_codes: shown,
        })
    }

    /// Turns TOTP off, with its recovery codes, after checking the current
    /// password (counted by the login throttle). Fires
    /// `on_after_mfa_disabled` when TOTP was on.
    pub async fn disable_totp(
        &self,
        user: &UserOf<S>,
        current_password: &Password,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<()> {
        let mfa = self.mfa_runtime()?;
        self.check_current_password(user, current_password, client, request)
            .await?;
        if mfa.store().delete_totp(user.id()).await? {
            tracing::info!(
                target: "axum_users::audit",
                event = "mfa_disabled",
                user = %user.id(),
                factor = "totp",
                "TOTP was turned off"
            );
            self.mfa_hook(user, MfaFactor::Totp, false, request).await;
        }
        Ok(())
    }

    /// New recovery codes for a user with TOTP on, against a TOTP code
    /// (accepted once, as at login): the old codes die. 400 `MFA_BAD_CODE`
    /// for a wrong code, or when TOTP is off. Bad codes count against the
    /// login throttle like wrong passwords (429 once the address is
    /// locked), so that a stolen session cannot guess codes here.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &UserOf<S>,
        code: &str,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<RecoveryCodeList> {
        let mfa = self.mfa_runtime()?;
        let email = user.email();
        let attempt = match &self.inner.login_throttle {
            Some(throttle) => throttle.attempt(email, client).await?,
            None => Attempt::Allowed,
        };
        if !self.accept_totp_code(mfa, user, code).await? {
            self.failed_login(email, Some(user), attempt, client, request)
                .await;
            return Err(Error::Code(ErrorCode::MfaBadCode));
        }
        if let Some(throttle) = &self.inner.login_throttle {
            throttle.succeeded(email, client).await?;
        }
        let (shown, stored) = RecoveryCodes::generate(&mfa.recovery_key)?;
        mfa.store()
            .replace_recovery_codes(user.id(), &stored)
            .await?;
        tracing::info!(
            target: "axum_users::audit",
            event = "recovery_codes_regenerated",
            user = %user.id(),
            "new recovery codes replace the old ones"
        );
        Ok(RecoveryCodeList {
            recovery_codes: shown,
        })
    }

    /// A superuser's reset: every factor of the user goes (TOTP, recovery
    /// codes, passkeys), for a user who lost them all. [`Error::UserNotFound`]
    /// when there is no such user. Fires `on_after_mfa_disabled`.
    pub async fn reset_mfa(&self, id: &IdOf<S>, request: Option<&Parts>) -> Result<()> {
        let mfa = self.mfa_runtime()?;
        let user = self.get(id).await?;
        mfa.store().reset_mfa(id).await?;
        tracing::warn!(
            target: "axum_users::audit",
            event = "mfa_reset",
            user = %id,
            "every second factor of a user was removed by a superuser"
        );
        self.mfa_hook(&user, MfaFactor::All, false, request).await;
        Ok(())
    }

    /// The second-factor gate of a login by password or by a provider:
    /// `Ok` when the user has no TOTP on, else
    /// [`Error::MfaRequired`] with a new `mfa_token` for the login through
    /// `backend` (any backend when `None`).
    pub(crate) async fn second_factor_gate(
        &self,
        user: &UserOf<S>,
        backend: Option<&str>,
    ) -> Result<()> {
        let Some(mfa) = &self.inner.mfa else {
            return Ok(());
        };
        let totp_on = mfa
            .store()
            .totp(user.id())
            .await?
            .is_some_and(|factor| factor.confirmed);
        if !totp_on {
            return Ok(());
        }
        let mut methods = vec!["totp", "recovery_code"];
        if mfa.config.has_passkeys() && !mfa.store().passkeys(user.id()).await?.is_empty() {
            methods.push("passkey");
        }
        let token = random_token(32)?;
        let pending = PendingLogin {
            user: user.id().to_string(),
            backend: backend.map(str::to_owned),
            token_generation: user.data().token_generation,
            password_generation: user.data().password_generation,
        };
        let data = serde_json::to_vec(&pending)
            .map_err(|e| Error::internal("encoding a pending login", e))?;
        mfa.put_challenge(&login_key(&token), &data, MFA_TOKEN_LIFETIME)
            .await?;
        tracing::info!(
            target: "axum_users::audit",
            event = "mfa_required",
            user = %user.id(),
            "a login waits for its second factor"
        );
        Err(Error::MfaRequired(MfaChallenge::new(token, methods)))
    }

    /// The second step of a login (`POST {prefix}/login/mfa`): the
    /// `mfa_token` of the first step and a TOTP or recovery code give the
    /// user to log in through `backend`. 400 `MFA_TOKEN_INVALID` for a token
    /// that is unknown, expired, used, of another backend, or dead after
    /// [`MFA_TOKEN_MAX_FAILURES`] bad codes; `MFA_BAD_CODE` for a wrong or
    /// used code, which counts against the login throttle (429 once the
    /// address is locked). Only a completed login clears the count.
    pub async fn complete_mfa_login(
        &self,
        mfa_token: &str,
        code: &str,
        backend: &str,
        requires_verification: bool,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let mfa = self.mfa_runtime()?;
        let invalid = || Error::Code(ErrorCode::MfaTokenInvalid);
        let key = login_key(mfa_token);
        let now = Utc::now();
        let challenge = mfa
            .config
            .challenges
            .challenge(&key, now)
            .await?
            .ok_or_else(invalid)?;
        let pending: PendingLogin =
            serde_json::from_slice(&challenge.data).map_err(|_| invalid())?;
        if pending.backend.as_deref().is_some_and(|b| b != backend) {
            return Err(invalid());
        }
        let id: IdOf<S> = pending.user.parse().map_err(|_| invalid())?;
        let user = self.store().get(&id).await?.ok_or_else(invalid)?;
        if user.data().token_generation != pending.token_generation
            || user.data().password_generation != pending.password_generation
        {
            return Err(invalid());
        }
        let email = user.email().to_owned();
        let attempt = match &self.inner.login_throttle {
            Some(throttle) => throttle.attempt(&email, client).await?,
            None => Attempt::Allowed,
        };
        let accepted = match self.accept_totp_code(mfa, &user, code).await? {
            true => true,
            false => self.accept_recovery_code(mfa, &user, code).await?,
        };
        if !accepted {
            mfa.config
                .challenges
                .fail_challenge(&key, MFA_TOKEN_MAX_FAILURES)
                .await?;
            self.failed_login(&email, Some(&user), attempt, client, request)
                .await;
            return Err(Error::Code(ErrorCode::MfaBadCode));
        }
        // Used once: of two concurrent second steps, one logs in.
        if mfa
            .config
            .challenges
            .take_challenge(&key, now)
            .await?
            .is_none()
        {
            return Err(invalid());
        }
        Self::may_log_in(&user, requires_verification)?;
        if let Some(throttle) = &self.inner.login_throttle {
            throttle.succeeded(&email, client).await?;
        }
        tracing::info!(
            target: "axum_users::audit",
            event = "mfa_login",
            user = %user.id(),
            "a login passed its second factor"
        );
        Ok(user)
    }

    /// Whether `code` is a fresh TOTP code of the user's confirmed factor;
    /// if so its step is recorded (it is never accepted again).
    async fn accept_totp_code(
        &self,
        mfa: &MfaRuntime<IdOf<S>>,
        user: &UserOf<S>,
        code: &str,
    ) -> Result<bool> {
        let factor = match mfa.store().totp(user.id()).await? {
            Some(factor) if factor.confirmed => factor,
            _ => return Ok(false),
        };
        let secret = self.open_totp_secret(mfa, user, &factor.secret)?;
        match totp::verify(&secret, code, unix_now(), factor.last_used_step) {
            Some(step) => Ok(mfa.store().use_totp_step(user.id(), step).await?),
            None => Ok(false),
        }
    }

    /// Whether `code` is one of the user's unused recovery codes; if so it
    /// is used up.
    async fn accept_recovery_code(
        &self,
        mfa: &MfaRuntime<IdOf<S>>,
        user: &UserOf<S>,
        code: &str,
    ) -> Result<bool> {
        let stored = mfa.store().recovery_codes(user.id()).await?;
        let Some(digest) = mfa
            .recovery_key
            .find(code, &stored)
            .and_then(|index| stored.get(index))
        else {
            return Ok(false);
        };
        let used = mfa.store().use_recovery_code(user.id(), digest).await?;
        if used {
            tracing::info!(
                target: "axum_users::audit",
                event = "recovery_code_used",
                user = %user.id(),
                left = stored.len().saturating_sub(1),
                "a recovery code was used"
            );
        }
        Ok(used)
    }

    /// The user's TOTP secret, unsealed. One that does not open (another
    /// application secret, a damaged value) is an internal error: the
    /// factor cannot be checked, and a login must not pass without it.
    fn open_totp_secret(
        &self,
        mfa: &MfaRuntime<IdOf<S>>,
        user: &UserOf<S>,
        sealed: &str,
    ) -> Result<TotpSecret> {
        mfa.secret_box
            .open(sealed, user.id().to_string().as_bytes())
            .and_then(|bytes| TotpSecret::from_bytes(&bytes))
            .ok_or_else(|| {
                Error::internal(
                    "opening a TOTP secret",
                    "it does not open under this application's secret (was the secret changed?)",
                )
            })
    }

    /// Fires `on_after_mfa_enabled` or `on_after_mfa_disabled`; an error is
    /// logged (the change is made either way).
    pub(crate) async fn mfa_hook(
        &self,
        user: &UserOf<S>,
        factor: MfaFactor,
        enabled: bool,
        request: Option<&Parts>,
    ) {
        let (name, result) = match enabled {
            true => (
                "on_after_mfa_enabled",
                self.hooks()
                    .on_after_mfa_enabled(user, factor, request)
                    .await,
            ),
            false => (
                "on_after_mfa_disabled",
                self.hooks()
                    .on_after_mfa_disabled(user, factor, request)
                    .await,
            ),
        };
        if let Err(e) = result {
            tracing::warn!(hook = name, error = %e, "user hook failed");
        }
    }
}
