//! Storage of second factors ([`MfaStore`]: TOTP, recovery codes, passkeys)
//! and of short-lived, single-use ceremony state ([`ChallengeStore`]: the
//! `mfa_token` of a two-step login, WebAuthn challenges).
//!
//! Nothing secret is stored as it is: the TOTP secret is sealed
//! ([`SecretBox`](crate::mfa::secret_box::SecretBox), under a key derived
//! from the application's secret), recovery codes and challenge keys are
//! digests. Implemented by the provided stores (memory, SQLite, PostgreSQL)
//! and checked by the shared suite (`store::suite::run_mfa`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// A user's TOTP factor as stored: pending until its first code confirms it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// The secret, sealed ([`SecretBox::seal`](crate::mfa::secret_box::SecretBox::seal),
    /// bound to the user's id): `v1.…`.
    pub secret: String,
    /// Whether a first code confirmed it (TOTP is on), or it is pending.
    pub confirmed: bool,
    /// The time step of the last code accepted, if any: a code of this step
    /// or an earlier one is never accepted again.
    pub last_used_step: Option<u64>,
    /// When it was made (the pending secret) or confirmed.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("secret", &"[sealed]")
            .field("confirmed", &self.confirmed)
            .field("last_used_step", &self.last_used_step)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A passkey (a WebAuthn credential) of a user, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPasskey<Id> {
    /// Its id in this application (what `DELETE /users/me/passkeys/{id}`
    /// names).
    pub id: Uuid,
    /// Its user.
    pub user_id: Id,
    /// The credential id the authenticator chose: unique among every user's
    /// passkeys.
    pub credential_id: Vec<u8>,
    /// The WebAuthn user handle it was registered with: random, the same for
    /// every passkey of a user, never the address nor the user's id.
    pub user_handle: Vec<u8>,
    /// The name the user gave it.
    pub name: String,
    /// What verifying its signatures takes (its public key and state), as
    /// the passkey module writes it.
    pub credential: String,
    /// The authenticator's signature counter at the last use (0 for
    /// authenticators that keep none).
    pub sign_count: u32,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last logged in, if ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl<Id: std::fmt::Debug> std::fmt::Debug for StoredPasskey<Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPasskey")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("sign_count", &self.sign_count)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// A use of a passkey to record: the new state, written only if the
/// signature counter is still what the login read (a compare-and-set, so
/// that of two concurrent logins with one counter value only one counts).
#[derive(Debug, Clone)]
pub struct PasskeyUse<'a> {
    /// The passkey.
    pub id: &'a Uuid,
    /// The counter the login read.
    pub if_sign_count: u32,
    /// The new counter.
    pub sign_count: u32,
    /// The new state ([`StoredPasskey::credential`]).
    pub credential: &'a str,
    /// When.
    pub at: DateTime<Utc>,
}

