//! Invitations: accounts that a superuser asks for, for an address, and that
//! the person at the address takes by setting a password (kwai's user
//! invitations).
//!
//! An invitation holds the address, an optional remark, when it was made and
//! when it expires (1 to 90 days later, 7 by default), and when it was
//! accepted. Its token is random (32 bytes), goes to the
//! [`on_after_invite`](crate::UserHooks::on_after_invite) hook (the
//! application mails a link with it) and is stored only as its SHA-256
//! digest. It works once: accepting it creates an active, verified user
//! with the invited address ([`UserManager::accept_invitation`](crate::UserManager::accept_invitation)).
//! Deleting an invitation revokes it: the record stays, listed with
//! `"revoked": true`, and its token is dead. An address that has a user, or
//! a pending invitation (neither accepted, nor revoked, nor expired), cannot
//! be invited again.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use uuid::Uuid;

/// The fewest days an invitation lasts.
pub const MIN_DAYS: u32 = 1;
/// The most days an invitation lasts.
pub const MAX_DAYS: u32 = 90;
/// How long an invitation lasts when the request does not say: 7 days.
pub const DEFAULT_DAYS: u32 = 7;
/// The longest remark, in characters.
pub const MAX_REMARK_CHARS: usize = 1000;

/// An invitation as stored. Its JSON form (`Serialize`) is the API's:
/// `{"id", "email", "remark", "created_at", "expires_at", "accepted_at",
/// "revoked"}`, never the token's digest.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invitation {
    /// A random id.
    pub id: Uuid,
    /// The invited address, as written.
    pub email: String,
    /// A note from the superuser who invited.
    pub remark: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its token stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was accepted (its token then no longer works).
    pub accepted_at: Option<DateTime<Utc>>,
    /// Whether it was revoked (deleted): its token no longer works.
    pub revoked: bool,
    /// The SHA-256 digest of its token (hex).
    pub token_digest: String,
}

impl Invitation {
    /// A new invitation for `email`, made `now`, lasting `days`, with the
    /// token whose digest is `token_digest`.
    pub fn new(
        email: impl Into<String>,
        remark: Option<String>,
        now: DateTime<Utc>,
        days: u32,
        token_digest: impl Into<String>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            email: email.into(),
            remark,
            created_at: now,
            expires_at: now + chrono::Duration::days(i64::from(days)),
            accepted_at: None,
            revoked: false,
            token_digest: token_digest.into(),
        }
    }

    /// Whether its token still works at `now`: neither accepted, nor
    /// revoked, nor expired.
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.accepted_at.is_none() && !self.revoked && now < self.expires_at
    }
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("remark", &self.remark)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("accepted_at", &self.accepted_at)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl Serialize for Invitation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr<'a> {
            id: &'a Uuid,
            email: &'a str,
            remark: Option<&'a str>,
            created_at: String,
            expires_at: String,
            accepted_at: Option<String>,
            revoked: bool,
        }
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Repr {
            id: &self.id,
            email: &self.email,
            remark: self.remark.as_deref(),
            created_at: time(&self.created_at),
            expires_at: time(&self.expires_at),
            accepted_at: self.accepted_at.as_ref().map(time),
            revoked: self.revoked,
        }
        .serialize(serializer)
    }
}

/// A page of invitations, newest first, and how many there are in all: the
/// body of `GET /users/invitations` (`{"count", "items"}`).
#[derive(Debug, Clone, Serialize)]
pub struct InvitationPage {
    /// How many invitations there are in all.
    pub count: u64,
    /// The invitations of the page, newest first.
    pub items: Vec<Invitation>,
}
