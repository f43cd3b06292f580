use std::time::Duration;

use async_trait::async_trait;

use super::database::{Sessions, TOKEN_BYTES, could_be_opaque_token, delta};
use crate::auth::{Binding, IssuedTokens, JwtStrategy, Refresh, Strategy, TokenOwner, UserLoader};
use crate::error::Result;
use crate::session::{self, LoginContext, Session, SessionEnd, SessionKind};
use crate::store::{Rotation, SessionStore};
use crate::tokens::{random_token, token_digest};
use crate::user::UserModel;

/// Short-lived JWT access tokens with rotating refresh tokens (kwai's login,
/// dj-rest-auth's token refresh, RFC 9700 §4.14).
///
/// A login opens a [`Session`] of kind [`SessionKind::Refresh`] and answers
/// an access token (a JWT of [`JwtStrategy`]'s format, plus a claim `sid`
/// naming the session; 15 minutes by default) and an opaque refresh token
/// (256 random bits, stored as its SHA-256 digest).
///
/// - `POST {prefix}/refresh` rotates the refresh token: the presented one is
///   dead from then on, a new one is answered with a new access token. The
///   session ends after its *idle* lifetime without a refresh (7 days by
///   default) and after its *absolute* lifetime in any case (30 days).
/// - **Reuse detection**: a refresh token that was already rotated, presented
///   again, ends its whole session (someone holds a copy): its newest refresh
///   token and its access tokens stop working. Of concurrent refreshes of one
///   token exactly one succeeds; the others count as reuse, so clients must
///   not refresh one token twice.
/// - **Immediate revocation**: an access token is accepted only while its
///   session lives (logout, reuse, a revoke through the sessions routes, a
///   password change, a deactivation, a deletion end it), by any backend
///   that reads it. The check is one read of the session by its id: on the
///   SQLite store a point read on the worker thread, on PostgreSQL one
///   indexed query, in memory a map look-up, on Redis one script call; a session's
///   `last_used_at` is written at most once a minute.
///
/// ```
/// use std::time::Duration;
/// use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy, RefreshStrategy};
/// use axum_users::{User, store::MemoryStore};
/// let access = JwtStrategy::hs256("a random secret of 32 bytes or more")
///     .unwrap()
///     .lifetime(Duration::from_secs(15 * 60));
/// let strategy = RefreshStrategy::new(access, MemoryStore::<User>::new())
///     .absolute_lifetime(Duration::from_secs(30 * 24 * 3600))
///     .idle_lifetime(Duration::from_secs(7 * 24 * 3600));
/// let backend: AuthBackend<User> =
///     AuthBackend::new("token", BearerTransport::new("auth/token/login"), strategy);
/// ```
#[derive(Debug, Clone)]
pub struct RefreshStrategy<T> {
    access: JwtStrategy,
    sessions: Sessions<T>,
    absolute: Duration,
    idle: Duration,
}

