//! The OAuth use cases: log in with a provider account, and link one to the
//! current user. The rules of FastAPI Users' `oauth_callback`, with its flaws
//! fixed: an e-mail the provider reports as unverified never links an account
//! nor marks a user verified, a provider account has one owner, and a link
//! made while the user's address was not verified (perhaps by a squatter who
//! registered someone else's address) dies when the owner takes the address
//! back.

use http::request::Parts;

use super::{FieldsOf, UserManager, UserOf};
use crate::email::Email;
use crate::error::{Error, ErrorCode, Result};
use crate::hooks::UserHooks;
use crate::store::{OAuthAccount, OAuthAccountStore, ProviderToken, StoreError, UserChanges};
use crate::tokens::random_token;
use crate::user::{Password, UserData, UserModel};

/// What a provider said about the account that just signed in, with the
/// tokens it issued: the input of [`UserManager::oauth_callback`] and
/// [`UserManager::oauth_associate_callback`].
#[derive(Debug, Clone)]
pub struct OAuthLogin {
    /// The provider's name in this application (`"github"`, `"oidc"`, …).
    pub oauth_name: String,
    /// The account's id at the provider (OpenID Connect's `sub`).
    pub account_id: String,
    /// The account's e-mail address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider vouches that the address belongs to the account
    /// holder (OpenID Connect's `email_verified`; GitHub's verified primary
    /// address).
    pub email_verified: bool,
    /// The provider's access token.
    pub access_token: ProviderToken,
    /// The provider's refresh token, if any.
    pub refresh_token: Option<ProviderToken>,
    /// When the access token expires (Unix seconds), if the provider said.
    pub expires_at: Option<i64>,
}

impl OAuthLogin {
    /// The provider's address, validated like a registration's; a missing or
    /// invalid one is `OAUTH_NOT_AVAILABLE_EMAIL`.
    fn email(&self) -> Result<String> {
        self.email
            .as_deref()
            .and_then(|email| Email::parse(email).ok())
            .map(Email::into_string)
            .ok_or(Error::Code(ErrorCode::OAuthNotAvailableEmail))
    }

    /// Whether the provider vouches for `address` itself (ASCII letters
    /// compared case-insensitively, as stores compare addresses).
    fn vouches_for(&self, email: &str, address: &str) -> bool {
        self.email_verified && email.eq_ignore_ascii_case(address)
    }

    /// The link of this account to `user_id`; `user_verified` says whether
    /// the user's own address is verified now (see
    /// [`OAuthAccount::user_verified`]).
    fn account<Id>(&self, email: String, user_id: Id, user_verified: bool) -> OAuthAccount<Id> {
        OAuthAccount {
            oauth_name: self.oauth_name.clone(),
            account_id: self.account_id.clone(),
            account_email: email,
            email_verified: self.email_verified,
            user_verified,
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            expires_at: self.expires_at,
            user_id,
        }
    }
}

/// How OAuth login and association treat accounts they have not seen before
/// (FastAPI Users' `get_oauth_router` options, and one of ours). All are off
/// by default: FastAPI Users' behaviour, and the safe choice for the first two.
///
/// ```
/// use axum_users::manager::OAuthCallbackOptions;
/// let mut options = OAuthCallbackOptions::default();
/// options.associate_requires_verification = true;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthCallbackOptions {
    /// Link an unknown provider account to the existing user with the same
    /// address, when the provider reports the address as verified. Off: such a
    /// login answers `OAUTH_USER_ALREADY_EXISTS`. Turn it on only for providers
    /// that verify addresses; an unverified one is never linked. Such a login
    /// takes the address back for its owner (see
    /// [`UserManager::oauth_callback`]).
    pub associate_by_email: bool,
    /// Mark users created by OAuth login as verified, when the provider reports
    /// the address as verified.
    pub is_verified_by_default: bool,
    /// Let only verified users link a provider account (the associate
    /// router answers 403 to others). Off, as in FastAPI Users: a link made by
    /// an unverified user is allowed, and dropped when the owner of the
    /// address takes it back.
    pub associate_requires_verification: bool,
}

