use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::auth::{Binding, IssuedTokens, Strategy, TokenOwner};
use crate::error::Result;
use crate::session::{self, LoginContext, Session, SessionKind};
use crate::store::SessionStore;
use crate::tokens::{random_token, token_digest};
use crate::user::UserModel;

/// Revocable sessions: opaque random tokens (256 bits, URL-safe) whose SHA-256
/// digests live in a [`SessionStore`] (the provided stores implement it
/// beside their users) with a lifetime (one hour by default).
///
/// Each login opens a [`Session`] (id, backend, client `User-Agent` and
/// address, times), which the user can list and end
/// (`GET|DELETE /users/me/sessions`). Logout deletes it;
/// [`Strategy::destroy_all_tokens`] ends every session of a user, which the
/// [`UserManager`](crate::UserManager) does when the password changes or the
/// user is deactivated or deleted. Each session is also bound to the
/// credentials it was opened under ([`Binding::Credentials`]), so one stored
/// by a login that raced a password change is refused when used. A stolen
/// table of digests gives no usable token.
///
/// ```
/// use axum_users::auth::{AuthBackend, CookieTransport, DatabaseStrategy};
/// use axum_users::{User, store::MemoryStore};
/// let store = MemoryStore::<User>::new();
/// let sessions: AuthBackend<User> = AuthBackend::new(
///     "session",
///     CookieTransport::new().name("fastapiuserssession"),
///     DatabaseStrategy::new(store.clone()),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseStrategy<T> {
    sessions: Sessions<T>,
    lifetime: Duration,
}

/// Bytes of randomness in a token: 256 bits.
pub(crate) const TOKEN_BYTES: usize = 32;

impl<T> DatabaseStrategy<T> {
    /// Sessions stored in `tokens`, valid for one hour.
    pub fn new(tokens: T) -> Self {
        Self {
            sessions: Sessions::new(tokens),
            lifetime: Duration::from_secs(3600),
        }
    }

    /// The session lifetime (default 3600 s).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The store of the sessions.
    pub fn store(&self) -> &T {
        &self.sessions.store
    }

    /// The same strategy over another store.
    pub fn with_store<S>(self, store: S) -> DatabaseStrategy<S> {
        DatabaseStrategy {
            sessions: Sessions::new(store),
            lifetime: self.lifetime,
        }
    }
}

#[async_trait]
impl<U, T> Strategy<U> for DatabaseStrategy<T>
where
    U: UserModel,
    T: SessionStore<U::Id>,
{
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>> {
        // A token of another strategy (a JWT) is not ours; don't look it up.
        if !could_be_opaque_token(token) {
            return Ok(None);
        }
        let Some(session) = self
            .sessions
            .by_token(&token_digest(token), SessionKind::Token)
            .await?
        else {
            return Ok(None);
        };
        // A session without a valid binding is no session.
        Ok(Binding::parse(&session.binding)
            .map(|binding| TokenOwner::new(session.user_id, binding).in_session(session.id)))
    }

    async fn write_token(&self, user: &U, login: &LoginContext) -> Result<IssuedTokens> {
        let token = random_token(TOKEN_BYTES)?;
        self.sessions
            .open(
                user,
                SessionKind::Token,
                token_digest(&token),
                login,
                session::now() + delta(self.lifetime),
            )
            .await?;
        Ok(IssuedTokens::access(token))
    }

    async fn destroy_token(&self, token: &str, _user: &U) -> Result<()> {
        if !could_be_opaque_token(token) {
            return Ok(());
        }
        if let Some(session) = self
            .sessions
            .store
            .session_by_token(&token_digest(token))
            .await?
        {
            self.sessions.store.delete_session(&session.id).await?;
        }
        Ok(())
    }

    fn is_revocable(&self) -> bool {
        true
    }

    async fn destroy_all_tokens(&self, user: &U) -> Result<Vec<Session<U::Id>>> {
        self.sessions.end_all(user.id()).await
    }

    async fn user_sessions(&self, user_id: &U::Id) -> Result<Vec<Session<U::Id>>> {
        self.sessions.of_user(user_id).await
    }

    async fn use_session(&self, id: &str) -> Result<Option<Session<U::Id>>> {
        self.sessions.use_session(id).await
    }

    async fn end_session(&self, id: &str) -> Result<Option<Session<U::Id>>> {
        self.sessions.end(id).await
    }

    async fn rebind_session(&self, id: &str, user: &U) -> Result<bool> {
        Ok(self
            .sessions
            .store
            .rebind_session(id, &Binding::fingerprint(user))
            .await?)
    }
}

