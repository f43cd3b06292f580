//! What a login or a refresh hands out ([`IssuedTokens`]), and what a
//! refresh comes to ([`Refresh`]).

use crate::session::{Session, SessionEnd};
use crate::user::UserModel;

/// The tokens a login (or a refresh) issues, for the transport to answer
/// with: an access token, and for refresh-token backends a refresh token and
/// the access token's lifetime. `Debug` shows no token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedTokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token, for a refresh-token backend.
    pub refresh_token: Option<String>,
    /// The access token's lifetime in seconds (`expires_in`), when the
    /// backend tells it.
    pub expires_in: Option<u64>,
    /// The path of the refresh route where the refresh cookie must be sent
    /// (the cookie transport scopes the cookie to it): set by the router
    /// from the login route's own path.
    pub refresh_path: Option<String>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .field("refresh_path", &self.refresh_path)
            .finish()
    }
}

impl IssuedTokens {
    /// An access token alone (JWT, database and Redis backends).
    pub fn access(access_token: String) -> Self {
        Self {
            access_token,
            refresh_token: None,
            expires_in: None,
            refresh_path: None,
        }
    }

    /// An access token with its lifetime, and a refresh token.
    pub fn with_refresh(access_token: String, expires_in: u64, refresh_token: String) -> Self {
        Self {
            access_token,
            refresh_token: Some(refresh_token),
            expires_in: Some(expires_in),
            refresh_path: None,
        }
    }
}

/// What presenting a refresh token came to.
#[non_exhaustive]
pub enum Refresh<U: UserModel> {
    /// Rotated: new tokens for the user, the session moved on.
    Refreshed {
        /// The session's user.
        user: U,
        /// The session, as it is after the rotation.
        session: Session<U::Id>,
        /// The new access and refresh tokens.
        tokens: IssuedTokens,
    },
    /// The token ended its session: it had been rotated already (reuse), or
    /// the session had expired.
    Ended {
        /// The session that ended.
        session: Session<U::Id>,
        /// Why.
        reason: SessionEnd,
    },
    /// No live session has this token (unknown, forged, of another backend
    /// or kind, or its session ended before).
    Invalid,
}

impl<U: UserModel> std::fmt::Debug for Refresh<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refresh::Refreshed { session, .. } => f
                .debug_struct("Refreshed")
                .field("session", &session.id)
                .finish_non_exhaustive(),
            Refresh::Ended { session, reason } => f
                .debug_struct("Ended")
                .field("session", &session.id)
                .field("reason", reason)
                .finish(),
            Refresh::Invalid => f.write_str("Invalid"),
        }
    }
}
