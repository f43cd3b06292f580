//! The account-security use cases: throttled logins, current-password
//! checks, password change, e-mail change with confirmation, and the audit
//! trail of each (`tracing` events on the target `axum_users::audit`, with
//! the user's id and the client's address, never a secret).

use std::net::IpAddr;
use std::time::Instant;

use http::request::Parts;
use serde::{Deserialize, Serialize};

use super::users::Credentials;
use super::{IdOf, UserManager, UserOf};
use crate::email::Email;
use crate::error::{Error, ErrorCode, Result};
use crate::hooks::UserHooks;
use crate::password::Verified;
use crate::session::SessionEnd;
use crate::store::{StoreError, UserChanges, UserStore};
use crate::throttle::Attempt;
use crate::user::{Password, UserModel};
use crate::username::is_username_login;

/// The claims of an e-mail change token: bound to the user, the address it
/// had when asked, the new one, and the user's token and password
/// generations then. A confirmation raises the token generation, so a token
/// works once, even when the account comes back to the address it was asked
/// from; any new password (a change, a reset) ends it, so that whoever
/// asked with a stolen password loses it with the password.
#[derive(Serialize, Deserialize)]
struct EmailChangeClaims {
    sub: String,
    old: String,
    new: String,
    #[serde(rename = "gen")]
    generation: u32,
    #[serde(rename = "pgen")]
    password_generation: u32,
}

