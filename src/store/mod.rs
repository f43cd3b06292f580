//! Where users live: the [`UserStore`] trait and the provided stores.
//!
//! | store | feature | notes |
//! | --- | --- | --- |
//! | [`MemoryStore`] | always | for tests, examples and prototypes |
//! | `SqliteStore` | `sqlite` | sqlx, embedded migrations |
//! | `PostgresStore` | `postgres` | sqlx, embedded migrations, UUID ids |
//!
//! A store of the application's own implements [`UserStore`] and proves itself
//! with the shared test suite in [`suite`], the same one the provided stores pass.

use async_trait::async_trait;

use crate::user::{PasswordHash, UserData, UserModel};

mod invitations;
mod memory;
mod mfa;
mod oauth;
#[cfg(feature = "postgres")]
mod pg_cache;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
pub(crate) mod redis;
mod sessions;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_reader;
#[cfg(feature = "test-suites")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suites")))]
pub mod suite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod timed;

pub use invitations::{Invitation, InvitationStore};
pub use memory::MemoryStore;
pub use mfa::{Challenge, ChallengeStore, MfaStore, PasskeyUse, StoredPasskey, TotpFactor};
pub use oauth::{OAuthAccount, OAuthAccountStore, ProviderToken};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisSessionStore;
pub use sessions::{Rotation, Session, SessionKind, SessionStore};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

/// The most hash samples [`UserStore::password_hash_samples`] returns.
pub const MAX_HASH_SAMPLES: usize = 64;

/// Why a store operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another user already has this e-mail address (the unique constraint on the
    /// lowercased address fired).
    #[error("e-mail address already taken")]
    EmailTaken,
    /// Another user already has this username (the unique constraint on the
    /// ASCII-lowercased username fired).
    #[error("username already taken")]
    UsernameTaken,
    /// The user to update or delete does not exist.
    #[error("user not found")]
    NotFound,
    /// A conditional update's condition no longer holds (the password hash or
    /// the address changed since it was read).
    #[error("the user changed concurrently")]
    Conflict,
    /// The OAuth account is linked to another user (the unique constraint on
    /// (`oauth_name`, `account_id`) fired).
    #[error("OAuth account linked to another user")]
    AccountTaken,
    /// The database cannot hold the store's tables as it is: a table of the
    /// same name that is not the store's, or a PostgreSQL `search_path` that
    /// names no existing schema. The message says what to do. Only
    /// `migrate()` answers it.
    #[error("{0}")]
    Schema(String),
    /// The backing service cannot be reached (connection refused, timeout):
    /// answered with 503 `SERVICE_UNAVAILABLE`. The cause is kept as the
    /// error's source.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] crate::error::BoxError),
    /// Anything else.
    #[error("store failure: {0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// Changes to a stored user: only the fields that are `Some` are written, so
/// concurrent changes to other fields are never undone.
///
/// ```
/// use axum_users::{NoFields, store::UserChanges};
/// let deactivate: UserChanges<NoFields> = UserChanges {
///     is_active: Some(false),
///     ..UserChanges::default()
/// };
/// ```
#[derive(Debug, Clone)]
pub struct UserChanges<F> {
    /// A new address.
    pub email: Option<String>,
    /// A new password hash. Writing one raises the password generation
    /// ([`UserData::password_generation`]) by one, ending the user's sessions,
    /// unless [`hash_upgrade`](Self::hash_upgrade) says it is the same
    /// password hashed again.
    pub hashed_password: Option<PasswordHash>,
    /// A new `is_active`.
    pub is_active: Option<bool>,
    /// A new `is_superuser`.
    pub is_superuser: Option<bool>,
    /// A new `is_verified`.
    pub is_verified: Option<bool>,
    /// New application fields (written whole).
    pub fields: Option<F>,
    /// A new username; a store fails with [`StoreError::UsernameTaken`] when
    /// another user has it (ASCII-case-insensitively).
    pub username: Option<String>,
    /// Raise the token generation by one ([`UserData::token_generation`]),
    /// atomically (`token_generation = token_generation + 1`): every token
    /// and session issued before ends.
    pub bump_token_generation: bool,
    /// The new `hashed_password` is the same password hashed again (an
    /// upgrade of a weak hash at login): the password generation stays, and
    /// so do the user's sessions.
    pub hash_upgrade: bool,
    /// A condition: write only if the stored hash is still this one, else fail
    /// with [`StoreError::Conflict`] (a compare-and-set, for hash upgrades and
    /// password resets).
    pub if_hashed_password: Option<PasswordHash>,
    /// A condition: write only if the stored address is still exactly this one,
    /// else fail with [`StoreError::Conflict`] (for e-mail verification).
    pub if_email: Option<String>,
}

/// The columns of the store's `users` table: a table named `users` without
/// them is someone else's.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) const USERS_COLUMNS: [&str; 7] = [
    "id",
    "email",
    "hashed_password",
    "is_active",
    "is_superuser",
    "is_verified",
    "fields",
];

