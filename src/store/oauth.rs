//! Storage of OAuth accounts: the provider accounts (GitHub, Google, an OpenID
//! Connect provider, …) linked to users, for OAuth login.
//!
//! A provider account — the pair (`oauth_name`, `account_id`) — has at most one
//! owner; the provided stores enforce it with a unique constraint, so two
//! concurrent links of one account give one owner.

use async_trait::async_trait;

use super::{StoreError, UserStore};
use crate::user::{UserData, UserModel};

/// A token issued by an OAuth provider (access or refresh token). It is kept so
/// that the application can call the provider's API for the user; its `Debug`
/// output is redacted and it does not implement `Serialize`, so it never ends up
/// in a log line or a response by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderToken(String);

impl ProviderToken {
    /// Wraps a token as the provider issued it.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, to call the provider's API with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ProviderToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderToken([redacted])")
    }
}

/// A provider account linked to a user (FastAPI Users' `OAuthAccount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAccount<Id> {
    /// The provider's name in this application (`"github"`, `"oidc"`, …).
    pub oauth_name: String,
    /// The account's id at the provider (OpenID Connect's `sub`).
    pub account_id: String,
    /// The address the provider gave for the account when it was last seen.
    pub account_email: String,
    /// Whether the provider vouched for that address, when the link was made
    /// and at every login since: a later login can lower it, never raise it.
    pub email_verified: bool,
    /// Whether the user's own address was verified when the link was made:
    /// the user was verified, or the provider vouched for that very address.
    /// Set once, never changed by a later login. A link made while it was not
    /// may be a squatter's (someone who registered the victim's address and
    /// linked their own provider account), so it is dropped when the owner
    /// takes the address back (see
    /// [`UserStore::address_proven`]).
    pub user_verified: bool,
    /// The provider's access token.
    pub access_token: ProviderToken,
    /// The provider's refresh token, if it issued one.
    pub refresh_token: Option<ProviderToken>,
    /// When the access token expires (Unix seconds), if the provider said.
    pub expires_at: Option<i64>,
    /// The user who owns the account.
    pub user_id: Id,
}

impl<Id> OAuthAccount<Id> {
    /// The same account, owned by `user_id`.
    pub fn with_user<Other>(self, user_id: Other) -> OAuthAccount<Other> {
        OAuthAccount {
            oauth_name: self.oauth_name,
            account_id: self.account_id,
            account_email: self.account_email,
            email_verified: self.email_verified,
            user_verified: self.user_verified,
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            expires_at: self.expires_at,
            user_id,
        }
    }
}

/// A [`UserStore`] that also keeps OAuth accounts: what OAuth login and
/// account association need. Implemented by the provided stores; the shared
/// suite ([`suite::run_oauth`](super::suite::run_oauth)) checks an
/// implementation's rules.
///
/// Rules: one owner per (`oauth_name`, `account_id`), enforced atomically;
/// deleting a user deletes its accounts.
#[async_trait]
pub trait OAuthAccountStore: UserStore {
    /// The user who owns this provider account, if any.
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<Self::User>, StoreError>;

    /// Links the account to `account.user_id`; when that user already owns it,
    /// refreshes the stored e-mail, tokens and expiry instead, lowers
    /// `email_verified` when the new value is false (never raises it) and
    /// keeps `user_verified` as it was. Fails with
    /// [`StoreError::AccountTaken`] when another user owns it and
    /// [`StoreError::NotFound`] when the user does not exist (nothing is
    /// written then).
    async fn link_oauth_account(
        &self,
        account: OAuthAccount<<Self::User as UserModel>::Id>,
    ) -> Result<(), StoreError>;

    /// Creates a user and links `account` to it in one step: no one ever sees
    /// the user without its link (a concurrent first login of the same account
    /// finds the link, not a user it may not link to). Fails with
    /// [`StoreError::EmailTaken`] or [`StoreError::AccountTaken`], writing
    /// nothing. `account.user_id` is ignored.
    ///
    /// The default creates, then links, and deletes the user when the link
    /// fails: correct, but a concurrent login may glimpse the user unlinked.
    /// The provided stores do it in one transaction.
    async fn create_with_oauth_account(
        &self,
        data: UserData<<Self::User as UserModel>::Fields>,
        account: OAuthAccount<()>,
    ) -> Result<Self::User, StoreError> {
        let user = self.create(data).await?;
        if let Err(e) = self
            .link_oauth_account(account.with_user(user.id().clone()))
            .await
        {
            if let Err(delete) = self.delete(user.id()).await {
                tracing::warn!(error = %delete, "could not remove a user whose OAuth link failed");
            }
            return Err(e);
        }
        Ok(user)
    }

    /// Deletes the user's links made while the user's address was not
    /// verified ([`OAuthAccount::user_verified`] false). A store calls it
    /// from its [`UserStore::address_proven`], when the owner of the address
    /// takes the account back.
    async fn forget_unverified_oauth_accounts(
        &self,
        user_id: &<Self::User as UserModel>::Id,
    ) -> Result<(), StoreError>;

    /// The accounts linked to a user, in no particular order.
    async fn oauth_accounts(
        &self,
        user_id: &<Self::User as UserModel>::Id,
    ) -> Result<Vec<OAuthAccount<<Self::User as UserModel>::Id>>, StoreError>;
}
