//! The session use cases: refresh, log out, list and end sessions.

use http::request::Parts;

use super::{UserManager, UserOf};
use crate::auth::{AuthBackend, Authenticated, IssuedTokens, Refresh};
use crate::error::{Error, Result};
use crate::hooks::UserHooks;
use crate::session::{LoginContext, Session, SessionEnd};
use crate::store::UserStore;
use crate::user::UserModel;

type IdOf<S> = <UserOf<S> as UserModel>::Id;

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
    /// The backends that keep sessions, each strategy once.
    fn session_backends(&self) -> Vec<AuthBackend<UserOf<S>>> {
        self.inner
            .backends
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Tells the hooks that `sessions` ended for `reason`. A hook's error is
    /// logged, not answered: the sessions are gone either way, and the use
    /// case that ended them (a reset, a deletion) must go on.
    async fn ended(
        &self,
        sessions: &[Session<IdOf<S>>],
        reason: SessionEnd,
        request: Option<&Parts>,
    ) {
        for session in sessions {
            if let Err(e) = self
                .hooks()
                .on_session_ended(session, reason, request)
                .await
            {
                tracing::warn!(
                    hook = "on_session_ended",
                    session = %session.id,
                    error = %e,
                    "user hook failed"
                );
            }
        }
    }

    /// Ends every session of a user in every registered revocable strategy,
    /// telling [`UserHooks::on_session_ended`] why. JWTs without a session
    /// are not touched: raise the user's token generation for that.
    pub async fn end_sessions(
        &self,
        user: &UserOf<S>,
        reason: SessionEnd,
        request: Option<&Parts>,
    ) -> Result<()> {
        self.end_sessions_seen(user, Vec::new(), reason, request)
            .await
    }

    /// [`end_sessions`](Self::end_sessions), reporting `seen` too: the
    /// sessions listed before a deletion took them with the user (a foreign
    /// key, or the memory store's own rule).
    pub(crate) async fn end_sessions_seen(
        &self,
        user: &UserOf<S>,
        seen: Vec<Session<IdOf<S>>>,
        reason: SessionEnd,
        request: Option<&Parts>,
    ) -> Result<()> {
        let mut ended = seen;
        for backend in self.session_backends() {
            for session in backend.strategy().destroy_all_tokens(user).await? {
                if !ended.iter().any(|known| known.id == session.id) {
                    ended.push(session);
                }
            }
        }
        self.ended(&ended, reason, request).await;
        Ok(())
    }

    /// Rotates a refresh token presented to `backend` (`POST /refresh`):
    /// the new tokens, or [`Error::RefreshTokenInvalid`] (401) for a token
    /// that is unknown, expired, of another backend, or already rotated —
    /// which ends its whole session (reuse detection).
    pub async fn refresh(
        &self,
        backend: &AuthBackend<UserOf<S>>,
        token: &str,
        login: &LoginContext,
        request: Option<&Parts>,
    ) -> Result<IssuedTokens> {
        match backend.strategy().refresh(token, login, self).await? {
            Refresh::Refreshed {
                user,
                session,
                tokens,
            } => {
                self.hooks()
                    .on_after_refresh(&user, &session, request)
                    .await?;
                Ok(tokens)
            }
            Refresh::Ended { session, reason } => {
                if reason == SessionEnd::ReuseDetected {
                    tracing::warn!(
                        target: "axum_users::audit",
                        session = %session.id,
                        user = %session.user_id,
                        "a rotated refresh token was presented again: its session ended"
                    );
                }
                self.ended(std::slice::from_ref(&session), reason, request)
                    .await;
                Err(Error::RefreshTokenInvalid)
            }
            Refresh::Invalid => Err(Error::RefreshTokenInvalid),
            // A strategy of a later version: nothing to give.
            #[allow(unreachable_patterns)]
            _ => Err(Error::RefreshTokenInvalid),
        }
    }

    /// Logs out the caller of `backend`: the strategy revokes the token, and
    /// the session the token belongs to ends, whichever strategy keeps it.
    pub async fn log_out(
        &self,
        backend: &AuthBackend<UserOf<S>>,
        caller: &Authenticated<UserOf<S>>,
        request: Option<&Parts>,
    ) -> Result<()> {
        let ended = match caller.session.as_deref() {
            Some(id) => self.find_and_end(id).await?,
            None => None,
        };
        backend
            .strategy()
            .destroy_token(&caller.token, &caller.user)
            .await?;
        if let Some(session) = ended {
            self.ended(std::slice::from_ref(&session), SessionEnd::Logout, request)
                .await;
        }
        Ok(())
    }

    /// The live sessions of a user in every revocable backend, newest first.
    pub async fn sessions(&self, user_id: &IdOf<S>) -> Result<Vec<Session<IdOf<S>>>> {
        let mut sessions: Vec<Session<IdOf<S>>> = Vec::new();
        for backend in self.session_backends() {
            for session in backend.strategy().user_sessions(user_id).await? {
                // Two strategies over one store list the same sessions.
                if !sessions.iter().any(|known| known.id == session.id) {
                    sessions.push(session);
                }
            }
        }
        sessions.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(sessions)
    }

    /// Ends the session `id` of the user `user_id` (`DELETE
    /// /users/me/sessions/{id}`): [`Error::NotFound`] (404) when the user has
    /// no such session, whoever else may have one.
    pub async fn end_session(
        &self,
        user_id: &IdOf<S>,
        id: &str,
        request: Option<&Parts>,
    ) -> Result<()> {
        let owned = self
            .sessions(user_id)
            .await?
            .into_iter()
            .any(|session| session.id == id);
        if !owned {
            return Err(Error::NotFound);
        }
        // Ended meanwhile, the outcome is the same.
        if let Some(session) = self.find_and_end(id).await? {
            self.ended(std::slice::from_ref(&session), SessionEnd::Revoked, request)
                .await;
        }
        Ok(())
    }

    /// Ends every session of the user `user_id` but `keep` (`DELETE
    /// /users/me/sessions`: all but the current one; a superuser's `DELETE
    /// /users/{id}/sessions`: all).
    pub async fn end_other_sessions(
        &self,
        user_id: &IdOf<S>,
        keep: Option<&str>,
        request: Option<&Parts>,
    ) -> Result<()> {
        self.end_sessions_but(user_id, keep, SessionEnd::Revoked, request)
            .await
    }

    /// Ends every session of the user `user_id` but `keep`, for `reason`.
    pub(crate) async fn end_sessions_but(
        &self,
        user_id: &IdOf<S>,
        keep: Option<&str>,
        reason: SessionEnd,
        request: Option<&Parts>,
    ) -> Result<()> {
        let mut ended = Vec::new();
        for session in self.sessions(user_id).await? {
            if Some(session.id.as_str()) == keep {
                continue;
            }
            if let Some(session) = self.find_and_end(&session.id).await? {
                ended.push(session);
            }
        }
        self.ended(&ended, reason, request).await;
        Ok(())
    }

    /// Binds the session `id` to `user`'s credentials as they are now (the
    /// session of a request that changed the password lives on).
    pub(crate) async fn rebind_session(&self, id: &str, user: &UserOf<S>) -> Result<()> {
        for backend in self.session_backends() {
            if backend.strategy().rebind_session(id, user).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Ends the session `id` in whichever strategy keeps it.
    async fn find_and_end(&self, id: &str) -> Result<Option<Session<IdOf<S>>>> {
        if !crate::session::could_be_session_id(id) {
            return Ok(None);
        }
        for backend in self.session_backends() {
            if let Some(session) = backend.strategy().end_session(id).await? {
                return Ok(Some(session));
            }
        }
        Ok(None)
    }
}
