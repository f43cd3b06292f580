//! The use cases of the tokens the manager mails: forgot and reset password,
//! request and verify an e-mail address.

use std::sync::atomic::Ordering;

use http::request::Parts;
use serde::{Deserialize, Serialize};

use super::{IdOf, UserManager, UserOf};
use crate::error::{Error, Result};
use crate::hooks::UserHooks;
use crate::session::SessionEnd;
use crate::store::{StoreError, UserChanges, UserStore};
use crate::user::{Password, UserModel};

/// The claims of a password-reset token (FastAPI Users' `sub` and
/// `password_fgpt`); the fingerprint is a keyed digest of the password hash, so
/// the token dies when the password changes and does not reveal the hash.
#[derive(Serialize, Deserialize)]
struct ResetClaims {
    sub: String,
    password_fgpt: String,
}

/// The claims of a verification token: bound to the user and the address.
#[derive(Serialize, Deserialize)]
struct VerifyClaims {
    sub: String,
    email: String,
}

/// What a reset token's fingerprint is a keyed digest of: the password hash
/// and the token generation, so that the token dies when the password
/// changes or every token of the user ends (a confirmed change of address, a
/// deactivation, an account taken back by OAuth).
fn reset_fingerprint_input<U: UserModel>(user: &U) -> Vec<u8> {
    let data = user.data();
    let mut input = data.hashed_password.as_str().as_bytes().to_vec();
    input.push(0);
    input.extend_from_slice(data.token_generation.to_string().as_bytes());
    input
}

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
    fn warn_random_secrets(&self) {
        if self.inner.random_secrets.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "reset and verification tokens are signed with a random per-process secret: \
                 they die with the process and are not shared between instances; \
                 configure UserManagerBuilder::token_secret"
            );
        }
    }

    /// Whether the route may mail `email` once more under the mail cap (the
    /// request is counted whether or not the address has an account, so
    /// the cap says nothing about it).
    async fn may_mail(&self, route: &str, email: &str) -> Result<bool> {
        let Some(cap) = &self.inner.mail_cap else {
            return Ok(true);
        };
        let allowed = cap.may_send(route, email).await?;
        if !allowed {
            tracing::info!(
                target: "axum_users::audit",
                event = "mail_capped",
                route,
                "a mail was not sent: the address had its share this hour"
            );
        }
        Ok(allowed)
    }

    /// Runs a mail-sending hook off the request path: the caller's answer must
    /// not wait for (nor its timing reveal) the work done for an existing user.
    /// Failures are logged, not returned.
    fn spawn_hook<F, Fut>(
        &self,
        name: &'static str,
        user: UserOf<S>,
        request: Option<&Parts>,
        hook: F,
    ) where
        F: FnOnce(Self, UserOf<S>, Option<Parts>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let manager = self.clone();
        let request = request.cloned();
        tokio::spawn(async move {
            // Let the answer go out before the hook's work starts.
            tokio::task::yield_now().await;
            let id = user.id().to_string();
            if let Err(e) = hook(manager, user, request).await {
                tracing::warn!(hook = name, user = %id, error = %e, "user hook failed");
            }
        });
    }

    /// A password-reset token for this user, valid until its lifetime ends or
    /// its password changes.
    pub fn reset_password_token(&self, user: &UserOf<S>) -> Result<String> {
        self.warn_random_secrets();
        let tokens = &self.inner.reset_tokens;
        tokens.sign(&ResetClaims {
            sub: user.id().to_string(),
            password_fgpt: tokens.digest(&reset_fingerprint_input(user)),
        })
    }

    /// A verification token for this user and its current address.
    pub fn verify_token(&self, user: &UserOf<S>) -> Result<String> {
        self.warn_random_secrets();
        self.inner.verify_tokens.sign(&VerifyClaims {
            sub: user.id().to_string(),
            email: user.email().to_owned(),
        })
    }

    /// Starts a password reset: for an existing active user, issues a reset token
    /// and hands it to `on_after_forgot_password`, which runs in a task of its own
    /// (so the answer takes the same time whether the account exists; failures are
    /// logged). Unknown and inactive addresses do nothing, without error.
    pub async fn forgot_password(&self, email: &str, request: Option<&Parts>) -> Result<()> {
        if !self.may_mail("forgot-password", email).await? {
            return Ok(());
        }
        let user = self.store().get_by_email(email).await?;
        let Some(user) = user.filter(|user| user.is_active()) else {
            // The work a real token costs, so that the answer's timing does not
            // tell whether the address has an account.
            self.inner.reset_tokens.sign(&ResetClaims {
                sub: String::new(),
                password_fgpt: self.inner.reset_tokens.digest(b""),
            })?;
            return Ok(());
        };
        let token = self.reset_password_token(&user)?;
        self.spawn_hook(
            "on_after_forgot_password",
            user,
            request,
            move |m, user, request| async move {
                m.hooks()
                    .on_after_forgot_password(&user, &token, request.as_ref())
                    .await
            },
        );
        Ok(())
    }

    /// Resets a password with a reset token: the token is checked first
    /// ([`Error::Code`] `RESET_PASSWORD_BAD_TOKEN` when it is invalid, expired, of
    /// another purpose, for a deleted or inactive user, or issued before the
    /// password last changed), then the new password (the policy, a rejection
    /// leaving the token usable). Fires `on_after_reset_password`.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &Password,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let bad = || Error::Code(crate::ErrorCode::ResetPasswordBadToken);
        let tokens = &self.inner.reset_tokens;
        let claims: ResetClaims = tokens.read(token).ok_or_else(bad)?;
        let id: IdOf<S> = claims.sub.parse().map_err(|_| bad())?;
        let Some(user) = self.store().get(&id).await? else {
            return Err(bad());
        };
        if !user.is_active()
            || !tokens.digest_matches(&claims.password_fgpt, &reset_fingerprint_input(&user))
        {
            return Err(bad());
        }
        self.validate_password(password, user.email(), Some(&user))
            .await?;
        // Compare-and-set: of two concurrent resets with one token, one wins.
        // A reset is how a stolen account is recovered: every token of the
        // user, JWTs included, ends.
        let changes = UserChanges {
            hashed_password: Some(self.hasher().hash(password).await?),
            bump_token_generation: self.inner.logout_everywhere.on_password_change,
            if_hashed_password: Some(user.data().hashed_password.clone()),
            ..UserChanges::default()
        };
        let user = self
            .store()
            .update(user.id(), changes)
            .await
            .map_err(|e| match e {
                StoreError::NotFound | StoreError::Conflict => bad(),
                e => Error::Store(e),
            })?;
        // The reset proved the mailbox: OAuth links made while the address
        // was not verified may be a squatter's, and go.
        self.store().address_proven(user.id()).await?;
        if self.inner.logout_everywhere.on_password_change {
            self.end_sessions(&user, SessionEnd::PasswordReset, request)
                .await?;
        }
        self.password_changed(&user, request).await;
        self.hooks().on_after_reset_password(&user, request).await?;
        Ok(user)
    }

    /// Starts a verification: for an existing, active, unverified user, issues a
    /// verification token and hands it to `on_after_request_verify`, in a task of
    /// its own (as [`forgot_password`](Self::forgot_password)). Other addresses do
    /// nothing, without error.
    pub async fn request_verify(&self, email: &str, request: Option<&Parts>) -> Result<()> {
        if !self.may_mail("request-verify-token", email).await? {
            return Ok(());
        }
        let user = self.store().get_by_email(email).await?;
        let Some(user) = user.filter(|user| user.is_active() && !user.is_verified()) else {
            // As in forgot_password: the cost of a real token.
            self.inner.verify_tokens.sign(&VerifyClaims {
                sub: String::new(),
                email: email.to_owned(),
            })?;
            return Ok(());
        };
        let token = self.verify_token(&user)?;
        self.spawn_hook(
            "on_after_request_verify",
            user,
            request,
            move |m, user, request| async move {
                m.hooks()
                    .on_after_request_verify(&user, &token, request.as_ref())
                    .await
            },
        );
        Ok(())
    }

    /// Verifies a user's address with a verification token and fires
    /// `on_after_verify`. `VERIFY_USER_BAD_TOKEN` when the token is invalid, of
    /// another purpose, for a deleted user, for an address the user no longer has
    /// or that now belongs to another account; `VERIFY_USER_ALREADY_VERIFIED` when
    /// the user is verified already.
    pub async fn verify(&self, token: &str, request: Option<&Parts>) -> Result<UserOf<S>> {
        let bad = || Error::Code(crate::ErrorCode::VerifyUserBadToken);
        let claims: VerifyClaims = self.inner.verify_tokens.read(token).ok_or_else(bad)?;
        let id: IdOf<S> = claims.sub.parse().map_err(|_| bad())?;
        let Some(user) = self.store().get_by_email(&claims.email).await? else {
            return Err(bad());
        };
        if *user.id() != id || user.email() != claims.email {
            return Err(bad());
        }
        if user.is_verified() {
            return Err(Error::Code(crate::ErrorCode::VerifyUserAlreadyVerified));
        }
        // Only if the address is still the one the token was issued for: a
        // concurrent change of address must not get verified by this token.
        let changes = UserChanges {
            is_verified: Some(true),
            if_email: Some(claims.email),
            ..UserChanges::default()
        };
        let user = self
            .store()
            .update(user.id(), changes)
            .await
            .map_err(|e| match e {
                StoreError::NotFound | StoreError::Conflict => bad(),
                e => Error::Store(e),
            })?;
        // The verification proved the mailbox: OAuth links made while the
        // address was not verified may be a squatter's, and go.
        self.store().address_proven(user.id()).await?;
        self.hooks().on_after_verify(&user, request).await?;
        Ok(user)
    }
}
