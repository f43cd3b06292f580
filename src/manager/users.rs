//! The use cases on users themselves: create, authenticate and log in,
//! update, delete; and the manager as the authenticator's loader of users.

use std::time::Instant;

use async_trait::async_trait;
use http::request::Parts;

use super::{FieldsOf, IdOf, UserManager, UserOf};
use crate::auth::UserLoader;
use crate::error::{Error, ErrorCode, Result};
use crate::hooks::{PasswordContext, UpdatedFields, UserHooks};
use crate::password::Verified;
use crate::session::SessionEnd;
use crate::store::{StoreError, UserChanges, UserStore};
use crate::user::{
    Password, UpdatedBy, UserCreate, UserData, UserFields, UserModel, UserRead, UserUpdate,
};
use crate::username::{Username, UsernameInput, is_username_login};

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
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

    /// Whether users have usernames
    /// ([`UserManagerBuilder::usernames`](super::UserManagerBuilder::usernames)).
    pub fn usernames(&self) -> bool {
        self.inner.usernames
    }

    /// `user` as the routers show it: with `"username"` when usernames are
    /// on.
    pub fn read<'a>(&self, user: &'a UserOf<S>) -> UserRead<'a, UserOf<S>> {
        user.read().with_username(self.inner.usernames)
    }

    /// The user a login form's `username` field names: with usernames on, a
    /// value without `@` is a username, anything else an address.
    pub async fn get_by_login(&self, login: &str) -> Result<Option<UserOf<S>>> {
        let found = match self.inner.usernames && is_username_login(login) {
            true => self.store().get_by_username(login).await?,
            false => self.store().get_by_email(login).await?,
        };
        Ok(found)
    }

    /// A username sent to a body, checked: `None` when usernames are off
    /// (the key is ignored then, whatever its type) or none was sent
    /// (absent or `null`); 422 for a value that is no string.
    pub(super) fn checked_username(&self, input: UsernameInput) -> Result<Option<Username>> {
        if !self.inner.usernames {
            return Ok(None);
        }
        match input {
            UsernameInput::Text(input) => Ok(Some(Username::parse(&input)?)),
            UsernameInput::NotAString => Err(Error::validation(
                &["body", "username"],
                "username must be a string",
            )),
            _ => Ok(None),
        }
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
    /// same address wins the race) or [`Error::InvalidPassword`]; with
    /// usernames on, with [`Error::InvalidUsername`] or
    /// `REGISTER_USERNAME_ALREADY_EXISTS` ([`Error::Code`]) too.
    pub async fn create(
        &self,
        create: UserCreate<<FieldsOf<S> as UserFields>::Create>,
        safe: bool,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let email = create.email.into_string();
        let username = self.checked_username(create.username)?;
        self.validate_password(&create.password, &email, None)
            .await?;
        if self.store().get_by_email(&email).await?.is_some() {
            return Err(Error::UserAlreadyExists);
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
            username: username.map(Username::into_string),
            token_generation: 0,
            password_generation: 0,
        };
        let user = self.store().create(data).await.map_err(|e| match e {
            StoreError::UsernameTaken => Error::Code(ErrorCode::RegisterUsernameAlreadyExists),
            e => email_taken(e),
        })?;
        self.hooks().on_after_register(&user, request).await?;
        Ok(user)
    }

    /// The user these credentials belong to, whether active or not; `None` for an
    /// unknown address or a wrong password. A hash weaker than the configured
    /// parameters is upgraded. With usernames on, `email` may be a username
    /// ([`get_by_login`](Self::get_by_login)).
    ///
    /// Every attempt costs exactly one password verification, and a failed one
    /// takes as long whether or not the account exists: an unknown address is
    /// verified against a dummy of the slowest class of hashes in the store
    /// (bcrypt or 64 MiB argon2 kept from FastAPI Users, say), and a wrong
    /// password for an account whose hash is faster to verify is answered
    /// only after as long (see [`calibrate_login_timing`](Self::calibrate_login_timing)).
    pub async fn authenticate(
        &self,
        email: &str,
        password: &Password,
    ) -> Result<Option<UserOf<S>>> {
        Ok(match self.check_credentials(email, password).await? {
            Credentials::Right(user) => Some(user),
            Credentials::Wrong(_) | Credentials::Unknown => None,
        })
    }

    /// [`authenticate`](Self::authenticate), telling a wrong password for a
    /// known address (with its user, for the failure hooks and the audit
    /// trail) from an unknown address.
    pub(crate) async fn check_credentials(
        &self,
        email: &str,
        password: &Password,
    ) -> Result<Credentials<UserOf<S>>> {
        let timing = self.login_timing().await?;
        let Some(user) = self.get_by_login(email).await? else {
            let start = Instant::now();
            self.hasher().verify(password, &timing.dummy).await?;
            timing.pad_from(start).await;
            return Ok(Credentials::Unknown);
        };
        let stored = user.data().hashed_password.clone();
        let start = Instant::now();
        let right = |user| Ok(Credentials::Right(user));
        match self.hasher().verify(password, &stored).await? {
            Verified::No => {
                timing.pad_from(start).await;
                Ok(Credentials::Wrong(user))
            }
            Verified::Yes => right(user),
            Verified::YesRehashed(hash) => {
                // Only the hash is written, and only if it is still the one just
                // verified: a concurrent change (a deactivation, a new password)
                // is never undone by the upgrade.
                let changes = UserChanges {
                    hashed_password: Some(hash),
                    // The same password: its sessions live on.
                    hash_upgrade: true,
                    if_hashed_password: Some(stored),
                    ..UserChanges::default()
                };
                match self.store().update(user.id(), changes).await {
                    Ok(fresh) => right(fresh),
                    // The password changed since it was read: these
                    // credentials were the old ones, and no longer log in.
                    Err(StoreError::Conflict) => Ok(Credentials::Wrong(user)),
                    // The user is gone.
                    Err(StoreError::NotFound) => Ok(Credentials::Unknown),
                    // The login stays valid on the hash it was checked against
                    // (its token is bound to it); the upgrade waits for the
                    // next login.
                    Err(e) => {
                        tracing::warn!(error = %e, "could not store an upgraded password hash");
                        right(user)
                    }
                }
            }
        }
    }

    /// The login rule: the credentials must match an active user, who must be
    /// verified when `requires_verification` is set. Fails with
    /// `LOGIN_BAD_CREDENTIALS` or `LOGIN_USER_NOT_VERIFIED` ([`Error::Code`]).
    ///
    /// It checks the password only: neither the login throttle nor a second
    /// factor. A login of the application's own should call
    /// [`login_from`](Self::login_from), which applies both.
    pub async fn login(
        &self,
        email: &str,
        password: &Password,
        requires_verification: bool,
    ) -> Result<UserOf<S>> {
        let user = self
            .authenticate(email, password)
            .await?
            .ok_or(Error::Code(crate::ErrorCode::LoginBadCredentials))?;
        Self::may_log_in(&user, requires_verification)?;
        Ok(user)
    }

    /// The rule for every login, by password or by a provider: an inactive
    /// user gets `LOGIN_BAD_CREDENTIALS`, an unverified one
    /// `LOGIN_USER_NOT_VERIFIED` when `requires_verification`.
    pub fn may_log_in(user: &UserOf<S>, requires_verification: bool) -> Result<()> {
        if !user.is_active() {
            return Err(Error::Code(crate::ErrorCode::LoginBadCredentials));
        }
        if requires_verification && !user.is_verified() {
            return Err(Error::Code(crate::ErrorCode::LoginUserNotVerified));
        }
        Ok(())
    }

    /// Updates a user and fires `on_after_update`.
    ///
    /// A *safe* update (`PATCH /users/me`) ignores `is_active`, `is_superuser` and
    /// `is_verified`. A new address must be free (ASCII-case-insensitively) and
    /// resets `is_verified`; the same address changes nothing. A new password must
    /// pass `validate_password` against the address stored before the update.
    ///
    /// A new password ends the user's revocable sessions (see
    /// [`LogoutEverywhere`](super::LogoutEverywhere)). An unsafe update (a superuser, or the
    /// application) that changes the password or deactivates the user also
    /// raises the token generation, ending every JWT of the user; a user
    /// changing their own password keeps their JWTs, so the token of the
    /// request keeps working.
    pub async fn update(
        &self,
        user: UserOf<S>,
        update: UserUpdate<<FieldsOf<S> as UserFields>::Update>,
        safe: bool,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        self.update_from(user, update, safe, None, request).await
    }

    /// [`update`](Self::update) for a request from `client`: the current
    /// password that [`current_password_on_update`](super::UserManagerBuilder::current_password_on_update)
    /// asks for is counted by the login throttle per client address too,
    /// and the audit trail names the client (`PATCH /users/me` calls this).
    pub async fn update_from(
        &self,
        user: UserOf<S>,
        update: UserUpdate<<FieldsOf<S> as UserFields>::Update>,
        safe: bool,
        client: Option<std::net::IpAddr>,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let mut updated = UpdatedFields::default();
        let mut changes = UserChanges::default();
        // The user's own change of password or address proves the current
        // password, when the manager requires it.
        let changes_credentials = update.password.is_some()
            || update
                .email
                .as_ref()
                .is_some_and(|email| email.as_str() != user.email());
        if safe && self.inner.current_password_on_update && changes_credentials {
            let current = update
                .current_password
                .clone()
                .unwrap_or_else(|| Password::new(""));
            self.check_current_password(&user, &current, client, request)
                .await?;
        }
        if let Some(password) = &update.password {
            self.validate_password(password, user.email(), Some(&user))
                .await?;
        }
        let username = self.checked_username(update.username)?;
        let data = user.data();
        if let Some(username) = username
            && data.username.as_deref() != Some(username.as_str())
        {
            // A case-only change of one's own name finds the user itself.
            if let Some(other) = self.store().get_by_username(username.as_str()).await?
                && other.id() != user.id()
            {
                return Err(Error::Code(ErrorCode::UpdateUserUsernameAlreadyExists));
            }
            changes.username = Some(username.into_string());
            updated.username = true;
        }
        if let Some(email) = update.email
            && email.as_str() != data.email
        {
            // A case-only change of one's own address finds the user itself.
            if let Some(other) = self.store().get_by_email(email.as_str()).await?
                && other.id() != user.id()
            {
                return Err(Error::UserAlreadyExists);
            }
            changes.email = Some(email.into_string());
            updated.email = true;
            changes.is_verified = Some(false);
            updated.is_verified = data.is_verified;
        }
        if let Some(password) = &update.password {
            changes.hashed_password = Some(self.hasher().hash(password).await?);
            updated.password = true;
            // Someone else set this password: every token of the user ends.
            changes.bump_token_generation |=
                !safe && self.inner.logout_everywhere.on_password_change;
        }
        if !safe {
            if let Some(v) = update.is_active {
                updated.is_active = v != data.is_active;
                changes.is_active = Some(v);
                // Deactivated: its tokens stay dead after a reactivation.
                changes.bump_token_generation |=
                    data.is_active && !v && self.inner.logout_everywhere.on_deactivation;
            }
            if let Some(v) = update.is_superuser {
                updated.is_superuser = v != data.is_superuser;
                changes.is_superuser = Some(v);
            }
            if let Some(v) = update.is_verified {
                // An explicit flag from a superuser wins over the reset that an
                // address change implies.
                updated.is_verified = v != data.is_verified;
                changes.is_verified = Some(v);
            }
        }
        let mut fields = data.fields.clone();
        let by = match safe {
            true => UpdatedBy::Owner,
            false => UpdatedBy::Superuser,
        };
        fields.update(update.fields, by);
        if serde_json::to_value(&fields).ok() != serde_json::to_value(&data.fields).ok() {
            changes.fields = Some(fields);
            updated.fields = true;
        }
        let was_active = data.is_active;
        let user = if changes.is_empty() {
            user
        } else {
            self.store()
                .update(user.id(), changes)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => Error::UserNotFound,
                    StoreError::UsernameTaken => {
                        Error::Code(ErrorCode::UpdateUserUsernameAlreadyExists)
                    }
                    e => email_taken(e),
                })?
        };
        // After the write, so that no session opened with the old password (or
        // before the deactivation) can slip in between.
        let policy = self.inner.logout_everywhere;
        if was_active && !user.is_active() && policy.on_deactivation {
            self.end_sessions(&user, SessionEnd::Deactivated, request)
                .await?;
        } else if updated.password && policy.on_password_change {
            self.end_sessions(&user, SessionEnd::PasswordChanged, request)
                .await?;
        }
        if updated.password {
            self.password_changed(&user, request).await;
        }
        self.hooks()
            .on_after_update(&user, &updated, request)
            .await?;
        Ok(user)
    }

    /// Deletes a user between `on_before_delete` (which may refuse) and
    /// `on_after_delete`.
    pub async fn delete(&self, user: UserOf<S>, request: Option<&Parts>) -> Result<()> {
        self.hooks().on_before_delete(&user, request).await?;
        // Listed first: the store may delete them with the user.
        let seen = match self.inner.logout_everywhere.on_deletion {
            true => self.sessions(user.id()).await?,
            false => Vec::new(),
        };
        self.store().delete(user.id()).await.map_err(|e| match e {
            StoreError::NotFound => Error::UserNotFound,
            e => Error::Store(e),
        })?;
        if self.inner.logout_everywhere.on_deletion {
            self.end_sessions_seen(&user, seen, SessionEnd::Deleted, request)
                .await?;
        }
        self.hooks().on_after_delete(&user, request).await
    }
}

/// The manager loads the users of the [`Authenticator`](crate::auth::Authenticator),
/// with its rule for sessions on a password change.
#[async_trait]
impl<S, H> UserLoader<UserOf<S>> for UserManager<S, H>
where
    S: UserStore,
    H: UserHooks<S::User>,
{
    async fn load_user(&self, id: &IdOf<S>) -> Result<Option<UserOf<S>>> {
        Ok(self.store().get(id).await?)
    }

    fn sessions_end_with_password(&self) -> bool {
        self.logout_everywhere_policy().on_password_change
    }
}

/// What a password login's credentials came to.
pub(crate) enum Credentials<U> {
    /// No user has the address.
    Unknown,
    /// The user of the address, whose password is another.
    Wrong(U),
    /// The user of the address, whose password this is.
    Right(U),
}

pub(super) fn email_taken(e: StoreError) -> Error {
    match e {
        StoreError::EmailTaken => Error::UserAlreadyExists,
        e => Error::Store(e),
    }
}
