//! [`UserManager`]: the use cases, where every rule about users lives once.
//!
//! Routers call it; so can the application's own code (a CLI that creates a
//! superuser calls [`UserManager::create`] with `safe = false`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::request::Parts;
use serde::{Deserialize, Serialize};

mod oauth;

pub use oauth::{OAuthCallbackOptions, OAuthLogin};

use crate::auth::{AuthBackend, UserLoader};
use crate::error::{Error, Result};
use crate::hooks::{NoHooks, PasswordContext, UpdatedFields, UserHooks};
use crate::password::{HashClass, MeasuredDummy, PasswordHasher, PasswordPolicy, Verified};
use crate::store::{StoreError, UserChanges, UserStore};
use crate::tokens::{PurposeTokens, RESET_AUDIENCE, Secret, VERIFY_AUDIENCE};
use crate::user::{
    Password, PasswordHash, UpdatedBy, UserCreate, UserData, UserFields, UserModel, UserUpdate,
};
use async_trait::async_trait;

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

struct Inner<S: UserStore, H> {
    store: S,
    hooks: H,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    reset_tokens: PurposeTokens,
    verify_tokens: PurposeTokens,
    /// Whether the token secrets are random per-process ones (warned about once).
    random_secrets: AtomicBool,
    /// When to end every session of a user.
    logout_everywhere: LogoutEverywhere,
    /// The backends whose revocable strategies hold sessions (registered by
    /// [`AxumUsers::new`](crate::AxumUsers::new)).
    backends: RwLock<Vec<AuthBackend<UserOfStore<S>>>>,
    /// What a failed login costs (see [`UserManager::calibrate_login_timing`]);
    /// measured at the first login unless calibrated before.
    login_timing: RwLock<Option<LoginTiming>>,
    /// Held while the login timing is measured: one measurement at a time.
    calibrating: tokio::sync::Mutex<()>,
    /// A measurement runs in the background (a stale one is renewed).
    recalibrating: AtomicBool,
}

/// What a failed login costs: a dummy hash of the slowest class of hashes in
/// the store, and the time one verification against it takes.
#[derive(Debug, Clone)]
struct LoginTiming {
    dummy: PasswordHash,
    verify_time: Duration,
    /// Whether failed logins wait to last `verify_time`: only when the store
    /// holds hashes of another class than the hasher's (kept from a
    /// migration).
    pad: bool,
    measured_at: Instant,
}

/// How long a login timing holds before it is measured again (in the
/// background): the classes of hashes in the store change as the users of
/// migrated hashes log in and get theirs upgraded.
const LOGIN_TIMING_LIFETIME: Duration = Duration::from_secs(3600);

type UserOfStore<S> = <S as UserStore>::User;

/// When the manager ends every session of a user (database and Redis
/// sessions) and every JWT it issued (by raising the user's token generation,
/// see [`UserData::token_generation`](crate::UserData::token_generation)). All
/// on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutEverywhere {
    /// When the password changes: every session ends (a session is bound to
    /// the password it was opened under, so even one stored by a login racing
    /// the change is refused). A reset or a superuser's password change also
    /// ends every JWT; the user changing their own password keeps theirs, so
    /// the token of that request keeps working.
    pub on_password_change: bool,
    /// When a superuser deactivates the user: every session and JWT ends, and
    /// stays ended after a reactivation.
    pub on_deactivation: bool,
    /// When the user is deleted: its sessions are deleted (its JWTs name a
    /// user that no longer exists).
    pub on_deletion: bool,
}

impl Default for LogoutEverywhere {
    fn default() -> Self {
        Self {
            on_password_change: true,
            on_deactivation: true,
            on_deletion: true,
        }
    }
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
    logout_everywhere: LogoutEverywhere,
    reset_secret: Option<Secret>,
    reset_lifetime: Duration,
    verify_secret: Option<Secret>,
    verify_lifetime: Duration,
    allow_short_secrets: bool,
}

/// The default lifetime of reset and verification tokens: one hour.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

impl<S: UserStore, H: UserHooks<S::User>> UserManagerBuilder<S, H> {
    /// The application's hooks.
    pub fn hooks<H2: UserHooks<S::User>>(self, hooks: H2) -> UserManagerBuilder<S, H2> {
        UserManagerBuilder {
            store: self.store,
            hooks,
            hasher: self.hasher,
            policy: self.policy,
            logout_everywhere: self.logout_everywhere,
            reset_secret: self.reset_secret,
            reset_lifetime: self.reset_lifetime,
            verify_secret: self.verify_secret,
            verify_lifetime: self.verify_lifetime,
            allow_short_secrets: self.allow_short_secrets,
        }
    }

