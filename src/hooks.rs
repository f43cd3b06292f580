//! Hooks: how the application reacts to what happens to its users.
//!
//! Implement [`UserHooks`] and override the methods you need; every one has a
//! default (a no-op, or the crate's password policy for `validate_password`).
//! Hooks receive the request's parts (headers, URI, extensions) when the event
//! comes from an HTTP request, and `None` when the application called the
//! [`UserManager`](crate::UserManager) itself.
//!
//! ```
//! use axum_users::{User, UserHooks, http::request::Parts};
//!
//! struct Hooks;
//!
//! #[axum_users::async_trait]
//! impl UserHooks<User> for Hooks {
//!     async fn on_after_register(&self, user: &User, _request: Option<&Parts>) -> axum_users::Result<()> {
//!         tracing::info!(user = %user.id, "registered");
//!         Ok(())
//!     }
//! }
//! ```

use async_trait::async_trait;
use axum::response::Response;
use http::request::Parts;

use crate::error::{PasswordRejection, Result};
use crate::invitation::Invitation;
use crate::password::PasswordPolicy;
use crate::session::{Session, SessionEnd};
use crate::user::UserModel;

/// What [`UserHooks::validate_password`] knows about the password's owner.
#[derive(Debug)]
pub struct PasswordContext<'a, U> {
    /// The owner's address (for an update, the one stored before it).
    pub email: &'a str,
    /// The owner, when it already exists (update, reset); `None` at registration.
    pub user: Option<&'a U>,
    /// The policy configured on the manager.
    pub policy: &'a PasswordPolicy,
}

/// Which fields an update changed, as passed to [`UserHooks::on_after_update`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdatedFields {
    /// The e-mail address changed (and so `is_verified` is now false).
    pub email: bool,
    /// The password changed.
    pub password: bool,
    /// `is_active` changed.
    pub is_active: bool,
    /// `is_superuser` changed.
    pub is_superuser: bool,
    /// `is_verified` changed.
    pub is_verified: bool,
    /// The application's own fields changed.
    pub fields: bool,
    /// The username changed.
    pub username: bool,
}

/// The application's reactions to user events, and its password rules.
///
/// Every method has a default: the `on_*` events do nothing and
/// `validate_password` applies the manager's [`PasswordPolicy`]. An error returned
/// by an `on_before_*` hook stops the action; one returned by an `on_after_*` hook
/// comes after the action is done and only changes the response — except for
/// `on_after_forgot_password` and `on_after_request_verify`, which run in a task
/// of their own (so that the answer's timing says nothing about the address):
/// their errors are logged.
#[async_trait]
pub trait UserHooks<U: UserModel>: Send + Sync + 'static {
    /// Checks a password at registration, update and reset. Override it to add
    /// rules, calling `context.policy.check(..)` to keep the default ones.
    async fn validate_password(
        &self,
        password: &str,
        context: PasswordContext<'_, U>,
    ) -> Result<(), PasswordRejection> {
        context.policy.check(password, context.email)
    }

    /// After a user was created.
    async fn on_after_register(&self, _user: &U, _request: Option<&Parts>) -> Result<()> {
        Ok(())
    }

    /// After a successful login; `response` is the login response, which the hook
    /// may amend (say, with a header).
    async fn on_after_login(
        &self,
        _user: &U,
        _request: Option<&Parts>,
        _response: Option<&mut Response>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a user was updated.
    async fn on_after_update(
        &self,
        _user: &U,
        _changes: &UpdatedFields,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a verification token was issued for a user: send it to them.
    async fn on_after_request_verify(
        &self,
        _user: &U,
        _token: &str,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a user verified their address.
    async fn on_after_verify(&self, _user: &U, _request: Option<&Parts>) -> Result<()> {
        Ok(())
    }

    /// After a password-reset token was issued for a user: send it to them.
    async fn on_after_forgot_password(
        &self,
        _user: &U,
        _token: &str,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a user reset their password.
    async fn on_after_reset_password(&self, _user: &U, _request: Option<&Parts>) -> Result<()> {
        Ok(())
    }

    /// Before a user is deleted; an error keeps the user.
    async fn on_before_delete(&self, _user: &U, _request: Option<&Parts>) -> Result<()> {
        Ok(())
    }

    /// After a user was deleted.
    async fn on_after_delete(&self, _user: &U, _request: Option<&Parts>) -> Result<()> {
        Ok(())
    }

    /// After a login failed for `email` (a wrong password, an unknown or
    /// inactive account; `user` is the account, when there is one), or a
    /// current password was wrong. Also a `tracing` event on
    /// `axum_users::audit`.
    async fn on_failed_login(
        &self,
        _email: &str,
        _user: Option<&U>,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After the login throttle locked `email` (its last allowed attempt
    /// failed): the next logins answer 429 until the window closes.
    async fn on_lockout(
        &self,
        _email: &str,
        _user: Option<&U>,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After the user's password changed, whichever way (`POST
    /// /users/me/change-password`, `PATCH /users/me`, a superuser's update,
    /// a reset): the place for a notice mail to the account's address.
    async fn on_password_changed(&self, _user: &U, _request: Option<&Parts>) -> Result<()> {
        Ok(())
    }

    /// After a user asked to change their address to `new_email`: mail
    /// `token` to `new_email` (whose owner confirms with `POST
    /// /auth/confirm-email-change`), and a notice to the current address.
    /// Nothing has changed yet.
    async fn on_after_request_email_change(
        &self,
        _user: &U,
        _new_email: &str,
        _token: &str,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a change of address was confirmed: `user` as stored now,
    /// `old_email` the address it had.
    async fn on_email_changed(
        &self,
        _user: &U,
        _old_email: &str,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a refresh token was rotated: `session` as it is now.
    async fn on_after_refresh(
        &self,
        _user: &U,
        _session: &Session<U::Id>,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a superuser invited `invitation.email`: mail `token` to the
    /// address (whose owner accepts with `POST /auth/accept-invitation`). An
    /// error answers the invite request with it, and the invitation stays
    /// (revoke it, or invite again once it expired).
    async fn on_after_invite(
        &self,
        _invitation: &Invitation,
        _token: &str,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After an invitation was accepted: `user` is the new account (active
    /// and verified), `invitation` as accepted. Fired after
    /// `on_after_register`.
    async fn on_after_accept_invitation(
        &self,
        _user: &U,
        _invitation: &Invitation,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a session ended, and why (a logout, a revoke, a detected reuse
    /// of a refresh token, its expiry, a password change…). Called once per
    /// session; an error is logged (the session is gone either way, and the
    /// request that ended it goes on).
    async fn on_session_ended(
        &self,
        _session: &Session<U::Id>,
        _reason: SessionEnd,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a second factor was turned on: TOTP confirmed by its first code
    /// (`factor` is [`MfaFactor::Totp`](crate::mfa::MfaFactor::Totp)). The
    /// example server mails a notice. An error is logged (the factor is on
    /// either way).
    async fn on_after_mfa_enabled(
        &self,
        _user: &U,
        _factor: crate::mfa::MfaFactor,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }

    /// After a second factor was turned off: TOTP (with its recovery codes)
    /// by the user, or every factor by a superuser
    /// ([`MfaFactor::All`](crate::mfa::MfaFactor::All)). An error is logged.
    async fn on_after_mfa_disabled(
        &self,
        _user: &U,
        _factor: crate::mfa::MfaFactor,
        _request: Option<&Parts>,
    ) -> Result<()> {
        Ok(())
    }
}

/// Hooks that do nothing but apply the default password policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl<U: UserModel> UserHooks<U> for NoHooks {}