/// Where second factors live, keyed by user id.
///
/// Rules every implementation keeps (the suite checks them): each write is
/// atomic; [`use_totp_step`](Self::use_totp_step),
/// [`use_recovery_code`](Self::use_recovery_code),
/// [`confirm_totp`](Self::confirm_totp) and
/// [`passkey_used`](Self::passkey_used) are compare-and-sets, so that of
/// concurrent uses of one code exactly one wins; a user's factors go when
/// the user is deleted.
#[async_trait]
pub trait MfaStore<Id>: Send + Sync + 'static {
    /// The user's TOTP factor, pending or confirmed, if any.
    async fn totp(&self, user_id: &Id) -> Result<Option<TotpFactor>, StoreError>;

    /// Stores a pending TOTP secret, replacing a pending one, unless the user
    /// has a confirmed factor: then nothing is written and the answer is
    /// `false`.
    async fn set_pending_totp(
        &self,
        user_id: &Id,
        secret: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Confirms the pending factor whose sealed secret is exactly `secret`,
    /// records `step` as its last used step and replaces the user's
    /// recovery codes with `recovery_codes` (digests), all at once; `false`
    /// (nothing written) when there is no such pending factor.
    async fn confirm_totp(
        &self,
        user_id: &Id,
        secret: &str,
        step: u64,
        recovery_codes: &[String],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records `step` as the last used step of the user's confirmed factor
    /// if it is later than the one recorded: whether it was (a code is
    /// accepted once).
    async fn use_totp_step(&self, user_id: &Id, step: u64) -> Result<bool, StoreError>;

    /// Removes the user's TOTP factor (pending or confirmed) and recovery
    /// codes; whether a confirmed factor was removed.
    async fn delete_totp(&self, user_id: &Id) -> Result<bool, StoreError>;

    /// The digests of the user's unused recovery codes.
    async fn recovery_codes(&self, user_id: &Id) -> Result<Vec<String>, StoreError>;

    /// Replaces the user's recovery codes with these digests (a digest
    /// given twice is kept once).
    async fn replace_recovery_codes(
        &self,
        user_id: &Id,
        recovery_codes: &[String],
    ) -> Result<(), StoreError>;

    /// Deletes the recovery code with this digest: whether it was there (a
    /// code works once).
    async fn use_recovery_code(&self, user_id: &Id, digest: &str) -> Result<bool, StoreError>;

    /// Stores a new passkey; [`StoreError::Conflict`] when its credential id
    /// is already stored (for any user), and nothing is written.
    async fn create_passkey(&self, passkey: StoredPasskey<Id>) -> Result<(), StoreError>;

    /// The user's passkeys, oldest first (by `created_at`, then by id).
    async fn passkeys(&self, user_id: &Id) -> Result<Vec<StoredPasskey<Id>>, StoreError>;

    /// The passkey with this credential id, if any.
    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey<Id>>, StoreError>;

    /// Records a use of a passkey if its counter is still
    /// [`if_sign_count`](PasskeyUse::if_sign_count): whether it was.
    async fn passkey_used(&self, used: PasskeyUse<'_>) -> Result<bool, StoreError>;

    /// Deletes the user's passkey with this id: whether the user had it.
    async fn delete_passkey(&self, user_id: &Id, id: &Uuid) -> Result<bool, StoreError>;

    /// Removes every factor of the user: TOTP, recovery codes, passkeys.
    async fn reset_mfa(&self, user_id: &Id) -> Result<(), StoreError>;
}

/// A challenge as stored: its data and how many wrong answers it met.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge {
    /// What the ceremony needs to finish (opaque to the store).
    pub data: Vec<u8>,
    /// How many wrong answers it met.
    pub failures: u32,
    /// When it dies.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("data", &format_args!("[{} bytes]", self.data.len()))
            .field("failures", &self.failures)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where short-lived, single-use ceremony state lives: the `mfa_token` of a
/// two-step login and WebAuthn challenges, under a key that is the digest
/// of what the client holds. Stored, not kept in a process's memory, so that
/// a ceremony begun on one instance can end on another.
///
/// Rules every implementation keeps (the suite checks them): an expired
/// challenge is never answered; [`take_challenge`](Self::take_challenge) is
/// atomic, so that of concurrent takes of one challenge exactly one gets it.
#[async_trait]
pub trait ChallengeStore: Send + Sync + 'static {
    /// Stores a challenge under `key` (a new random key's digest: replacing
    /// one is allowed but never needed).
    async fn put_challenge(
        &self,
        key: &str,
        data: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The challenge under `key`, if it lives at `now`; it stays.
    async fn challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, StoreError>;

    /// Removes the challenge under `key` and answers it, if it lived at
    /// `now` (exactly one of concurrent takes gets it).
    async fn take_challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, StoreError>;

    /// Counts a wrong answer to the challenge under `key`; once it has met
    /// `max_failures`, it is removed. No error when it is gone.
    async fn fail_challenge(&self, key: &str, max_failures: u32) -> Result<(), StoreError>;

    /// Removes the challenges dead at `now`; how many.
    async fn delete_expired_challenges(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}
