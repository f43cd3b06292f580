//! [`UserManager`]: the use cases, where every rule about users lives once.
//!
//! Routers call it; so can the application's own code (a CLI that creates a
//! superuser calls [`UserManager::create`] with `safe = false`).

use std::sync::Arc;

use http::request::Parts;

use crate::error::{Error, Result};
use crate::hooks::{NoHooks, PasswordContext, UpdatedFields, UserHooks};
use crate::password::{PasswordHasher, PasswordPolicy, Verified};
use crate::store::{StoreError, UserStore};
use crate::user::{Password, UserCreate, UserData, UserFields, UserModel, UserUpdate};

/// The user type of a store.
pub type UserOf<S> = <S as UserStore>::User;
type IdOf<S> = <UserOf<S> as UserModel>::Id;
type FieldsOf<S> = <UserOf<S> as UserModel>::Fields;

/// The use cases on users: create, authenticate, get, update, delete, with the
/// application's hooks and password policy. Cheap to clone.
///
/// ```
/// use axum_users::{User, UserManager, store::MemoryStore};
/// let manager = UserManager::new(MemoryStore::<User>::new());
/// ```
pub struct UserManager<S: UserStore, H = NoHooks> {
    inner: Arc<Inner<S, H>>,
}

struct Inner<S, H> {
    store: S,
    hooks: H,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
}

impl<S: UserStore, H> Clone for UserManager<S, H> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: UserStore, H> std::fmt::Debug for UserManager<S, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserManager")
            .field("hasher", &self.inner.hasher)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// Configures a [`UserManager`].
pub struct UserManagerBuilder<S, H> {
    store: S,
    hooks: H,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
}

impl<S: UserStore, H: UserHooks<S::User>> UserManagerBuilder<S, H> {
    /// The application's hooks.
    pub fn hooks<H2: UserHooks<S::User>>(self, hooks: H2) -> UserManagerBuilder<S, H2> {
        UserManagerBuilder {
            store: self.store,
            hooks,
            hasher: self.hasher,
            policy: self.policy,
        }
    }

    /// The password hasher (argon2 parameters, memory budget).
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// The password policy that the default `validate_password` hook applies.
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The manager.
    pub fn build(self) -> UserManager<S, H> {
        UserManager {
            inner: Arc::new(Inner {
                store: self.store,
                hooks: self.hooks,
                hasher: self.hasher,
                policy: self.policy,
            }),
        }
    }
}

impl<S: UserStore> UserManager<S, NoHooks> {
    /// A manager with default hooks, hasher and policy.
    pub fn new(store: S) -> Self {
        Self::builder(store).build()
    }

