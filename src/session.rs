//! Sessions: what a revocable login is, one model for every backend that
//! keeps them.
//!
//! A database session, a Redis session and a refresh-token family are all a
//! [`Session`]: a record with a random id (never the token, nor derived from
//! it), the user, the backend that opened it, when it was opened, last used
//! and ends, the client's `User-Agent` and address, and the
//! [`Binding`](crate::auth::Binding) fingerprint of the credentials it was
//! opened under. The store of the backend keeps it
//! ([`SessionStore`](crate::store::SessionStore)); users list and end their
//! sessions through `GET|DELETE /users/me/sessions`, and the
//! [`UserManager`](crate::UserManager) ends them when the credentials change.
//! JWT-only logins are not sessions: there is nothing to list or end.
//!
//! Times are [`chrono::DateTime<Utc>`], stored to the second.

use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::Result;
use crate::tokens::random_token;

/// Bytes of randomness in a session id: 128 bits, 22 URL-safe characters.
const SESSION_ID_BYTES: usize = 16;

/// The longest `User-Agent` kept with a session, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// How often a session's `last_used_at` is written: a session used again
/// within this many seconds of its last write is not written again, so that
/// a busy client costs one write a minute, not one per request.
pub const LAST_USED_PRECISION_SECS: i64 = 60;

/// What kind of token a session hands out, so that one kind is never taken
/// for the other when both live in one store.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// An opaque access token sent with every request (database and Redis
    /// strategies).
    Token,
    /// A family of rotating refresh tokens, with short-lived JWT access
    /// tokens naming the session ([`RefreshStrategy`](crate::auth::RefreshStrategy)).
    Refresh,
}

impl SessionKind {
    /// The kind as stores write it: `token` or `refresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Token => "token",
            SessionKind::Refresh => "refresh",
        }
    }

    /// Reads [`as_str`](Self::as_str) back; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "token" => Some(SessionKind::Token),
            "refresh" => Some(SessionKind::Refresh),
            _ => None,
        }
    }
}

/// One session, as stores keep it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session<Id> {
    /// The session's id: random, never the token nor derived from it.
    pub id: String,
    /// Its user.
    pub user_id: Id,
    /// The name of the [`AuthBackend`](crate::auth::AuthBackend) that opened it.
    pub backend: String,
    /// What kind of token it hands out.
    pub kind: SessionKind,
    /// The SHA-256 digest (lowercase hex) of its current token: the access
    /// token of a [`SessionKind::Token`] session, the newest refresh token of
    /// a [`SessionKind::Refresh`] one.
    pub token_digest: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last used, to [`LAST_USED_PRECISION_SECS`].
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless used (a refresh moves it, up to the absolute
    /// lifetime).
    pub expires_at: DateTime<Utc>,
    /// The login request's `User-Agent`, cut to [`MAX_USER_AGENT_CHARS`].
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub ip: Option<String>,
    /// The fingerprint of the credentials it was opened under
    /// ([`Binding::fingerprint`](crate::auth::Binding::fingerprint)).
    pub binding: String,
}

impl<Id: std::fmt::Debug> std::fmt::Debug for Session<Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("backend", &self.backend)
            .field("kind", &self.kind)
            .field("token_digest", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("expires_at", &self.expires_at)
            .field("user_agent", &self.user_agent)
            .field("ip", &self.ip)
            .field("binding", &self.binding)
            .finish()
    }
}

impl<Id> Session<Id> {
    /// A session opened now for `user_id` through `login`, with the token
    /// whose digest is `token_digest`, ending at `expires_at`, bound by
    /// `binding`.
    pub fn open(
        user_id: Id,
        kind: SessionKind,
        token_digest: String,
        login: &LoginContext,
        expires_at: DateTime<Utc>,
        binding: String,
    ) -> Result<Self> {
        let now = now();
        Ok(Self {
            id: new_session_id()?,
            user_id,
            backend: login.backend.clone(),
            kind,
            token_digest,
            created_at: now,
            last_used_at: now,
            expires_at,
            user_agent: login.user_agent.clone(),
            ip: login.ip.map(|ip| ip.to_string()),
            binding,
        })
    }

    /// A session as a store reads it back: `id`, `user_id`, `kind` and
    /// `token_digest` given, the other fields empty or the Unix epoch, to be
    /// set from the stored record (the struct is `#[non_exhaustive]`).
    pub fn stored(id: String, user_id: Id, kind: SessionKind, token_digest: String) -> Self {
        Self {
            id,
            user_id,
            backend: String::new(),
            kind,
            token_digest,
            created_at: DateTime::default(),
            last_used_at: DateTime::default(),
            expires_at: DateTime::default(),
            user_agent: None,
            ip: None,
            binding: String::new(),
        }
    }

    /// Whether it has ended by time at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// Whether `last_used_at` is due to be written at `now`.
    pub fn last_use_is_stale(&self, now: DateTime<Utc>) -> bool {
        (now - self.last_used_at).num_seconds() >= LAST_USED_PRECISION_SECS
    }
}