    /// When to end every session of a user (default: on a password change, a
    /// deactivation and a deletion).
    pub fn logout_everywhere(mut self, when: LogoutEverywhere) -> Self {
        self.logout_everywhere = when;
        self
    }

    /// The secret that signs password-reset and verification tokens (FastAPI
    /// Users' `reset_password_token_secret` and `verification_token_secret`).
    ///
    /// Without one, a random secret is made per process: tokens then die with the
    /// process and are not shared between instances. Set it in production. It
    /// must have at least 32 bytes (see
    /// [`allow_short_secrets`](Self::allow_short_secrets)); a shorter one makes
    /// [`try_build`](Self::try_build) fail with [`Error::Config`].
    pub fn token_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.reset_secret = Some(Secret::new(&secret));
        self.verify_secret = Some(Secret::new(&secret));
        self
    }

    /// A secret of its own for password-reset tokens, and their lifetime
    /// (default one hour).
    pub fn reset_password_token(mut self, secret: impl AsRef<[u8]>, lifetime: Duration) -> Self {
        self.reset_secret = Some(Secret::new(secret));
        self.reset_lifetime = lifetime;
        self
    }

    /// A secret of its own for verification tokens, and their lifetime (default
    /// one hour).
    pub fn verification_token(mut self, secret: impl AsRef<[u8]>, lifetime: Duration) -> Self {
        self.verify_secret = Some(Secret::new(secret));
        self.verify_lifetime = lifetime;
        self
    }

    /// Accept token secrets shorter than 32 bytes (default false): only for a
    /// deployment migrated from FastAPI Users whose secrets are shorter, so
    /// that the verification links in flight stay valid. A short secret can be
    /// guessed offline from any token it signed: move to a long one soon.
    pub fn allow_short_secrets(mut self, allow: bool) -> Self {
        self.allow_short_secrets = allow;
        self
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

    /// The manager. Fails when a token secret is empty or shorter than 32 bytes
    /// (unless [`allow_short_secrets`](Self::allow_short_secrets)), or the
    /// operating system cannot give random bytes for a missing one.
    pub fn try_build(self) -> Result<UserManager<S, H>> {
        let random_secrets = self.reset_secret.is_none() || self.verify_secret.is_none();
        let fallback = match random_secrets {
            true => Some(Secret::random()?),
            false => None,
        };
        let pick = |secret: Option<Secret>| match (secret, &fallback) {
            (Some(secret), _) => Ok(secret),
            (None, Some(fallback)) => Ok(fallback.clone()),
            (None, None) => Err(Error::Config("no token secret".into())),
        };
        let reset_tokens = PurposeTokens::with_secret(
            &pick(self.reset_secret)?,
            RESET_AUDIENCE,
            self.reset_lifetime,
            self.allow_short_secrets,
        )?;
        let verify_tokens = PurposeTokens::with_secret(
            &pick(self.verify_secret)?,
            VERIFY_AUDIENCE,
            self.verify_lifetime,
            self.allow_short_secrets,
        )?;
        Ok(UserManager {
            inner: Arc::new(Inner {
                store: self.store,
                hooks: self.hooks,
                hasher: self.hasher,
                policy: self.policy,
                reset_tokens,
                verify_tokens,
                random_secrets: AtomicBool::new(random_secrets),
                logout_everywhere: self.logout_everywhere,
                backends: RwLock::new(Vec::new()),
                login_timing: RwLock::new(None),
                calibrating: tokio::sync::Mutex::new(()),
                recalibrating: AtomicBool::new(false),
            }),
        })
    }

    /// The manager.
    ///
    /// # Panics
    ///
    /// When [`try_build`](Self::try_build) fails: an empty or short token
    /// secret, or no random source in the operating system.
    pub fn build(self) -> UserManager<S, H> {
        match self.try_build() {
            Ok(manager) => manager,
            Err(e) => panic!("cannot build the UserManager: {e}"),
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
            logout_everywhere: LogoutEverywhere::default(),
            reset_secret: None,
            reset_lifetime: DEFAULT_TOKEN_LIFETIME,
            verify_secret: None,
            verify_lifetime: DEFAULT_TOKEN_LIFETIME,
            allow_short_secrets: false,
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

    /// When the manager ends every session (and JWT) of a user.
    pub fn logout_everywhere_policy(&self) -> LogoutEverywhere {
        self.inner.logout_everywhere
    }

    /// Registers backends whose revocable strategies hold sessions, so that the
    /// manager can end them ([`AxumUsers::new`](crate::AxumUsers::new) does this).
    pub fn register_backends(&self, backends: &[AuthBackend<UserOf<S>>]) {
        let mut known = self
            .inner
            .backends
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for backend in backends {
            if backend.strategy().is_revocable() && !known.iter().any(|k| k.same_strategy(backend))
            {
                known.push(backend.clone());
            }
        }
    }

    /// Ends every session of a user in every registered revocable strategy
    /// ("log out everywhere"). It does not touch JWTs, which cannot be revoked
    /// one by one: raise the user's token generation for that
    /// ([`UserChanges::bump_token_generation`], which a reset, a superuser's
    /// password change and a deactivation do).
    pub async fn logout_everywhere(&self, user: &UserOf<S>) -> Result<()> {
        let backends = self
            .inner
            .backends
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for backend in backends {
            backend.strategy().destroy_all_tokens(user).await?;
        }
        Ok(())
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
            token_generation: 0,
            password_generation: 0,
        };
        let user = self.store().create(data).await.map_err(email_taken)?;
        self.hooks().on_after_register(&user, request).await?;
        Ok(user)
    }

    /// The user these credentials belong to, whether active or not; `None` for an
    /// unknown address or a wrong password. A hash weaker than the configured
    /// parameters is upgraded.
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
        let timing = self.login_timing().await?;
        let Some(user) = self.store().get_by_email(email).await? else {
            let start = Instant::now();
            self.hasher().verify(password, &timing.dummy).await?;
            timing.pad_from(start).await;
            return Ok(None);
        };
        let stored = user.data().hashed_password.clone();
        let start = Instant::now();
        match self.hasher().verify(password, &stored).await? {
            Verified::No => {
                timing.pad_from(start).await;
                Ok(None)
            }
            Verified::Yes => Ok(Some(user)),
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
                    Ok(fresh) => Ok(Some(fresh)),
                    // The password changed since it was read: these
                    // credentials were the old ones, and no longer log in.
                    Err(StoreError::Conflict) => Ok(None),
                    // The user is gone.
                    Err(StoreError::NotFound) => Ok(None),
                    // The login stays valid on the hash it was checked against
                    // (its token is bound to it); the upgrade waits for the
                    // next login.
                    Err(e) => {
                        tracing::warn!(error = %e, "could not store an upgraded password hash");
                        Ok(Some(user))
                    }
                }
            }
        }
    }

    /// Measures what a failed login costs, now: asks the store for one hash of
    /// each class it holds ([`UserStore::password_hash_samples`]), makes a
    /// dummy of each and times a verification against it, and keeps the
    /// slowest. [`authenticate`](Self::authenticate) then verifies unknown
    /// addresses against that dummy and answers a wrong password for a faster
    /// hash only after as long, so that neither an unknown address nor an
    /// account of another class of hashes shows by timing.
    ///
    /// Without this call the first login measures it (and waits for it: about
    /// a second with bcrypt hashes of cost 12); it is measured again in the
    /// background an hour later, as the classes kept from a migration
    /// disappear when their users log in. Call it at startup, after
    /// `migrate()`.
    pub async fn calibrate_login_timing(&self) -> Result<()> {
        let _measuring = self.inner.calibrating.lock().await;
        let timing = self.measure_login_timing().await?;
        self.set_login_timing(timing);
        Ok(())
    }

    async fn measure_login_timing(&self) -> Result<LoginTiming> {
        let mut classes = vec![self.hasher().own_class()];
        for sample in self.store().password_hash_samples().await? {
            if let Some(class) = HashClass::of(sample.as_str())
                && !classes.contains(&class)
            {
                classes.push(class);
            }
        }
        let pad = classes.len() > 1;
        let mut slowest: Option<MeasuredDummy> = None;
        for class in classes {
            let measured = self.hasher().measure(class).await?;
            if slowest
                .as_ref()
                .is_none_or(|slowest| measured.verify_time > slowest.verify_time)
            {
                slowest = Some(measured);
            }
        }
        // The hasher's own class is always measured.
        let slowest = slowest.ok_or_else(|| Error::Internal("no hash class measured".into()))?;
        Ok(LoginTiming {
            dummy: slowest.hash,
            verify_time: slowest.verify_time,
            pad,
            measured_at: Instant::now(),
        })
    }

    fn set_login_timing(&self, timing: LoginTiming) {
        *self
            .inner
            .login_timing
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(timing);
    }

    fn current_login_timing(&self) -> Option<LoginTiming> {
        self.inner
            .login_timing
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The login timing: measured now if it never was, renewed in the
    /// background when stale.
    async fn login_timing(&self) -> Result<LoginTiming> {
        if let Some(timing) = self.current_login_timing() {
            if timing.measured_at.elapsed() > LOGIN_TIMING_LIFETIME
                && !self.inner.recalibrating.swap(true, Ordering::AcqRel)
            {
                let manager = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = manager.calibrate_login_timing().await {
                        tracing::warn!(error = %e, "could not measure the login timing again");
                    }
                    manager.inner.recalibrating.store(false, Ordering::Release);
                });
            }
            return Ok(timing);
        }
        let _measuring = self.inner.calibrating.lock().await;
        // Measured by a concurrent first login while this one waited.
        if let Some(timing) = self.current_login_timing() {
            return Ok(timing);
        }
        let timing = self.measure_login_timing().await?;
        self.set_login_timing(timing.clone());
        Ok(timing)
    }

    /// The login rule: the credentials must match an active user, who must be
    /// verified when `requires_verification` is set. Fails with
    /// `LOGIN_BAD_CREDENTIALS` or `LOGIN_USER_NOT_VERIFIED` ([`Error::Code`]).
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
    /// [`LogoutEverywhere`]). An unsafe update (a superuser, or the
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
        let mut updated = UpdatedFields::default();
        let mut changes = UserChanges::default();
        if let Some(password) = &update.password {
            self.validate_password(password, user.email(), Some(&user))
                .await?;
        }
        let data = user.data();
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
                    e => email_taken(e),
                })?
        };
        // After the write, so that no session opened with the old password (or
        // before the deactivation) can slip in between.
        let policy = self.inner.logout_everywhere;
        if (updated.password && policy.on_password_change)
            || (was_active && !user.is_active() && policy.on_deactivation)
        {
            self.logout_everywhere(&user).await?;
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
        self.store().delete(user.id()).await.map_err(|e| match e {
            StoreError::NotFound => Error::UserNotFound,
            e => Error::Store(e),
        })?;
        if self.inner.logout_everywhere.on_deletion {
            self.logout_everywhere(&user).await?;
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

/// The claims of a password-reset token (FastAPI Users' `sub` and
/// `password_fgpt`); the fingerprint is a keyed digest of the password hash, so
/// the token dies when the password changes and does not reveal the hash.
#[derive(Serialize, Deserialize)]
struct ResetClaims {
    sub: String,
    password_fgpt: String,
}

/// The claims of a verification token: bound to the user and the address.
#[derive(Serialize, Deserialize)]
struct VerifyClaims {
    sub: String,
    email: String,
}

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
    fn warn_random_secrets(&self) {
        if self.inner.random_secrets.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "reset and verification tokens are signed with a random per-process secret: \
                 they die with the process and are not shared between instances; \
                 configure UserManagerBuilder::token_secret"
            );
        }
    }

    /// Runs a mail-sending hook off the request path: the caller's answer must
    /// not wait for (nor its timing reveal) the work done for an existing user.
    /// Failures are logged, not returned.
    fn spawn_hook<F, Fut>(
        &self,
        name: &'static str,
        user: UserOf<S>,
        request: Option<&Parts>,
        hook: F,
    ) where
        F: FnOnce(Self, UserOf<S>, Option<Parts>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let manager = self.clone();
        let request = request.cloned();
        tokio::spawn(async move {
            // Let the answer go out before the hook's work starts.
            tokio::task::yield_now().await;
            let id = user.id().to_string();
            if let Err(e) = hook(manager, user, request).await {
                tracing::warn!(hook = name, user = %id, error = %e, "user hook failed");
            }
        });
    }

    /// A password-reset token for this user, valid until its lifetime ends or
    /// its password changes.
    pub fn reset_password_token(&self, user: &UserOf<S>) -> Result<String> {
        self.warn_random_secrets();
        let tokens = &self.inner.reset_tokens;
        tokens.sign(&ResetClaims {
            sub: user.id().to_string(),
            password_fgpt: tokens.digest(user.data().hashed_password.as_str().as_bytes()),
        })
    }

    /// A verification token for this user and its current address.
    pub fn verify_token(&self, user: &UserOf<S>) -> Result<String> {
        self.warn_random_secrets();
        self.inner.verify_tokens.sign(&VerifyClaims {
            sub: user.id().to_string(),
            email: user.email().to_owned(),
        })
    }

    /// Starts a password reset: for an existing active user, issues a reset token
    /// and hands it to `on_after_forgot_password`, which runs in a task of its own
    /// (so the answer takes the same time whether the account exists; failures are
    /// logged). Unknown and inactive addresses do nothing, without error.
    pub async fn forgot_password(&self, email: &str, request: Option<&Parts>) -> Result<()> {
        let user = self.store().get_by_email(email).await?;
        let Some(user) = user.filter(|user| user.is_active()) else {
            // The work a real token costs, so that the answer's timing does not
            // tell whether the address has an account.
            self.inner.reset_tokens.sign(&ResetClaims {
                sub: String::new(),
                password_fgpt: self.inner.reset_tokens.digest(b""),
            })?;
            return Ok(());
        };
        let token = self.reset_password_token(&user)?;
        self.spawn_hook(
            "on_after_forgot_password",
            user,
            request,
            move |m, user, request| async move {
                m.hooks()
                    .on_after_forgot_password(&user, &token, request.as_ref())
                    .await
            },
        );
        Ok(())
    }

    /// Resets a password with a reset token: the token is checked first
    /// ([`Error::Code`] `RESET_PASSWORD_BAD_TOKEN` when it is invalid, expired, of
    /// another purpose, for a deleted or inactive user, or issued before the
    /// password last changed), then the new password (the policy, a rejection
    /// leaving the token usable). Fires `on_after_reset_password`.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &Password,
        request: Option<&Parts>,
    ) -> Result<UserOf<S>> {
        let bad = || Error::Code(crate::ErrorCode::ResetPasswordBadToken);
        let tokens = &self.inner.reset_tokens;
        let claims: ResetClaims = tokens.read(token).ok_or_else(bad)?;
        let id: IdOf<S> = claims.sub.parse().map_err(|_| bad())?;
        let Some(user) = self.store().get(&id).await? else {
            return Err(bad());
        };
        if !user.is_active()
            || !tokens.digest_matches(
                &claims.password_fgpt,
                user.data().hashed_password.as_str().as_bytes(),
            )
        {
            return Err(bad());
        }
        self.validate_password(password, user.email(), Some(&user))
            .await?;
        // Compare-and-set: of two concurrent resets with one token, one wins.
        // A reset is how a stolen account is recovered: every token of the
        // user, JWTs included, ends.
        let changes = UserChanges {
            hashed_password: Some(self.hasher().hash(password).await?),
            bump_token_generation: self.inner.logout_everywhere.on_password_change,
            if_hashed_password: Some(user.data().hashed_password.clone()),
            ..UserChanges::default()
        };
        let user = self
            .store()
            .update(user.id(), changes)
            .await
            .map_err(|e| match e {
                StoreError::NotFound | StoreError::Conflict => bad(),
                e => Error::Store(e),
            })?;
        // The reset proved the mailbox: OAuth links made while the address
        // was not verified may be a squatter's, and go.
        self.store()
            .forget_unverified_oauth_accounts(user.id())
            .await?;
        if self.inner.logout_everywhere.on_password_change {
            self.logout_everywhere(&user).await?;
        }
        self.hooks().on_after_reset_password(&user, request).await?;
        Ok(user)
    }

    /// Starts a verification: for an existing, active, unverified user, issues a
    /// verification token and hands it to `on_after_request_verify`, in a task of
    /// its own (as [`forgot_password`](Self::forgot_password)). Other addresses do
    /// nothing, without error.
    pub async fn request_verify(&self, email: &str, request: Option<&Parts>) -> Result<()> {
        let user = self.store().get_by_email(email).await?;
        let Some(user) = user.filter(|user| user.is_active() && !user.is_verified()) else {
            // As in forgot_password: the cost of a real token.
            self.inner.verify_tokens.sign(&VerifyClaims {
                sub: String::new(),
                email: email.to_owned(),
            })?;
            return Ok(());
        };
        let token = self.verify_token(&user)?;
        self.spawn_hook(
            "on_after_request_verify",
            user,
            request,
            move |m, user, request| async move {
                m.hooks()
                    .on_after_request_verify(&user, &token, request.as_ref())
                    .await
            },
        );
        Ok(())
    }

    /// Verifies a user's address with a verification token and fires
    /// `on_after_verify`. `VERIFY_USER_BAD_TOKEN` when the token is invalid, of
    /// another purpose, for a deleted user, for an address the user no longer has
    /// or that now belongs to another account; `VERIFY_USER_ALREADY_VERIFIED` when
    /// the user is verified already.
    pub async fn verify(&self, token: &str, request: Option<&Parts>) -> Result<UserOf<S>> {
        let bad = || Error::Code(crate::ErrorCode::VerifyUserBadToken);
        let claims: VerifyClaims = self.inner.verify_tokens.read(token).ok_or_else(bad)?;
        let id: IdOf<S> = claims.sub.parse().map_err(|_| bad())?;
        let Some(user) = self.store().get_by_email(&claims.email).await? else {
            return Err(bad());
        };
        if *user.id() != id || user.email() != claims.email {
            return Err(bad());
        }
        if user.is_verified() {
            return Err(Error::Code(crate::ErrorCode::VerifyUserAlreadyVerified));
        }
        // Only if the address is still the one the token was issued for: a
        // concurrent change of address must not get verified by this token.
        let changes = UserChanges {
            is_verified: Some(true),
            if_email: Some(claims.email),
            ..UserChanges::default()
        };
        let user = self
            .store()
            .update(user.id(), changes)
            .await
            .map_err(|e| match e {
                StoreError::NotFound | StoreError::Conflict => bad(),
                e => Error::Store(e),
            })?;
        // The verification proved the mailbox: OAuth links made while the
        // address was not verified may be a squatter's, and go.
        self.store()
            .forget_unverified_oauth_accounts(user.id())
            .await?;
        self.hooks().on_after_verify(&user, request).await?;
        Ok(user)
    }
}

