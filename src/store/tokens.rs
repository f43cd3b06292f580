//! Storage of opaque access tokens, for the database strategy.
//!
//! Tokens are never stored: only their SHA-256 digest, so that a leaked table
//! gives no usable session.

use async_trait::async_trait;

use super::StoreError;

/// One stored access token: the digest of the token, whose user it is, and when
/// it expires (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord<Id> {
    /// The SHA-256 digest of the token, lowercase hex.
    pub digest: String,
    /// The token's user.
    pub user_id: Id,
    /// When it was issued (Unix seconds).
    pub created_at: u64,
    /// When it stops being valid (Unix seconds).
    pub expires_at: u64,
    /// The fingerprint of the user's credentials when the session was opened
    /// ([`Binding::fingerprint`](crate::auth::Binding::fingerprint)): the
    /// session is refused once the password or the token generation changed.
    pub binding: String,
}

/// Where the database strategy keeps its tokens: implemented by the provided
/// stores beside their users, and by the application's own.
#[async_trait]
pub trait AccessTokenStore<Id>: Send + Sync + 'static {
    /// Stores a new token.
    async fn create_token(&self, record: AccessTokenRecord<Id>) -> Result<(), StoreError>;
    /// The token with this digest, if stored (expired or not).
    async fn get_token(&self, digest: &str) -> Result<Option<AccessTokenRecord<Id>>, StoreError>;
    /// Deletes the token with this digest (no error when there is none).
    async fn delete_token(&self, digest: &str) -> Result<(), StoreError>;
    /// Deletes every token of a user (log out everywhere).
    async fn delete_user_tokens(&self, user_id: &Id) -> Result<(), StoreError>;
}