impl<T> RefreshStrategy<T> {
    /// Access tokens of `access` (its lifetime is theirs: make it short,
    /// 15 minutes is usual) naming sessions kept in `store`; sessions last
    /// 30 days at most and 7 days without a refresh.
    pub fn new(access: JwtStrategy, store: T) -> Self {
        Self {
            access,
            sessions: Sessions::new(store),
            absolute: Duration::from_secs(30 * 24 * 3600),
            idle: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// The longest a session lives, refreshed or not (default 30 days).
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.absolute = lifetime;
        self
    }

    /// How long a session lives without a refresh (default 7 days).
    pub fn idle_lifetime(mut self, lifetime: Duration) -> Self {
        self.idle = lifetime;
        self
    }

    /// The store of the sessions.
    pub fn store(&self) -> &T {
        &self.sessions.store
    }

    /// The access tokens' lifetime in seconds (`expires_in`).
    fn expires_in(&self) -> u64 {
        self.access.token_lifetime().as_secs()
    }

    fn issue<U: UserModel>(
        &self,
        user: &U,
        session: &str,
        refresh: String,
    ) -> Result<IssuedTokens> {
        let access = self.access.encode_access(user, Some(session))?;
        Ok(IssuedTokens::with_refresh(
            access,
            self.expires_in(),
            refresh,
        ))
    }
}

#[async_trait]
impl<U, T> Strategy<U> for RefreshStrategy<T>
where
    U: UserModel,
    T: SessionStore<U::Id>,
{
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>> {
        // Only access tokens naming their session are this backend's.
        Ok(self
            .access
            .read_owner(token)
            .filter(|owner| owner.session.is_some()))
    }

    async fn write_token(&self, user: &U, login: &LoginContext) -> Result<IssuedTokens> {
        let refresh = random_token(TOKEN_BYTES)?;
        let expires_at = session::now() + delta(self.absolute.min(self.idle));
        let session = self
            .sessions
            .open(
                user,
                SessionKind::Refresh,
                token_digest(&refresh),
                login,
                expires_at,
            )
            .await?;
        self.issue(user, &session.id, refresh)
    }

    async fn destroy_token(&self, token: &str, _user: &U) -> Result<()> {
        let owner: Option<TokenOwner<U::Id>> = self.access.read_owner(token);
        if let Some(sid) = owner.and_then(|owner| owner.session) {
            self.sessions.store.delete_session(&sid).await?;
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

    fn refreshes(&self) -> bool {
        true
    }

    async fn refresh(
        &self,
        token: &str,
        login: &LoginContext,
        users: &dyn UserLoader<U>,
    ) -> Result<Refresh<U>> {
        if !could_be_opaque_token(token) {
            return Ok(Refresh::Invalid);
        }
        let store = &self.sessions.store;
        let digest = token_digest(token);
        let Some(mut session) = store.session_by_token(&digest).await? else {
            // Not a current token: a rotated one ends its session.
            let Some(id) = store.retired_token_session(&digest).await? else {
                return Ok(Refresh::Invalid);
            };
            return Ok(match self.sessions.end(&id).await? {
                Some(session) => Refresh::Ended {
                    session,
                    reason: SessionEnd::ReuseDetected,
                },
                None => Refresh::Invalid,
            });
        };
        // An access token's session, or another backend's, is refreshed by
        // nothing here (and ends nothing).
        if session.kind != SessionKind::Refresh || session.backend != login.backend {
            return Ok(Refresh::Invalid);
        }
        let now = session::now();
        if session.is_expired(now) {
            store.delete_session(&session.id).await?;
            return Ok(Refresh::Ended {
                session,
                reason: SessionEnd::Expired,
            });
        }
        let user = users.load_user(&session.user_id).await?;
        let binding = Binding::parse(&session.binding);
        let valid = match (&user, &binding) {
            (Some(user), Some(binding)) => {
                user.is_active()
                    && if users.sessions_end_with_password() {
                        binding.holds_for(user)
                    } else {
                        binding.holds_for_any_password(user)
                    }
            }
            _ => false,
        };
        let Some(user) = user.filter(|_| valid) else {
            // Its user went, was deactivated or changed credentials: the
            // session ended then (this forgets its record).
            store.delete_session(&session.id).await?;
            return Ok(Refresh::Invalid);
        };
        let refresh = random_token(TOKEN_BYTES)?;
        let new_digest = token_digest(&refresh);
        let absolute_end = session.created_at + delta(self.absolute);
        let expires_at = absolute_end.min(now + delta(self.idle));
        let rotation = Rotation::new(&session.id, &digest, &new_digest, now, expires_at);
        if !store.rotate_session_token(rotation).await? {
            // Another refresh of this very token won: this one presents a
            // token rotated meanwhile, which is reuse.
            return Ok(match self.sessions.end(&session.id).await? {
                Some(session) => Refresh::Ended {
                    session,
                    reason: SessionEnd::ReuseDetected,
                },
                None => Refresh::Invalid,
            });
        }
        session.token_digest = new_digest;
        session.last_used_at = now;
        session.expires_at = expires_at;
        let tokens = self.issue(&user, &session.id, refresh)?;
        Ok(Refresh::Refreshed {
            user,
            session,
            tokens,
        })
    }
}