impl LoginTiming {
    /// Waits until a verification of the slowest class would have ended, had
    /// it started at `start`: a failed verification of a faster hash takes as
    /// long. Only when the store keeps hashes of another class than the
    /// hasher's (which needs Tokio's timer, on in `#[tokio::main]`).
    async fn pad_from(&self, start: Instant) {
        if !self.pad {
            return;
        }
        if let Some(rest) = self.verify_time.checked_sub(start.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
}

fn email_taken(e: StoreError) -> Error {
    match e {
        StoreError::EmailTaken => Error::UserAlreadyExists,
        e => Error::Store(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::fast_test_hasher as fast;
    use crate::store::MemoryStore;
    use crate::user::{NoFields, User};

    #[tokio::test]
    async fn an_unknown_address_is_checked_against_the_slowest_class_in_the_store() {
        let store = MemoryStore::<User>::new();
        let manager = UserManager::builder(store.clone()).hasher(fast()).build();
        // Only the hasher's own hashes: no padding, a dummy of its class.
        manager
            .create(
                UserCreate::new(
                    crate::Email::parse("native@example.com").unwrap(),
                    "a native password",
                ),
                false,
                None,
            )
            .await
            .unwrap();
        manager.calibrate_login_timing().await.unwrap();
        let timing = manager.current_login_timing().unwrap();
        assert_eq!(
            HashClass::of(timing.dummy.as_str()),
            Some(manager.hasher().own_class())
        );
        assert!(!timing.pad, "nothing to pad");
        // A migrated bcrypt hash (cost 10: far slower than 1 MiB argon2).
        let kept = PasswordHash::new(bcrypt::hash("a kept password", 10).unwrap());
        store
            .create(UserData::new("migrated@example.com", kept, NoFields {}))
            .await
            .unwrap();
        manager.calibrate_login_timing().await.unwrap();
        let timing = manager.current_login_timing().unwrap();
        assert_eq!(
            HashClass::of(timing.dummy.as_str()),
            Some(HashClass::Bcrypt { cost: 10 })
        );
        assert!(timing.pad, "native accounts' failures wait as long");
    }

    #[tokio::test]
    async fn the_first_login_measures_the_timing_once() {
        let manager = UserManager::builder(MemoryStore::<User>::new())
            .hasher(fast())
            .build();
        assert!(manager.current_login_timing().is_none());
        let password = Password::new("x");
        // Two first logins at once: one measurement, both answered.
        let (a, b) = tokio::join!(
            manager.authenticate("nobody@example.com", &password),
            manager.authenticate("nobody@example.com", &password)
        );
        assert!(a.unwrap().is_none() && b.unwrap().is_none());
        let timing = manager.current_login_timing().expect("measured");
        manager
            .authenticate("nobody@example.com", &password)
            .await
            .unwrap();
        let again = manager.current_login_timing().unwrap();
        assert_eq!(again.measured_at, timing.measured_at, "measured once");
        assert_eq!(manager.hasher().stats().verifications, 3, "one per attempt");
    }
}
