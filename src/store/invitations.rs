//! Storage of invitations ([`Invitation`]).
//!
//! Tokens are never stored: only their SHA-256 digest. Implemented by the
//! provided stores (memory, SQLite, PostgreSQL) and checked by the shared
//! suite (`store::suite::run_invitations`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
pub use crate::invitation::Invitation;

/// Where invitations live.
///
/// Rules every implementation keeps (the suite checks them): addresses are
/// compared ASCII-case-insensitively; the list is newest first (by
/// `created_at`, then by id); [`claim_invitation`](Self::claim_invitation)
/// is a compare-and-set, so that of concurrent claims of one invitation
/// exactly one wins.
#[async_trait]
pub trait InvitationStore: Send + Sync + 'static {
    /// Stores a new invitation, atomically unless its address
    /// (ASCII-case-insensitively) has an invitation still pending at its
    /// `created_at`: then [`StoreError::Conflict`], and nothing is written
    /// (of concurrent invitations of one address, one is stored).
    async fn create_invitation(&self, invitation: Invitation) -> Result<(), StoreError>;
    /// The invitation with this id, if any.
    async fn invitation(&self, id: &Uuid) -> Result<Option<Invitation>, StoreError>;
    /// The invitation whose token has this digest, if any.
    async fn invitation_by_token(&self, digest: &str) -> Result<Option<Invitation>, StoreError>;
    /// How many invitations there are, and those from `offset` on (at most
    /// `limit`), newest first.
    async fn invitations(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<Invitation>), StoreError>;
    /// An invitation for this address (ASCII-case-insensitively) that is
    /// still pending at `now` (neither accepted, nor revoked, nor expired),
    /// if any.
    async fn pending_invitation(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitation>, StoreError>;
    /// Revokes the invitation: its token no longer works; whether it exists.
    async fn revoke_invitation(&self, id: &Uuid) -> Result<bool, StoreError>;
    /// Marks the invitation accepted at `at`, atomically, only if it is
    /// still pending then; whether it was (of concurrent claims, exactly one
    /// answers `true`).
    async fn claim_invitation(&self, id: &Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Takes back a claim: the account could not be made after all, and the
    /// token works again (unless the address got another pending invitation
    /// meanwhile: that one wins, and this one stays claimed).
    async fn unclaim_invitation(&self, id: &Uuid) -> Result<(), StoreError>;
}
