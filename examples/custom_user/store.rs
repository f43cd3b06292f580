//! The application's own user store: users in a `BTreeMap` behind a mutex.
//!
//! A real application keeps them in its database; the comments say what each
//! rule of [`UserStore`] becomes there. `tests/it/custom_user_store.rs` runs the
//! crate's store test suite against this store.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum_users::store::{StoreError, UserChanges, UserStore};
use axum_users::{UserData, async_trait};

use crate::user::{AppUser, Profile};

/// The users, by id.
#[derive(Debug, Default)]
pub struct AppStore {
    // One lock over the whole table: every check and the write it guards happen
    // under it, as in one database transaction.
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    users: BTreeMap<i64, AppUser>,
    last_id: i64,
}

impl Table {
    /// The user with this address, compared ASCII-case-insensitively:
    /// `Arthur@camelot.bt` and `arthur@camelot.bt` are one address, `jürgen@…`
    /// and `JÜRGEN@…` two. (In SQL: a unique index on `lower(email)`, whose
    /// `lower` folds ASCII only in SQLite.)
    fn by_email(&self, email: &str) -> Option<&AppUser> {
        self.users
            .values()
            .find(|user| user.data.email.eq_ignore_ascii_case(email))
    }
}

impl AppStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Every method checks before it writes, so a panic cannot leave the
        // table half-written: a poisoned lock is safe to keep using.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl UserStore for AppStore {
    type User = AppUser;

    async fn get(&self, id: &i64) -> Result<Option<AppUser>, StoreError> {
        Ok(self.table().users.get(id).cloned())
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<AppUser>, StoreError> {
        Ok(self.table().by_email(email).cloned())
    }

    async fn create(&self, data: UserData<Profile>) -> Result<AppUser, StoreError> {
        let mut table = self.table();
        // Check and insert under one lock: of two concurrent registrations of
        // one address, one wins and the other gets `EmailTaken` (which the
        // register route answers with 400 REGISTER_USER_ALREADY_EXISTS).
        if table.by_email(&data.email).is_some() {
            return Err(StoreError::EmailTaken);
        }
        table.last_id += 1;
        // The address is kept exactly as given.
        let user = AppUser {
            id: table.last_id,
            data,
        };
        table.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn update(&self, id: &i64, changes: UserChanges<Profile>) -> Result<AppUser, StoreError> {
        let mut table = self.table();
        let Some(current) = table.users.get(id) else {
            return Err(StoreError::NotFound);
        };
        // The compare-and-set conditions of password resets, hash upgrades and
        // e-mail verification (in SQL: `… WHERE id = ? AND hashed_password = ?`).
        if !changes.conditions_hold(&current.data) {
            return Err(StoreError::Conflict);
        }
        // A new address must be free; the user's own in another case is fine.
        if let Some(email) = &changes.email
            && table.by_email(email).is_some_and(|other| other.id != *id)
        {
            return Err(StoreError::EmailTaken);
        }
        // Every check passed: write the given fields, and only those.
        let user = table.users.get_mut(id).ok_or(StoreError::NotFound)?;
        changes.apply_to(&mut user.data);
        Ok(user.clone())
    }

    async fn delete(&self, id: &i64) -> Result<(), StoreError> {
        match self.table().users.remove(id) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }
}