    /// A builder, to set hooks, hasher and policy.
    pub fn builder(store: S) -> UserManagerBuilder<S, NoHooks> {
        UserManagerBuilder {
            store,
            hooks: NoHooks,
            hasher: PasswordHasher::default(),
            policy: PasswordPolicy::default(),
        }
    }
}

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.inner.hooks
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The password policy.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.inner.policy
    }

    /// The user with this id; [`Error::UserNotFound`] when there is none.
    pub async fn get(&self, id: &IdOf<S>) -> Result<UserOf<S>> {
        self.store().get(id).await?.ok_or(Error::UserNotFound)
    }

    /// The user with this address (ASCII-case-insensitively); [`Error::UserNotFound`]
    /// when there is none.
    pub async fn get_by_email(&self, email: &str) -> Result<UserOf<S>> {
        self.store()
            .get_by_email(email)
            .await?
            .ok_or(Error::UserNotFound)
    }

    /// Checks a password with the `validate_password` hook.
    pub async fn validate_password(
        &self,
        password: &Password,
        email: &str,
        user: Option<&UserOf<S>>,
    ) -> Result<()> {
        let context = PasswordContext {
            email,
            user,
            policy: &self.inner.policy,
        };
        self.hooks()
            .validate_password(password.expose(), context)
            .await
            .map_err(Error::from)
    }

    /// Creates a user and fires `on_after_register`.
    ///
    /// A *safe* create (the register router) makes an active, non-superuser,
    /// unverified user whatever the input says; an unsafe one honours
    /// `is_active`, `is_superuser` and `is_verified`. Fails with
    /// [`Error::UserAlreadyExists`] (also when a concurrent registration of the
    /// same address wins the race) or [`Error::InvalidPassword`].
    pub async fn create(
        &self,
        create: UserCreate<<FieldsOf<S> as UserFields>::Create>,
        safe: bool,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let email = create.email.into_string();
        self.validate_password(&create.password, &email, None)
            .await?;
        if self.store().get_by_email(&email).await?.is_some() {
            return Err(Error::UserAlreadyExists);
        }
        let hashed_password = self.hasher().hash(&create.password).await?;
        let data = UserData {
            email,
            hashed_password,
            is_active: if safe {
                true
            } else {
                create.is_active.unwrap_or(true)
            },
            is_superuser: !safe && create.is_superuser.unwrap_or(false),
            is_verified: !safe && create.is_verified.unwrap_or(false),
            fields: <FieldsOf<S>>::create(create.fields),
        };
        let user = self.store().create(data).await.map_err(email_taken)?;
        self.hooks().on_after_register(&user, request).await?;
        Ok(user)
    }

    /// The user these credentials belong to, whether active or not; `None` for an
    /// unknown address or a wrong password. An unknown address costs one password
    /// verification too, so the answer's timing does not tell whether the account
    /// exists. A hash weaker than the configured parameters is upgraded.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &Password,
    ) -> Result<Option<UserOf<S>>> {
        let Some(mut user) = self.store().get_by_email(email).await? else {
            self.hasher().verify_dummy(password).await?;
            return Ok(None);
        };
        match self
            .hasher()
            .verify(password, &user.data().hashed_password)
            .await?
        {
            Verified::No => Ok(None),
            Verified::Yes => Ok(Some(user)),
            Verified::YesRehashed(hash) => {
                user.data_mut().hashed_password = hash;
                match self.store().update(&user).await {
                    Ok(()) => {}
                    // The login stays valid with the old hash; the upgrade waits
                    // for the next login.
                    Err(e) => {
                        tracing::warn!(error = %e, "could not store an upgraded password hash")
                    }
                }
                Ok(Some(user))
            }
        }
    }

    /// The login rule: the credentials must match an active user, who must be
    /// verified when `requires_verification` is set. Fails with
    /// [`Error::BadCredentials`] or [`Error::UserNotVerified`].
    pub async fn login(
        &self,
        email: &str,
        password: &Password,
        requires_verification: bool,
    ) -> Result<UserOf<S>> {
        let user = match self.authenticate(email, password).await? {
            Some(user) if user.is_active() => user,
            _ => return Err(Error::BadCredentials),
        };
        if requires_verification && !user.is_verified() {
            return Err(Error::UserNotVerified);
        }
        Ok(user)
    }

    /// Updates a user and fires `on_after_update`.
    ///
    /// A *safe* update (`PATCH /users/me`) ignores `is_active`, `is_superuser` and
    /// `is_verified`. A new address must be free (ASCII-case-insensitively) and
    /// resets `is_verified`; the same address changes nothing. A new password must
    /// pass `validate_password` against the address stored before the update.
    pub async fn update(
        &self,
        mut user: UserOf<S>,
        update: UserUpdate<<FieldsOf<S> as UserFields>::Update>,
        safe: bool,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let mut changes = UpdatedFields::default();
        if let Some(password) = &update.password {
            self.validate_password(password, user.email(), Some(&user))
                .await?;
        }
        if let Some(email) = update.email
            && email.as_str() != user.email()
        {
            // A case-only change of one's own address finds the user itself.
            if let Some(other) = self.store().get_by_email(email.as_str()).await?
                && other.id() != user.id()
            {
                return Err(Error::UserAlreadyExists);
            }
            let data = user.data_mut();
            data.email = email.into_string();
            changes.email = true;
            changes.is_verified = data.is_verified;
            data.is_verified = false;
        }
        if let Some(password) = &update.password {
            user.data_mut().hashed_password = self.hasher().hash(password).await?;
            changes.password = true;
        }
        if !safe {
            let data = user.data_mut();
            if let Some(v) = update.is_active {
                changes.is_active |= v != data.is_active;
                data.is_active = v;
            }
            if let Some(v) = update.is_superuser {
                changes.is_superuser |= v != data.is_superuser;
                data.is_superuser = v;
            }
            if let Some(v) = update.is_verified {
                changes.is_verified |= v != data.is_verified;
                data.is_verified = v;
            }
        }
        user.data_mut().fields.update(update.fields);
        changes.fields = true;
        self.store().update(&user).await.map_err(|e| match e {
            StoreError::NotFound => Error::UserNotFound,
            e => email_taken(e),
        })?;
        self.hooks()
            .on_after_update(&user, &changes, request)
            .await?;
        Ok(user)
    }

    /// Deletes a user between `on_before_delete` (which may refuse) and
    /// `on_after_delete`.
    pub async fn delete(&self, user: UserOf<S>, request: Option<&Parts>) -> Result<()> {
        self.hooks().on_before_delete(&user, request).await?;
        self.store().delete(user.id()).await.map_err(|e| match e {
            StoreError::NotFound => Error::UserNotFound,
            e => Error::Store(e),
        })?;
        self.hooks().on_after_delete(&user, request).await
    }
}

fn email_taken(e: StoreError) -> Error {
    match e {
        StoreError::EmailTaken => Error::UserAlreadyExists,
        e => Error::Store(e),
    }
}