/// Who is asking, for the audit trail: a client address, when known.
fn client_text(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
}

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
    /// A password login from `client`, through the login throttle when one
    /// is configured: [`Error::TooManyAttempts`] (429) when the address (or
    /// the client) is locked, else as [`login`](Self::login). A failure
    /// fires `on_failed_login` (and `on_lockout` when it locked the
    /// address); only a completed login clears the address's count.
    ///
    /// With [multi-factor login](crate::mfa) on, a user with TOTP on gets
    /// [`Error::MfaRequired`] instead of the user: the login finishes with
    /// [`complete_mfa_login`](Self::complete_mfa_login) (its `mfa_token`
    /// is good for any backend).
    pub async fn login_from(
        &self,
        email: &str,
        password: &Password,
        requires_verification: bool,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        self.password_login(
            email,
            password,
            requires_verification,
            client,
            request,
            None,
        )
        .await
    }

    /// [`login_from`](Self::login_from) through `backend` (an auth router's):
    /// the `mfa_token` of a user with a second factor is good only for
    /// that backend's second step.
    pub(crate) async fn password_login(
        &self,
        email: &str,
        password: &Password,
        requires_verification: bool,
        client: Option<IpAddr>,
        request: Option<&Parts>,
        backend: Option<&str>,
    ) -> Result<UserOf<S>> {
        // A username counts under its user's address: the two names of one
        // account share one count.
        let counted = match &self.inner.login_throttle {
            Some(_) if self.usernames() && is_username_login(email) => {
                match self.store().get_by_username(email).await? {
                    Some(user) => user.email().to_owned(),
                    None => email.to_owned(),
                }
            }
            _ => email.to_owned(),
        };
        let attempt = match &self.inner.login_throttle {
            Some(throttle) => match throttle.attempt(&counted, client).await {
                Ok(attempt) => attempt,
                Err(e) => {
                    if matches!(e, Error::TooManyAttempts { .. }) {
                        tracing::info!(
                            target: "axum_users::audit",
                            event = "login_throttled",
                            client = %client_text(client),
                            "a login of a locked address or client was refused"
                        );
                    }
                    return Err(e);
                }
            },
            None => Attempt::Allowed,
        };
        let bad_credentials = || Error::Code(ErrorCode::LoginBadCredentials);
        let user = match self.check_credentials(email, password).await? {
            Credentials::Right(user) => user,
            Credentials::Wrong(user) => {
                self.failed_login(email, Some(&user), attempt, client, request)
                    .await;
                return Err(bad_credentials());
            }
            Credentials::Unknown => {
                self.failed_login(email, None, attempt, client, request)
                    .await;
                return Err(bad_credentials());
            }
        };
        match Self::may_log_in(&user, requires_verification) {
            Ok(()) => {
                // A second factor to come: the count stays until the login
                // completes.
                self.second_factor_gate(&user, backend).await?;
                if let Some(throttle) = &self.inner.login_throttle {
                    throttle.succeeded(&counted, client).await?;
                }
                Ok(user)
            }
            // An unverified user knew the password: not a failed guess.
            Err(Error::Code(ErrorCode::LoginUserNotVerified)) => {
                if let Some(throttle) = &self.inner.login_throttle {
                    throttle.succeeded(&counted, client).await?;
                }
                Err(Error::Code(ErrorCode::LoginUserNotVerified))
            }
            // An inactive user: refused as a wrong password is.
            Err(e) => {
                self.failed_login(email, Some(&user), attempt, client, request)
                    .await;
                Err(e)
            }
        }
    }

    /// Reports a failed login (or a wrong current password): the audit
    /// event and `on_failed_login`, then the lockout when this attempt was
    /// the last one allowed. Hook errors are logged.
    pub(super) async fn failed_login(
        &self,
        email: &str,
        user: Option<&UserOf<S>>,
        attempt: Attempt,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) {
        let id = user.map_or_else(|| "-".to_owned(), |user| user.id().to_string());
        tracing::info!(
            target: "axum_users::audit",
            event = "login_failed",
            user = %id,
            client = %client_text(client),
            "a login or a current-password check failed"
        );
        if let Err(e) = self.hooks().on_failed_login(email, user, request).await {
            tracing::warn!(hook = "on_failed_login", error = %e, "user hook failed");
        }
        if attempt == Attempt::Last {
            tracing::warn!(
                target: "axum_users::audit",
                event = "lockout",
                user = %id,
                client = %client_text(client),
                "an address is locked by the login throttle"
            );
            if let Err(e) = self.hooks().on_lockout(email, user, request).await {
                tracing::warn!(hook = "on_lockout", error = %e, "user hook failed");
            }
        }
    }

    /// Checks `user`'s current password, counted by the login throttle like
    /// a login for the user's address: 400 `INVALID_CURRENT_PASSWORD` when it
    /// is wrong (or empty), 429 when the address is locked.
    pub async fn check_current_password(
        &self,
        user: &UserOf<S>,
        password: &Password,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<()> {
        let email = user.email();
        let attempt = match &self.inner.login_throttle {
            Some(throttle) => throttle.attempt(email, client).await?,
            None => Attempt::Allowed,
        };
        let timing = self.login_timing().await?;
        let start = Instant::now();
        let verified = match password.expose().is_empty() {
            true => Verified::No,
            false => {
                self.hasher()
                    .verify(password, &user.data().hashed_password)
                    .await?
            }
        };
        match verified {
            // An upgrade of the hash waits for the next login.
            Verified::Yes | Verified::YesRehashed(_) => {
                if let Some(throttle) = &self.inner.login_throttle {
                    throttle.succeeded(email, client).await?;
                }
                Ok(())
            }
            Verified::No => {
                timing.pad_from(start).await;
                self.failed_login(email, Some(user), attempt, client, request)
                    .await;
                Err(Error::Code(ErrorCode::InvalidCurrentPassword))
            }
        }
    }

    /// Whether `PATCH /users/me` needs the current password for a new
    /// password or address ([`UserManagerBuilder::current_password_on_update`](super::UserManagerBuilder::current_password_on_update)).
    pub fn requires_current_password_on_update(&self) -> bool {
        self.inner.current_password_on_update
    }

    /// Changes `user`'s password after checking the current one (`POST
    /// /users/me/change-password`): 400 `INVALID_CURRENT_PASSWORD`, 429, or
    /// `CHANGE_PASSWORD_INVALID_PASSWORD` with the policy's reason. Every
    /// other session of the user ends; the session `keep` (the request's)
    /// stays, bound to the new password. The user's JWTs stay valid (as
    /// with `PATCH /users/me`). Fires `on_password_changed`.
    pub async fn change_password(
        &self,
        user: UserOf<S>,
        current: &Password,
        new: &Password,
        keep: Option<&str>,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        self.check_current_password(&user, current, client, request)
            .await?;
        self.validate_password(new, user.email(), Some(&user))
            .await
            .map_err(|e| {
                e.in_route(
                    ErrorCode::UpdateUserEmailAlreadyExists,
                    ErrorCode::ChangePasswordInvalidPassword,
                )
            })?;
        let changes = UserChanges {
            hashed_password: Some(self.hasher().hash(new).await?),
            // Changed meanwhile (another change, a reset): this one loses.
            if_hashed_password: Some(user.data().hashed_password.clone()),
            ..UserChanges::default()
        };
        let user = self
            .store()
            .update(user.id(), changes)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::Unauthorized,
                StoreError::Conflict => Error::Code(ErrorCode::InvalidCurrentPassword),
                e => Error::Store(e),
            })?;
        if self.inner.logout_everywhere.on_password_change {
            self.end_sessions_but(user.id(), keep, SessionEnd::PasswordChanged, request)
                .await?;
            if let Some(keep) = keep {
                self.rebind_session(keep, &user).await?;
            }
        }
        tracing::info!(
            target: "axum_users::audit",
            event = "password_changed",
            user = %user.id(),
            client = %client_text(client),
            "a user changed their password"
        );
        self.password_changed(&user, request).await;
        Ok(user)
    }

    /// Fires `on_password_changed` (its error is logged: the password is
    /// changed either way).
    pub(crate) async fn password_changed(&self, user: &UserOf<S>, request: Option<&Parts>) {
        if let Err(e) = self.hooks().on_password_changed(user, request).await {
            tracing::warn!(hook = "on_password_changed", error = %e, "user hook failed");
        }
    }

    /// Asks to change `user`'s address to `new_email` (`POST
    /// /users/me/change-email`), after checking the current password: a
    /// token for the new address goes to `on_after_request_email_change`;
    /// nothing changes until it is confirmed. 400
    /// `UPDATE_USER_EMAIL_ALREADY_EXISTS` when the address has an account
    /// (the user's own included).
    pub async fn request_email_change(
        &self,
        user: &UserOf<S>,
        new_email: &Email,
        current: &Password,
        client: Option<IpAddr>,
        request: Option<&Parts>,
    ) -> Result<()> {
        self.check_current_password(user, current, client, request)
            .await?;
        if self
            .store()
            .get_by_email(new_email.as_str())
            .await?
            .is_some()
        {
            return Err(Error::Code(ErrorCode::UpdateUserEmailAlreadyExists));
        }
        let token = self.inner.email_change_tokens.sign(&EmailChangeClaims {
            sub: user.id().to_string(),
            old: user.email().to_owned(),
            new: new_email.as_str().to_owned(),
            generation: user.data().token_generation,
            password_generation: user.data().password_generation,
        })?;
        tracing::info!(
            target: "axum_users::audit",
            event = "email_change_requested",
            user = %user.id(),
            client = %client_text(client),
            "a user asked to change their address"
        );
        self.hooks()
            .on_after_request_email_change(user, new_email.as_str(), &token, request)
            .await
    }

    /// Confirms a change of address with its token (`POST
    /// /auth/confirm-email-change`): the user gets the new address, verified,
    /// and every token of the user ends (reset tokens, sessions, JWTs), as
    /// with a reset. 400
    /// `CHANGE_EMAIL_BAD_TOKEN` when the token is bad, expired or used, or
    /// the address was taken meanwhile. Fires `on_email_changed`.
    pub async fn confirm_email_change(
        &self,
        token: &str,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let bad = || Error::Code(ErrorCode::ChangeEmailBadToken);
        let claims: EmailChangeClaims =
            self.inner.email_change_tokens.read(token).ok_or_else(bad)?;
        let id: IdOf<S> = claims.sub.parse().map_err(|_| bad())?;
        let user = self.store().get(&id).await?.ok_or_else(bad)?;
        // Used already (the generation moved on with the confirmation, or
        // the address with another change), or for a deactivated user.
        if !user.is_active()
            || user.email() != claims.old
            || user.data().token_generation != claims.generation
            || user.data().password_generation != claims.password_generation
        {
            return Err(bad());
        }
        // Every token of the user ends, as with a reset: reset tokens mailed
        // to the old address, and the sessions and JWTs of whoever may have
        // had the account.
        let changes = UserChanges {
            email: Some(claims.new),
            is_verified: Some(true),
            if_email: Some(claims.old.clone()),
            bump_token_generation: true,
            ..UserChanges::default()
        };
        let user = self
            .store()
            .update(user.id(), changes)
            .await
            .map_err(|e| match e {
                StoreError::NotFound | StoreError::Conflict | StoreError::EmailTaken => bad(),
                e => Error::Store(e),
            })?;
        // The new mailbox is proven: links made while the address was not
        // verified may be a squatter's, and go.
        self.store().address_proven(user.id()).await?;
        self.end_sessions(&user, SessionEnd::EmailChanged, request)
            .await?;
        tracing::info!(
            target: "axum_users::audit",
            event = "email_changed",
            user = %user.id(),
            "a change of address was confirmed"
        );
        if let Err(e) = self
            .hooks()
            .on_email_changed(&user, &claims.old, request)
            .await
        {
            tracing::warn!(hook = "on_email_changed", error = %e, "user hook failed");
        }
        Ok(user)
    }
}
