//! The invitation use cases: invite, list, get, revoke, accept
//! ([`crate::invitation`]).

use chrono::Utc;
use http::request::Parts;
use uuid::Uuid;

use super::users::email_taken;
use super::{FieldsOf, UserManager, UserOf};
use crate::email::Email;
use crate::error::{Error, ErrorCode, Result};
use crate::hooks::UserHooks;
use crate::invitation::{Invitation, InvitationPage};
use crate::store::{InvitationStore, StoreError, UserStore};
use crate::tokens::{random_token, token_digest};
use crate::user::{Password, UserData, UserFields, UserModel};
use crate::username::Username;

/// What accepting an invitation takes: its token, the new user's password,
/// and (with usernames on) a username; the application's own fields of the
/// new user beside them.
#[derive(serde::Deserialize)]
pub struct AcceptInvitation<C> {
    /// The invitation's token.
    pub token: String,
    /// The new user's password.
    pub password: Password,
    /// A username, when usernames are on (ignored otherwise, whatever its
    /// JSON type).
    #[serde(default)]
    pub username: crate::username::UsernameInput,
    /// The application's own fields.
    #[serde(flatten)]
    pub fields: C,
}

impl<C> std::fmt::Debug for AcceptInvitation<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptInvitation")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl<S, H> UserManager<S, H>
where
    S: UserStore + InvitationStore,
    H: UserHooks<S::User>,
{
    /// Invites `email` for `days` (1 to 90: [`Error::Validation`] else),
    /// with a remark: the invitation, whose token went to
    /// `on_after_invite`. 400 `INVITATION_USER_ALREADY_EXISTS` when the
    /// address has a user, `INVITATION_ALREADY_PENDING` when it has a
    /// pending invitation.
    pub async fn invite(
        &self,
        email: &Email,
        days: u32,
        remark: Option<String>,
        request: Option<&Parts>,
    ) -> Result<Invitation> {
        use crate::invitation::{MAX_DAYS, MIN_DAYS};
        if !(MIN_DAYS..=MAX_DAYS).contains(&days) {
            return Err(Error::validation(
                &["body", "expires_in_days"],
                "expires_in_days must be between 1 and 90",
            ));
        }
        if self.store().get_by_email(email.as_str()).await?.is_some() {
            return Err(Error::Code(ErrorCode::InvitationUserAlreadyExists));
        }
        let now = Utc::now();
        if self
            .store()
            .pending_invitation(email.as_str(), now)
            .await?
            .is_some()
        {
            return Err(Error::Code(ErrorCode::InvitationAlreadyPending));
        }
        let token = random_token(32)?;
        let invitation = Invitation::new(email.as_str(), remark, now, days, token_digest(&token));
        // The store decides atomically: of concurrent invitations of one
        // address, one is stored.
        self.store()
            .create_invitation(invitation.clone())
            .await
            .map_err(|e| match e {
                StoreError::Conflict => Error::Code(ErrorCode::InvitationAlreadyPending),
                e => Error::Store(e),
            })?;
        tracing::info!(
            target: "axum_users::audit",
            event = "invitation_created",
            invitation = %invitation.id,
            "an address was invited"
        );
        self.hooks()
            .on_after_invite(&invitation, &token, request)
            .await?;
        Ok(invitation)
    }

    /// A page of invitations, newest first, and how many there are.
    pub async fn invitations(&self, offset: u64, limit: u64) -> Result<InvitationPage> {
        let (count, items) = self.store().invitations(offset, limit).await?;
        Ok(InvitationPage { count, items })
    }

    /// The invitation with this id; [`Error::NotFound`] when there is none.
    pub async fn invitation(&self, id: &Uuid) -> Result<Invitation> {
        self.store().invitation(id).await?.ok_or(Error::NotFound)
    }

    /// Revokes an invitation: its token no longer works (the record stays,
    /// `revoked`). [`Error::NotFound`] when there is none.
    pub async fn revoke_invitation(&self, id: &Uuid) -> Result<()> {
        match self.store().revoke_invitation(id).await? {
            true => {
                tracing::info!(
                    target: "axum_users::audit",
                    event = "invitation_revoked",
                    invitation = %id,
                    "an invitation was revoked"
                );
                Ok(())
            }
            false => Err(Error::NotFound),
        }
    }

    /// Accepts an invitation (`POST /auth/accept-invitation`): a new user,
    /// active and verified, with the invited address and `accept`'s
    /// password (and username). 400 `INVITATION_BAD_TOKEN` when the token is
    /// bad, expired, revoked or used (of concurrent accepts of one token,
    /// exactly one makes an account); `INVITATION_INVALID_PASSWORD`,
    /// `INVALID_USERNAME`, `REGISTER_USERNAME_ALREADY_EXISTS` and
    /// `REGISTER_USER_ALREADY_EXISTS` (the address got an account
    /// meanwhile) leave the token usable. Fires `on_after_register`, then
    /// `on_after_accept_invitation`.
    pub async fn accept_invitation(
        &self,
        accept: AcceptInvitation<<FieldsOf<S> as UserFields>::Create>,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let bad = || Error::Code(ErrorCode::InvitationBadToken);
        let now = Utc::now();
        let invitation = self
            .store()
            .invitation_by_token(&token_digest(&accept.token))
            .await?
            .filter(|invitation| invitation.is_pending(now))
            .ok_or_else(bad)?;
        // Everything that can refuse the input comes before the claim, so
        // that a refused password or username leaves the token usable.
        let username = self.checked_username(accept.username)?;
        self.validate_password(&accept.password, &invitation.email, None)
            .await
            .map_err(|e| {
                e.in_route(
                    ErrorCode::RegisterUserAlreadyExists,
                    ErrorCode::InvitationInvalidPassword,
                )
            })?;
        if self
            .store()
            .get_by_email(&invitation.email)
            .await?
            .is_some()
        {
            return Err(Error::Code(ErrorCode::RegisterUserAlreadyExists));
        }
        if let Some(username) = &username
            && self
                .store()
                .get_by_username(username.as_str())
                .await?
                .is_some()
        {
            return Err(Error::Code(ErrorCode::RegisterUsernameAlreadyExists));
        }
        let hashed_password = self.hasher().hash(&accept.password).await?;
        if !self.store().claim_invitation(&invitation.id, now).await? {
            return Err(bad());
        }
        let mut data = UserData::new(
            invitation.email.clone(),
            hashed_password,
            <FieldsOf<S>>::create(accept.fields),
        );
        // The invitation's token came to the address: it is proven.
        data.is_verified = true;
        data.username = username.map(Username::into_string);
        let user = match self.store().create(data).await {
            Ok(user) => user,
            Err(e) => {
                // No account after all: the token works again.
                self.store().unclaim_invitation(&invitation.id).await?;
                return Err(match e {
                    StoreError::UsernameTaken => {
                        Error::Code(ErrorCode::RegisterUsernameAlreadyExists)
                    }
                    e => match email_taken(e) {
                        Error::UserAlreadyExists => {
                            Error::Code(ErrorCode::RegisterUserAlreadyExists)
                        }
                        e => e,
                    },
                });
            }
        };
        let accepted = Invitation {
            accepted_at: Some(now),
            ..invitation
        };
        tracing::info!(
            target: "axum_users::audit",
            event = "invitation_accepted",
            invitation = %accepted.id,
            user = %user.id(),
            "an invitation was accepted"
        );
        self.hooks().on_after_register(&user, request).await?;
        self.hooks()
            .on_after_accept_invitation(&user, &accepted, request)
            .await?;
        Ok(user)
    }
}