impl<S, H> UserManager<S, H>
where
    S: OAuthAccountStore,
    H: UserHooks<S::User>,
    FieldsOf<S>: Default,
{
    /// The user an OAuth login is for:
    ///
    /// - a known provider account: its owner, with the stored tokens refreshed;
    /// - an unknown account whose address belongs to a user: that user, linked,
    ///   when `associate_by_email` is on and the provider verified the address;
    ///   otherwise `OAUTH_USER_ALREADY_EXISTS`. The provider has then proven
    ///   the mailbox, and its owner takes the address back: the account's
    ///   password is replaced by one nobody knows (whoever registered the
    ///   address first, perhaps a squatter, may have set it; the owner sets a
    ///   new one with forgot-password), every token and session of the user
    ///   ends, and the links made while the address was not verified go;
    /// - otherwise a new active user with that address, a random password and
    ///   default application fields (verified when `is_verified_by_default` is
    ///   on and the provider verified the address), linked to the account;
    ///   `on_after_register` fires; with registration by invitation only
    ///   ([`UserManagerBuilder::invite_only`](super::UserManagerBuilder::invite_only)),
    ///   `OAUTH_REGISTRATION_CLOSED` instead.
    ///
    /// The returned user may be inactive or unverified: the caller applies the
    /// login rules. No address: `OAUTH_NOT_AVAILABLE_EMAIL`.
    pub async fn oauth_callback(
        &self,
        login: OAuthLogin,
        options: OAuthCallbackOptions,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let email = login.email()?;
        if let Some(user) = self.linked_user(&login, &email).await? {
            return Ok(user);
        }
        if let Some(user) = self.store().get_by_email(&email).await? {
            // A concurrent first login of this account may have created the
            // user (with its link, in one step) since the look-up above.
            if let Some(linked) = self.linked_user(&login, &email).await? {
                return Ok(linked);
            }
            return self.link_by_email(user, &login, email, options).await;
        }
        // Registration by invitation only: a provider account makes no new
        // user.
        if self.inner.invite_only {
            return Err(Error::Code(ErrorCode::OAuthRegistrationClosed));
        }
        let hashed_password = self.unusable_password().await?;
        let data = UserData {
            email: email.clone(),
            hashed_password,
            is_active: true,
            is_superuser: false,
            is_verified: options.is_verified_by_default && login.email_verified,
            fields: FieldsOf::<S>::default(),
            username: None,
            token_generation: 0,
            password_generation: 0,
        };
        // The user and its link appear together: a concurrent first login of
        // the same account finds the link, never an unlinked user.
        // The provider vouches for the new user's address itself, or the
        // link is one to drop when the owner of the address comes.
        let account = login.account(email.clone(), (), login.email_verified);
        let user = match self.store().create_with_oauth_account(data, account).await {
            Ok(user) => user,
            // A concurrent login of this account, or a registration of this
            // address, won the race: its user is the one to consider now.
            Err(StoreError::EmailTaken | StoreError::AccountTaken) => {
                if let Some(user) = self.linked_user(&login, &email).await? {
                    return Ok(user);
                }
                return match self.store().get_by_email(&email).await? {
                    Some(user) => self.link_by_email(user, &login, email, options).await,
                    None => Err(Error::Code(ErrorCode::OAuthUserAlreadyExists)),
                };
            }
            Err(e) => return Err(e.into()),
        };
        self.hooks().on_after_register(&user, request).await?;
        Ok(user)
    }

    /// Links a provider account to `user` (the associate router's callback) and
    /// returns the user as stored. The same account linked again by its owner
    /// refreshes the stored tokens; one owned by another user (linked, or
    /// created by an OAuth login) answers `OAUTH_ACCOUNT_ALREADY_LINKED`. The
    /// user's own address is kept. No address: `OAUTH_NOT_AVAILABLE_EMAIL`.
    ///
    /// The link records whether the user's address was verified (the user is
    /// verified, or the provider vouches for that very address): a link made
    /// while it was not is dropped when the owner takes the address back. With
    /// `associate_requires_verification`, an unverified user gets
    /// [`Error::Forbidden`].
    pub async fn oauth_associate_callback(
        &self,
        user: &UserOf<S>,
        login: OAuthLogin,
        options: OAuthCallbackOptions,
    ) -> Result<UserOf<S>> {
        if options.associate_requires_verification && !user.is_verified() {
            return Err(Error::Forbidden);
        }
        let email = login.email()?;
        let user_verified = user.is_verified() || login.vouches_for(&email, user.email());
        let account = login.account(email, user.id().clone(), user_verified);
        match self.store().link_oauth_account(account).await {
            Ok(()) => {}
            Err(StoreError::AccountTaken) => {
                return Err(Error::Code(ErrorCode::OAuthAccountAlreadyLinked));
            }
            Err(StoreError::NotFound) => return Err(Error::Unauthorized),
            Err(e) => return Err(e.into()),
        }
        self.store()
            .get(user.id())
            .await?
            .ok_or(Error::Unauthorized)
    }

    /// The owner of a known provider account, after refreshing the stored
    /// tokens and address.
    async fn linked_user(&self, login: &OAuthLogin, email: &str) -> Result<Option<UserOf<S>>> {
        let Some(user) = self
            .store()
            .get_by_oauth_account(&login.oauth_name, &login.account_id)
            .await?
        else {
            return Ok(None);
        };
        // A refresh: the store keeps the link's `user_verified` and never
        // raises its `email_verified`, whatever this login says.
        let account = login.account(email.to_owned(), user.id().clone(), false);
        match self.store().link_oauth_account(account).await {
            Ok(()) => Ok(Some(user)),
            // The owner was deleted meanwhile: the account is unknown again.
            Err(StoreError::NotFound) => Ok(None),
            Err(StoreError::AccountTaken) => Err(Error::Code(ErrorCode::OAuthAccountAlreadyLinked)),
            Err(e) => Err(e.into()),
        }
    }

    /// The hash of a random password nobody knows: the account has no usable
    /// password until its owner sets one (forgot-password).
    async fn unusable_password(&self) -> Result<crate::user::PasswordHash> {
        self.hasher().hash(&Password::new(random_token(32)?)).await
    }

    /// An OAuth login by address: the provider proved the mailbox of `user`'s
    /// address, and its owner takes the address back (see
    /// [`oauth_callback`](Self::oauth_callback)).
    async fn link_by_email(
        &self,
        user: UserOf<S>,
        login: &OAuthLogin,
        email: String,
        options: OAuthCallbackOptions,
    ) -> Result<UserOf<S>> {
        if !(options.associate_by_email && login.vouches_for(&email, user.email())) {
            return Err(Error::Code(ErrorCode::OAuthUserAlreadyExists));
        }
        // Whoever registered the address first may not be its owner (a
        // squatter), even when the account got verified since (its owner may
        // have clicked a verification link the squatter asked for): the
        // password they set stops working and every token and session of the
        // account ends. The owner logs in with the provider, or sets a
        // password with forgot-password. Compare-and-set: a concurrent change
        // of the password makes this login start over.
        let changes = UserChanges {
            hashed_password: Some(self.unusable_password().await?),
            bump_token_generation: true,
            if_hashed_password: Some(user.data().hashed_password.clone()),
            ..UserChanges::default()
        };
        let user = match self.store().update(user.id(), changes).await {
            Ok(user) => user,
            Err(StoreError::NotFound | StoreError::Conflict) => {
                return Err(Error::Code(ErrorCode::OAuthUserAlreadyExists));
            }
            Err(e) => return Err(e.into()),
        };
        // Links made while the address was not verified may be the
        // squatter's.
        self.store().address_proven(user.id()).await?;
        self.logout_everywhere(&user).await?;
        let account = login.account(email, user.id().clone(), true);
        match self.store().link_oauth_account(account).await {
            Ok(()) => Ok(user),
            Err(StoreError::AccountTaken) => Err(Error::Code(ErrorCode::OAuthUserAlreadyExists)),
            Err(StoreError::NotFound) => Err(Error::Code(ErrorCode::OAuthUserAlreadyExists)),
            Err(e) => Err(e.into()),
        }
    }
}