/// The [`StoreError::Schema`] of a `users` table that is not the store's
/// (`missing` are the columns it lacks), in `place` (a schema, a file).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn foreign_users_table(place: &str, missing: &[&str], remedy: &str) -> StoreError {
    StoreError::Schema(format!(
        "a table named `users` already exists in {place} and is not axum-users' (it has no \
         column {}): the store would not create its own. {remedy}",
        missing
            .iter()
            .map(|column| format!("`{column}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

impl<F> Default for UserChanges<F> {
    fn default() -> Self {
        Self {
            email: None,
            hashed_password: None,
            is_active: None,
            is_superuser: None,
            is_verified: None,
            fields: None,
            username: None,
            bump_token_generation: false,
            hash_upgrade: false,
            if_hashed_password: None,
            if_email: None,
        }
    }
}

impl<F> UserChanges<F> {
    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.hashed_password.is_none()
            && self.is_active.is_none()
            && self.is_superuser.is_none()
            && self.is_verified.is_none()
            && self.fields.is_none()
            && self.username.is_none()
            && !self.bump_token_generation
    }

    /// Whether the conditions (`if_hashed_password`, `if_email`) hold for these
    /// stored data; a store writes nothing, and answers
    /// [`StoreError::Conflict`], when they don't.
    pub fn conditions_hold(&self, data: &UserData<F>) -> bool {
        self.if_hashed_password
            .as_ref()
            .is_none_or(|expected| data.hashed_password == *expected)
            && self
                .if_email
                .as_deref()
                .is_none_or(|expected| data.email == expected)
    }

    /// Applies the changes to user data in memory (for stores that hold users
    /// as values).
    pub fn apply_to(self, data: &mut UserData<F>) {
        if let Some(email) = self.email {
            data.email = email;
        }
        if let Some(hash) = self.hashed_password {
            data.hashed_password = hash;
            if !self.hash_upgrade {
                data.password_generation = data.password_generation.saturating_add(1);
            }
        }
        if let Some(v) = self.is_active {
            data.is_active = v;
        }
        if let Some(v) = self.is_superuser {
            data.is_superuser = v;
        }
        if let Some(v) = self.is_verified {
            data.is_verified = v;
        }
        if let Some(fields) = self.fields {
            data.fields = fields;
        }
        if let Some(username) = self.username {
            data.username = Some(username);
        }
        if self.bump_token_generation {
            data.token_generation = data.token_generation.saturating_add(1);
        }
    }
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
/// - `update` writes only the given fields, atomically, honours the
///   `if_hashed_password` and `if_email` conditions, raises the token
///   generation by one when asked (never otherwise), raises the password
///   generation by one with every new `hashed_password` but a `hash_upgrade`,
///   and fails with [`StoreError::EmailTaken`] when the new address belongs to
///   another user ([`UserChanges::apply_to`] does all this for stores that
///   keep users as values);
/// - a store that [supports usernames](UserStore::supports_usernames) keeps
///   them unique ASCII-case-insensitively as it keeps addresses, atomically
///   ([`StoreError::UsernameTaken`] on `create` and `update`), and finds a
///   user by one;
/// - every field of [`UserData`] is kept, the generations included.
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

    /// Whether this store keeps usernames ([`UserData::username`]): unique,
    /// and found by [`get_by_username`](Self::get_by_username). A manager
    /// with usernames on refuses to be built on a store that does not. The
    /// default is `false`; the provided stores keep them.
    fn supports_usernames(&self) -> bool {
        false
    }

    /// The user with this username (ASCII-case-insensitively), if any. The
    /// default, for stores without usernames, finds none.
    async fn get_by_username(&self, _username: &str) -> Result<Option<Self::User>, StoreError> {
        Ok(None)
    }

    /// Stores a new user, assigning its id.
    async fn create(
        &self,
        data: UserData<<Self::User as UserModel>::Fields>,
    ) -> Result<Self::User, StoreError>;

    /// Writes the given changes to a user and returns the user as stored
    /// afterwards; [`StoreError::NotFound`] when there is none with this id,
    /// [`StoreError::Conflict`] when `if_hashed_password` or `if_email` no longer
    /// holds (nothing is written then).
    async fn update(
        &self,
        id: &<Self::User as UserModel>::Id,
        changes: UserChanges<<Self::User as UserModel>::Fields>,
    ) -> Result<Self::User, StoreError>;

    /// Deletes a user; [`StoreError::NotFound`] when there is none with this id.
    async fn delete(&self, id: &<Self::User as UserModel>::Id) -> Result<(), StoreError>;

    /// One stored password hash of each distinct set of hashing parameters
    /// (bcrypt and its cost; argon2 and its variant, version, `m`, `t`, `p`),
    /// at most [`MAX_HASH_SAMPLES`]. The manager makes a failed login for an
    /// unknown address cost what one costs on the slowest of them (see
    /// [`UserManager::calibrate_login_timing`](crate::UserManager::calibrate_login_timing)),
    /// so that the accounts taken over from FastAPI Users (bcrypt, argon2id at
    /// 64 MiB) cannot be told apart by timing before their users log in again.
    ///
    /// The default answers none: unknown addresses then cost one verification
    /// at the hasher's own parameters, which is right for a store whose hashes
    /// were all made by this crate. The provided stores read their table.
    async fn password_hash_samples(&self) -> Result<Vec<PasswordHash>, StoreError> {
        Ok(Vec::new())
    }

    /// Called when the owner of the user's address proved it and takes the
    /// account back (a password reset, an e-mail verification, an OAuth login
    /// that links by address): the store drops what someone else may have
    /// attached to the account while the address was not verified. A store
    /// that keeps OAuth accounts drops the links made then
    /// ([`OAuthAccountStore::forget_unverified_oauth_accounts`]): they may be
    /// a squatter's, who registered the victim's address and linked their own
    /// provider account before the victim came. The default, for stores that
    /// keep nothing of the kind, does nothing; the provided stores forget the
    /// unverified links, and [`suite::run_oauth`] checks a store that keeps
    /// OAuth accounts does.
    async fn address_proven(&self, _id: &<Self::User as UserModel>::Id) -> Result<(), StoreError> {
        Ok(())
    }
}
