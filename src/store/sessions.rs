//! Storage of sessions ([`Session`]): database and Redis sessions and
//! refresh-token families alike.
//!
//! Tokens are never stored: only their SHA-256 digest, so that a leaked table
//! gives no usable session. A refresh token, once rotated, is kept as a
//! *retired* digest naming its session until the session would have ended,
//! so that presenting it again is recognised as reuse.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
pub use crate::session::{Session, SessionKind};

/// A refresh token's rotation, as [`SessionStore::rotate_session_token`]
/// performs it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation<'a> {
    /// The session.
    pub session_id: &'a str,
    /// The digest of the token presented, which must still be the session's
    /// current one.
    pub old_digest: &'a str,
    /// The digest of the new token.
    pub new_digest: &'a str,
    /// Now: the session's new `last_used_at`.
    pub at: DateTime<Utc>,
    /// The session's new end.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Rotation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("session_id", &self.session_id)
            .field("at", &self.at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl<'a> Rotation<'a> {
    /// The rotation of `session_id`'s token `old_digest` into `new_digest`
    /// at `at`, the session now ending at `expires_at`.
    pub fn new(
        session_id: &'a str,
        old_digest: &'a str,
        new_digest: &'a str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            session_id,
            old_digest,
            new_digest,
            at,
            expires_at,
        }
    }
}

/// Where sessions live: implemented by the provided stores (memory, SQLite,
/// PostgreSQL beside their users; Redis on its own) and by the application's
/// own. The shared suite (`store::suite::sessions`) checks an implementation.
///
/// Expired sessions may linger in the store until
/// [`delete_expired_sessions`](Self::delete_expired_sessions) runs (the
/// strategies call it now and then) or the store forgets them by itself
/// (Redis TTLs): readers check `expires_at`.
#[async_trait]
pub trait SessionStore<Id>: Send + Sync + 'static {
    /// Stores a new session.
    async fn create_session(&self, session: Session<Id>) -> Result<(), StoreError>;
    /// The session whose current token has this digest, if any.
    async fn session_by_token(&self, digest: &str) -> Result<Option<Session<Id>>, StoreError>;
    /// The session with this id, if any.
    async fn session(&self, id: &str) -> Result<Option<Session<Id>>, StoreError>;
    /// Every stored session of a user, in no particular order.
    async fn user_sessions(&self, user_id: &Id) -> Result<Vec<Session<Id>>, StoreError>;
    /// Records a use of the session at `at` (no error when it is gone).
    async fn touch_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Replaces the session's current token by a new one, atomically: only
    /// if `rotation.old_digest` is still its current digest, in which case
    /// the old digest is kept as retired (see
    /// [`retired_token_session`](Self::retired_token_session)) and `true`
    /// is answered. Of concurrent rotations of one token, exactly one
    /// answers `true`.
    async fn rotate_session_token(&self, rotation: Rotation<'_>) -> Result<bool, StoreError>;
    /// The id of the session a retired (already rotated) token with this
    /// digest belonged to, if it is remembered.
    async fn retired_token_session(&self, digest: &str) -> Result<Option<String>, StoreError>;
    /// Deletes a session and its retired tokens; whether it existed.
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;
    /// Deletes every session of a user (log out everywhere).
    async fn delete_user_sessions(&self, user_id: &Id) -> Result<(), StoreError>;
    /// Binds the session to other credentials (`binding`, a
    /// [`Binding::fingerprint`](crate::auth::Binding::fingerprint)); whether
    /// it exists. By default a read and a write of the whole session; the
    /// provided stores write the one field.
    async fn rebind_session(&self, id: &str, binding: &str) -> Result<bool, StoreError>
    where
        Id: Send + Sync,
    {
        let Some(mut session) = self.session(id).await? else {
            return Ok(false);
        };
        if !self.delete_session(id).await? {
            return Ok(false);
        }
        session.binding = binding.to_owned();
        self.create_session(session).await?;
        Ok(true)
    }
    /// Deletes sessions (and retired tokens) that ended before `now`; how
    /// many sessions went.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}