/// Where and how a login happens: what a session records about its client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginContext {
    /// The name of the backend logging in.
    pub backend: String,
    /// The request's `User-Agent`, cut to [`MAX_USER_AGENT_CHARS`].
    pub user_agent: Option<String>,
    /// The client's address ([`TrustedProxies::client_ip`](crate::client::TrustedProxies::client_ip)).
    pub ip: Option<IpAddr>,
}

impl LoginContext {
    /// A login through `backend` by a client of this `User-Agent` and address.
    pub fn new(backend: impl Into<String>, user_agent: Option<&str>, ip: Option<IpAddr>) -> Self {
        Self {
            backend: backend.into(),
            user_agent: user_agent.map(cut_user_agent),
            ip,
        }
    }

    /// A login of the application's own code, with no request: no agent, no
    /// address.
    pub fn internal(backend: impl Into<String>) -> Self {
        Self::new(backend, None, None)
    }
}

/// A `User-Agent` cut to [`MAX_USER_AGENT_CHARS`] characters.
fn cut_user_agent(agent: &str) -> String {
    match agent.char_indices().nth(MAX_USER_AGENT_CHARS) {
        Some((end, _)) => agent[..end].to_owned(),
        None => agent.to_owned(),
    }
}

/// Why a session ended, as [`UserHooks::on_session_ended`](crate::UserHooks::on_session_ended)
/// is told.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionEnd {
    /// The user logged out with it.
    Logout,
    /// The user (or a superuser) ended it through the sessions routes.
    Revoked,
    /// A refresh token of it that had already been rotated was presented
    /// again: someone else holds a copy (RFC 9700 §4.14).
    ReuseDetected,
    /// It had expired when it was presented.
    Expired,
    /// The user changed their password.
    PasswordChanged,
    /// The password was reset.
    PasswordReset,
    /// The user was deactivated.
    Deactivated,
    /// A change of the user's address was confirmed.
    EmailChanged,
    /// The user was deleted.
    Deleted,
    /// The application ended every session of the user
    /// ([`UserManager::logout_everywhere`](crate::UserManager::logout_everywhere)),
    /// or the user's credentials changed another way.
    LogoutEverywhere,
}

impl SessionEnd {
    /// The reason as a short snake-case word, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::Logout => "logout",
            SessionEnd::Revoked => "revoked",
            SessionEnd::ReuseDetected => "reuse_detected",
            SessionEnd::Expired => "expired",
            SessionEnd::PasswordChanged => "password_changed",
            SessionEnd::PasswordReset => "password_reset",
            SessionEnd::Deactivated => "deactivated",
            SessionEnd::EmailChanged => "email_changed",
            SessionEnd::Deleted => "deleted",
            SessionEnd::LogoutEverywhere => "logout_everywhere",
        }
    }
}

/// A new session id: 128 random bits, URL-safe base64.
pub fn new_session_id() -> Result<String> {
    random_token(SESSION_ID_BYTES)
}

/// Whether `text` could be a session id (of this crate, or of a migrated
/// row): 1 to 64 characters of `A-Z a-z 0-9 - _`. Anything else names no
/// session and is not looked up.
pub fn could_be_session_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// The current time, to the second (as stores keep it).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A time as stores write it: Unix seconds.
pub fn to_unix(time: DateTime<Utc>) -> i64 {
    time.timestamp()
}

/// Unix seconds as a time (out-of-range values clamp to the Unix epoch).
pub fn from_unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_cut_to_512_characters_on_a_character_boundary() {
        let long = "é".repeat(600);
        let login = LoginContext::new("token", Some(&long), None);
        assert_eq!(
            login.user_agent.as_deref().map(|a| a.chars().count()),
            Some(512)
        );
        let short = LoginContext::new("token", Some("curl/8"), None);
        assert_eq!(short.user_agent.as_deref(), Some("curl/8"));
    }

    #[test]
    fn session_ids_are_random_and_url_safe() {
        let a = new_session_id().unwrap();
        let b = new_session_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(could_be_session_id(&a));
        assert!(!could_be_session_id(""));
        assert!(!could_be_session_id("a/b"));
        assert!(!could_be_session_id(&"a".repeat(65)));
    }

    #[test]
    fn a_session_kind_reads_back() {
        for kind in [SessionKind::Token, SessionKind::Refresh] {
            assert_eq!(SessionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(SessionKind::parse("other"), None);
    }

    #[test]
    fn the_debug_of_a_session_hides_the_token_digest() {
        let login = LoginContext::internal("token");
        let session = Session::open(
            1u32,
            SessionKind::Refresh,
            "abcdef0123".into(),
            &login,
            now(),
            "0:0".into(),
        )
        .unwrap();
        assert!(!format!("{session:?}").contains("abcdef0123"));
    }
}
