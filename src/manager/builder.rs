//! [`UserManagerBuilder`]: how a [`UserManager`] is configured.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{Inner, LogoutEverywhere, UserManager};
use crate::error::{Error, Result};
use crate::hooks::{NoHooks, UserHooks};
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::store::UserStore;
use crate::throttle::{LoginThrottle, MailCap};
use crate::tokens::{
    EMAIL_CHANGE_AUDIENCE, PurposeTokens, RESET_AUDIENCE, Secret, VERIFY_AUDIENCE,
};

/// Configures a [`UserManager`].
pub struct UserManagerBuilder<S: UserStore, H> {
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
    login_throttle: Option<LoginThrottle>,
    mail_cap: Option<MailCap>,
    current_password_on_update: bool,
    usernames: bool,
    invite_only: bool,
    mfa: Option<crate::mfa::Mfa<super::IdOf<S>>>,
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
            login_throttle: self.login_throttle,
            mail_cap: self.mail_cap,
            current_password_on_update: self.current_password_on_update,
            usernames: self.usernames,
            invite_only: self.invite_only,
            mfa: self.mfa,
        }
    }

    /// The login throttle (default none): every password login, and every
    /// check of a current password, counts against it
    /// ([`throttle`](crate::throttle)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_users::{User, UserManager, store::MemoryStore};
    /// use axum_users::throttle::{Limit, LoginThrottle, MemoryThrottle};
    /// let manager = UserManager::builder(MemoryStore::<User>::new())
    ///     .login_throttle(
    ///         LoginThrottle::new(MemoryThrottle::new())
    ///             .per_address(Some(Limit::new(5, Duration::from_secs(300)))),
    ///     )
    ///     .build();
    /// ```
    pub fn login_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.login_throttle = Some(throttle);
        self
    }

    /// The cap on mails that `forgot-password` and `request-verify-token`
    /// send to one address (default none; [`MailCap::new`] gives 3 per hour
    /// and route). Past it they still answer 202, and send nothing.
    pub fn mail_cap(mut self, cap: MailCap) -> Self {
        self.mail_cap = Some(cap);
        self
    }

    /// Whether `PATCH /users/me` must carry `current_password` (checked, and
    /// counted by the login throttle) to change the password or the address
    /// (default false: FastAPI Users' clients do not send it).
    pub fn current_password_on_update(mut self, required: bool) -> Self {
        self.current_password_on_update = required;
        self
    }

    /// Usernames on (default off): users may have a username beside their
    /// address ([`username`](crate::username)), set at registration and by
    /// `PATCH`, shown in the user object (`"username"`, `null` for a user
    /// without one), and the login form's `username` field takes either the
    /// address or the username. [`try_build`](Self::try_build) fails when
    /// the store does not [keep usernames](UserStore::supports_usernames).
    /// Off, nothing changes on the wire: a `username` key in a body is
    /// ignored and the user object has none.
    pub fn usernames(mut self, on: bool) -> Self {
        self.usernames = on;
        self
    }

    /// Registration by invitation only (default off): an OAuth login whose
    /// provider account has no user, and whose address none has, answers
    /// 400 `OAUTH_REGISTRATION_CLOSED` instead of creating one. Accounts
    /// then come from invitations ([`crate::invitation`]) and the
    /// application's own code; leave the register router out too.
    pub fn invite_only(mut self, on: bool) -> Self {
        self.invite_only = on;
        self
    }

    /// Multi-factor login on (default off): TOTP with recovery codes, and
    /// passkeys when [`Mfa::passkeys`](crate::mfa::Mfa::passkeys) sets a
    /// relying party ([`crate::mfa`]). Needs
    /// [`token_secret`](Self::token_secret): TOTP secrets are sealed under a
    /// key derived from it, so a random per-process secret would lose them
    /// at the next start ([`try_build`](Self::try_build) fails without one).
    pub fn mfa(mut self, mfa: crate::mfa::Mfa<super::IdOf<S>>) -> Self {
        self.mfa = Some(mfa);
        self
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
    /// (unless [`allow_short_secrets`](Self::allow_short_secrets)), the
    /// operating system cannot give random bytes for a missing one, or
    /// usernames are on and the store does not keep them.
    pub fn try_build(self) -> Result<UserManager<S, H>> {
        if self.usernames && !self.store.supports_usernames() {
            return Err(Error::Config(
                "usernames are on, but the store does not keep them \
                 (UserStore::supports_usernames)"
                    .into(),
            ));
        }
        let mfa = match self.mfa {
            None => None,
            Some(config) => {
                let Some(secret) = &self.verify_secret else {
                    return Err(Error::Config(
                        "multi-factor login needs a token secret (UserManagerBuilder::token_secret): \
                         TOTP secrets are sealed under a key derived from it"
                            .into(),
                    ));
                };
                Some(super::mfa::MfaRuntime::new(config, secret.expose())?)
            }
        };
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
        let verify_secret = pick(self.verify_secret)?;
        let verify_tokens = PurposeTokens::with_secret(
            &verify_secret,
            VERIFY_AUDIENCE,
            self.verify_lifetime,
            self.allow_short_secrets,
        )?;
        // E-mail changes are confirmed like verifications, with a purpose of
        // their own.
        let email_change_tokens = PurposeTokens::with_secret(
            &verify_secret,
            EMAIL_CHANGE_AUDIENCE,
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
                email_change_tokens,
                random_secrets: AtomicBool::new(random_secrets),
                logout_everywhere: self.logout_everywhere,
                login_throttle: self.login_throttle,
                mail_cap: self.mail_cap,
                current_password_on_update: self.current_password_on_update,
                usernames: self.usernames,
                invite_only: self.invite_only,
                mfa,
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
            login_throttle: None,
            mail_cap: None,
            current_password_on_update: false,
            usernames: false,
            invite_only: false,
            mfa: None,
        }
    }
}
