//! The passkey use cases ([`crate::mfa::passkey`]): register, list, remove,
//! and log in without a password. Each ceremony's state is stored as a
//! challenge (single use, 5 minutes) under the digest of its
//! `challenge_id`, so that it can begin on one instance and end on another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use http::request::Parts;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::mfa::MfaRuntime;
use super::{IdOf, UserManager, UserOf};
use crate::error::{Error, ErrorCode, Result};
use crate::hooks::UserHooks;
use crate::mfa::passkey::{self, RelyingParty};
use crate::mfa::{
    MAX_PASSKEY_NAME_CHARS, MfaFactor, PASSKEY_CHALLENGE_LIFETIME, PasskeyInfo, PasskeyOptions,
};
use crate::store::{PasskeyUse, StoreError, StoredPasskey, UserStore};
use crate::tokens::{random_token, token_digest};
use crate::user::UserModel;

/// A registration under way: whose, with which user handle, and the
/// WebAuthn server state.
#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    user: String,
    handle: String,
    state: String,
}

fn bad_credential() -> Error {
    Error::Code(ErrorCode::PasskeyBadCredential)
}

fn registration_key(challenge_id: &str) -> String {
    format!("passkey-register:{}", token_digest(challenge_id))
}

fn login_key(challenge_id: &str) -> String {
    format!("passkey-login:{}", token_digest(challenge_id))
}

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
    /// The relying party, or a configuration error.
    fn passkey_runtime(&self) -> Result<(&MfaRuntime<IdOf<S>>, &RelyingParty)> {
        let mfa = self.mfa_runtime()?;
        match &mfa.config.relying_party {
            Some(rp) => Ok((mfa, rp)),
            None => Err(Error::Config(
                "passkeys are not configured (Mfa::passkeys)".into(),
            )),
        }
    }

    /// Begins registering a passkey for `user` (`POST
    /// /users/me/passkeys/options`): the creation options for the browser,
    /// asking for a discoverable credential and user verification, and
    /// excluding the user's passkeys.
    pub async fn start_passkey_registration(&self, user: &UserOf<S>) -> Result<PasskeyOptions> {
        let (mfa, rp) = self.passkey_runtime()?;
        let existing = mfa.store().passkeys(user.id()).await?;
        // One random handle per user, kept with each passkey: never the
        // address nor the id.
        let handle = match existing.first() {
            Some(passkey) => passkey.user_handle.clone(),
            None => {
                let mut handle = vec![0u8; passkey::USER_HANDLE_LEN];
                getrandom::fill(&mut handle).map_err(|e| {
                    Error::internal("the operating system's random source", e.to_string())
                })?;
                handle
            }
        };
        let exclude: Vec<Vec<u8>> = existing.iter().map(|p| p.credential_id.clone()).collect();
        let ceremony = rp
            .start_registration(&handle, user.email(), user.email(), &exclude)
            .map_err(|e| Error::internal("starting a passkey registration", e))?;
        let challenge_id = random_token(32)?;
        let pending = PendingRegistration {
            user: user.id().to_string(),
            handle: URL_SAFE_NO_PAD.encode(&handle),
            state: URL_SAFE_NO_PAD.encode(&ceremony.state),
        };
        let data = serde_json::to_vec(&pending)
            .map_err(|e| Error::internal("encoding a passkey registration", e))?;
        mfa.put_challenge(
            &registration_key(&challenge_id),
            &data,
            PASSKEY_CHALLENGE_LIFETIME,
        )
        .await?;
        Ok(PasskeyOptions {
            challenge_id,
            public_key: ceremony.options,
        })
    }

    /// Finishes registering a passkey (`POST /users/me/passkeys`): the
    /// browser's `RegistrationResponseJSON` for the ceremony
    /// `challenge_id`, and a name (`"Passkey"` when empty). 400
    /// `PASSKEY_BAD_CREDENTIAL` for anything that does not verify, a
    /// challenge that is unknown, used, expired or another user's, or a
    /// credential already registered. Fires `on_after_mfa_enabled`.
    pub async fn finish_passkey_registration(
        &self,
        user: &UserOf<S>,
        challenge_id: &str,
        credential: &serde_json::Value,
        name: Option<&str>,
        request: Option<&Parts>,
    ) -> Result<PasskeyInfo> {
        let (mfa, rp) = self.passkey_runtime()?;
        let name = match name.map(str::trim) {
            None | Some("") => "Passkey".to_owned(),
            Some(name) if name.chars().count() > MAX_PASSKEY_NAME_CHARS => {
                return Err(Error::validation(
                    &["body", "name"],
                    format!("name must have at most {MAX_PASSKEY_NAME_CHARS} characters"),
                ));
            }
            Some(name) => name.to_owned(),
        };
        let challenge = mfa
            .config
            .challenges
            .take_challenge(&registration_key(challenge_id), Utc::now())
            .await?
            .ok_or_else(bad_credential)?;
        let pending: PendingRegistration =
            serde_json::from_slice(&challenge.data).map_err(|_| bad_credential())?;
        if pending.user != user.id().to_string() {
            return Err(bad_credential());
        }
        let handle = URL_SAFE_NO_PAD
            .decode(&pending.handle)
            .map_err(|_| bad_credential())?;
        let state = URL_SAFE_NO_PAD
            .decode(&pending.state)
            .map_err(|_| bad_credential())?;
        let new = rp.finish_registration(&state, credential).map_err(|e| {
            tracing::info!(
                target: "axum_users::audit",
                event = "passkey_refused",
                user = %user.id(),
                reason = %e,
                "a passkey registration did not verify"
            );
            bad_credential()
        })?;
        if new.user_handle != handle {
            return Err(bad_credential());
        }
        let passkey = StoredPasskey {
            id: Uuid::new_v4(),
            user_id: user.id().clone(),
            credential_id: new.credential_id,
            user_handle: handle,
            name,
            credential: new.stored,
            sign_count: new.sign_count,
            created_at: Utc::now(),
            last_used_at: None,
        };
        match mfa.store().create_passkey(passkey.clone()).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(bad_credential()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            target: "axum_users::audit",
            event = "mfa_enabled",
            user = %user.id(),
            factor = "passkey",
            passkey = %passkey.id,
            "a passkey was registered"
        );
        self.mfa_hook(user, MfaFactor::Passkey, true, request).await;
        Ok(PasskeyInfo::of(&passkey))
    }

    /// The user's passkeys, oldest first (`GET /users/me/passkeys`).
    pub async fn passkeys(&self, user: &UserOf<S>) -> Result<Vec<PasskeyInfo>> {
        let (mfa, _) = self.passkey_runtime()?;
        Ok(mfa
            .store()
            .passkeys(user.id())
            .await?
            .iter()
            .map(PasskeyInfo::of)
            .collect())
    }

    /// Removes a passkey of the user (`DELETE /users/me/passkeys/{id}`):
    /// [`Error::NotFound`] when the user has none with this id. Fires
    /// `on_after_mfa_disabled`.
    pub async fn delete_passkey(
        &self,
        user: &UserOf<S>,
        id: &Uuid,
        request: Option<&Parts>,
    ) -> Result<()> {
        let (mfa, _) = self.passkey_runtime()?;
        if !mfa.store().delete_passkey(user.id(), id).await? {
            return Err(Error::NotFound);
        }
        tracing::info!(
            target: "axum_users::audit",
            event = "mfa_disabled",
            user = %user.id(),
            factor = "passkey",
            passkey = %id,
            "a passkey was removed"
        );
        self.mfa_hook(user, MfaFactor::Passkey, false, request)
            .await;
        Ok(())
    }

    /// Begins a passkey login (`POST {prefix}/passkey/options`): request
    /// options for a discoverable credential, with user verification.
    pub async fn start_passkey_login(&self) -> Result<PasskeyOptions> {
        let (mfa, rp) = self.passkey_runtime()?;
        let ceremony = rp
            .start_authentication()
            .map_err(|e| Error::internal("starting a passkey login", e))?;
        let challenge_id = random_token(32)?;
        mfa.put_challenge(
            &login_key(&challenge_id),
            &ceremony.state,
            PASSKEY_CHALLENGE_LIFETIME,
        )
        .await?;
        Ok(PasskeyOptions {
            challenge_id,
            public_key: ceremony.options,
        })
    }

    /// Finishes a passkey login (`POST {prefix}/passkey/login`): the user
    /// whose passkey signed the ceremony's challenge, with user
    /// verification. A passkey is a whole login: it satisfies the second
    /// factor. 400 `PASSKEY_BAD_CREDENTIAL` for an unknown credential, a
    /// bad signature, a wrong origin or RP ID, a challenge reused or
    /// expired, a counter that went back; the login rule
    /// ([`may_log_in`](Self::may_log_in)) applies after.
    pub async fn finish_passkey_login(
        &self,
        challenge_id: &str,
        credential: &serde_json::Value,
        requires_verification: bool,
    ) -> Result<UserOf<S>> {
        let (mfa, rp) = self.passkey_runtime()?;
        let challenge = mfa
            .config
            .challenges
            .take_challenge(&login_key(challenge_id), Utc::now())
            .await?
            .ok_or_else(bad_credential)?;
        let ids = RelyingParty::assertion_ids(credential).map_err(|_| bad_credential())?;
        let stored = mfa
            .store()
            .passkey_by_credential(&ids.credential_id)
            .await?
            .ok_or_else(bad_credential)?;
        if ids
            .user_handle
            .as_ref()
            .is_some_and(|handle| *handle != stored.user_handle)
        {
            return Err(bad_credential());
        }
        let used = rp
            .finish_authentication(&challenge.data, credential, &stored.credential)
            .map_err(|e| {
                tracing::info!(
                    target: "axum_users::audit",
                    event = "passkey_refused",
                    user = %stored.user_id,
                    reason = %e,
                    "a passkey login did not verify"
                );
                bad_credential()
            })?;
        // Of two logins that read one counter, one counts.
        if !mfa
            .store()
            .passkey_used(PasskeyUse {
                id: &stored.id,
                if_sign_count: stored.sign_count,
                sign_count: used.sign_count,
                credential: &used.stored,
                at: Utc::now(),
            })
            .await?
        {
            return Err(bad_credential());
        }
        let user = self
            .store()
            .get(&stored.user_id)
            .await?
            .ok_or_else(bad_credential)?;
        Self::may_log_in(&user, requires_verification)?;
        tracing::info!(
            target: "axum_users::audit",
            event = "passkey_login",
            user = %user.id(),
            passkey = %stored.id,
            "a passkey logged in"
        );
        Ok(user)
    }
}