/// Whether `token` could be an opaque token of ours (URL-safe base64, at
/// most 64 characters): anything else (a JWT, garbage) is refused without a
/// look-up.
pub(crate) fn could_be_opaque_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// A lifetime as a time span (saturating).
pub(crate) fn delta(lifetime: Duration) -> TimeDelta {
    TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX)
}

/// The sessions of a strategy: its store, and what every strategy that
/// keeps sessions does with them alike (open, find by token, use, list, end,
/// and now and then forget the expired ones).
#[derive(Debug)]
pub(crate) struct Sessions<T> {
    pub(crate) store: T,
    /// Logins since the last clean-up of expired sessions.
    opened: Arc<AtomicU32>,
}

impl<T: Clone> Clone for Sessions<T> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            opened: Arc::clone(&self.opened),
        }
    }
}

/// Expired sessions are deleted once every this many logins (amortised: a
/// login pays for the clean-up of the sessions of this many).
const CLEAN_UP_EVERY: u32 = 256;

impl<T> Sessions<T> {
    pub(crate) fn new(store: T) -> Self {
        Self {
            store,
            opened: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Opens a session of `kind` for `user` with the token of this digest.
    pub(crate) async fn open<U: UserModel>(
        &self,
        user: &U,
        kind: SessionKind,
        digest: String,
        login: &LoginContext,
        expires_at: DateTime<Utc>,
    ) -> Result<Session<U::Id>>
    where
        T: SessionStore<U::Id>,
    {
        let session = Session::open(
            user.id().clone(),
            kind,
            digest,
            login,
            expires_at,
            Binding::fingerprint(user),
        )?;
        self.store.create_session(session.clone()).await?;
        if self.opened.fetch_add(1, Ordering::Relaxed) % CLEAN_UP_EVERY == CLEAN_UP_EVERY - 1 {
            // Housekeeping: the login succeeds whether or not it does.
            if let Err(e) = self.store.delete_expired_sessions(session::now()).await {
                tracing::debug!(error = %e, "deleting expired sessions failed");
            }
        }
        Ok(session)
    }

    /// The live session of `kind` whose current token has this digest;
    /// an expired one is deleted.
    pub(crate) async fn by_token<Id>(
        &self,
        digest: &str,
        kind: SessionKind,
    ) -> Result<Option<Session<Id>>>
    where
        T: SessionStore<Id>,
    {
        let Some(session) = self.store.session_by_token(digest).await? else {
            return Ok(None);
        };
        if session.kind != kind {
            return Ok(None);
        }
        let now = session::now();
        if session.is_expired(now) {
            // Expired: forget it (best effort; a failure changes nothing here).
            let _ = self.store.delete_session(&session.id).await;
            return Ok(None);
        }
        self.touch(&session, now).await;
        Ok(Some(session))
    }

    /// Records a use of `session` at `now`, at most once a minute.
    async fn touch<Id>(&self, session: &Session<Id>, now: DateTime<Utc>)
    where
        T: SessionStore<Id>,
    {
        if session.last_use_is_stale(now)
            && let Err(e) = self.store.touch_session(&session.id, now).await
        {
            // The request goes on: only `last_used_at` lags.
            tracing::debug!(error = %e, "recording a session's use failed");
        }
    }

    pub(crate) async fn use_session<Id>(&self, id: &str) -> Result<Option<Session<Id>>>
    where
        T: SessionStore<Id>,
    {
        let Some(session) = self.store.session(id).await? else {
            return Ok(None);
        };
        let now = session::now();
        if session.is_expired(now) {
            return Ok(None);
        }
        self.touch(&session, now).await;
        Ok(Some(session))
    }

    pub(crate) async fn of_user<Id>(&self, user_id: &Id) -> Result<Vec<Session<Id>>>
    where
        T: SessionStore<Id>,
    {
        let now = session::now();
        let mut sessions = self.store.user_sessions(user_id).await?;
        sessions.retain(|session| !session.is_expired(now));
        Ok(sessions)
    }

    pub(crate) async fn end<Id>(&self, id: &str) -> Result<Option<Session<Id>>>
    where
        T: SessionStore<Id>,
    {
        let Some(session) = self.store.session(id).await? else {
            return Ok(None);
        };
        Ok(self.store.delete_session(id).await?.then_some(session))
    }

    pub(crate) async fn end_all<Id>(&self, user_id: &Id) -> Result<Vec<Session<Id>>>
    where
        T: SessionStore<Id>,
    {
        let sessions = self.of_user(user_id).await?;
        self.store.delete_user_sessions(user_id).await?;
        Ok(sessions)
    }
}
