//! Where users live: the [`UserStore`] trait and the provided stores.
//!
//! | store | feature | notes |
//! | --- | --- | --- |
//! | [`MemoryStore`] | always | for tests, examples and prototypes |
//! | `SqliteStore` | `sqlite` | sqlx, embedded migrations |
//!
//! A store of the application's own implements [`UserStore`] and proves itself
//! with the shared test suite in [`suite`], the same one the provided stores pass.

use async_trait::async_trait;

use crate::user::{UserData, UserModel};

mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod suite;

pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// Why a store operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another user already has this e-mail address (the unique constraint on the
    /// lowercased address fired).
    #[error("e-mail address already taken")]
    EmailTaken,
    /// The user to update or delete does not exist.
    #[error("user not found")]
    NotFound,
    /// The backing service cannot be reached (connection refused, timeout):
    /// answered with 503 `SERVICE_UNAVAILABLE`.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("store failure: {0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// The storage of users, async and implemented by the application or a provided store.
///
/// Rules every implementation keeps (the [`suite`] checks them):
///
/// - e-mail addresses are unique and looked up case-insensitively for ASCII
///   (`Arthur@x.com` and `arthur@x.com` are one address; non-ASCII letters are
///   compared as they are), enforced atomically so that two concurrent
///   creations of one address give one success and one [`StoreError::EmailTaken`];
/// - the address is stored and returned exactly as given;
/// - `update` writes every field of the user and fails with
///   [`StoreError::EmailTaken`] when the new address belongs to another user.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// The user type stored.
    type User: UserModel;

    /// The user with this id, if any.
    async fn get(
        &self,
        id: &<Self::User as UserModel>::Id,
    ) -> Result<Option<Self::User>, StoreError>;

    /// The user with this e-mail address (ASCII-case-insensitively), if any.
    async fn get_by_email(&self, email: &str) -> Result<Option<Self::User>, StoreError>;

    /// Stores a new user, assigning its id.
    async fn create(
        &self,
        data: UserData<<Self::User as UserModel>::Fields>,
    ) -> Result<Self::User, StoreError>;

    /// Writes every field of an existing user.
    async fn update(&self, user: &Self::User) -> Result<(), StoreError>;

    /// Deletes a user; [`StoreError::NotFound`] when there is none with this id.
    async fn delete(&self, id: &<Self::User as UserModel>::Id) -> Result<(), StoreError>;
}
