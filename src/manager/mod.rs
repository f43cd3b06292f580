//! [`UserManager`]: the use cases, where every rule about users lives once.
//!
//! Routers call it; so can the application's own code (a CLI that creates a
//! superuser calls [`UserManager::create`] with `safe = false`).
//!
//! | file | what |
//! | --- | --- |
//! | `builder.rs` | [`UserManagerBuilder`]: hooks, hasher, policy, token secrets |
//! | `users.rs` | create, authenticate, log in, update, delete; the users of the authenticator |
//! | `timing.rs` | what a failed login costs (`calibrate_login_timing`) |
//! | `tokens.rs` | forgot and reset password, request and verify e-mail |
//! | `oauth.rs` | log in with a provider, link one |
//! | `security.rs` | throttled logins, password and e-mail change |
//! | `sessions.rs` | list and end sessions |
//! | `invitations.rs` | invite, list, revoke, accept invitations |
//! | `mfa.rs` | TOTP, recovery codes, the second step of a login |
//! | `passkeys.rs` | passkeys: register, list, remove, log in |

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

mod builder;
mod invitations;
mod mfa;
mod oauth;
#[cfg(feature = "passkeys")]
mod passkeys;
mod security;
mod sessions;
mod timing;
mod tokens;
mod users;

pub use builder::{DEFAULT_TOKEN_LIFETIME, UserManagerBuilder};
pub use invitations::AcceptInvitation;
pub use oauth::{OAuthCallbackOptions, OAuthLogin};

use crate::auth::AuthBackend;
use crate::error::Result;
use crate::hooks::{NoHooks, UserHooks};
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::session::SessionEnd;
use crate::store::UserStore;
use crate::throttle::{LoginThrottle, MailCap};
use crate::tokens::PurposeTokens;
use crate::user::UserModel;
use timing::LoginTiming;

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
    email_change_tokens: PurposeTokens,
    /// Whether the token secrets are random per-process ones (warned about once).
    random_secrets: AtomicBool,
    /// When to end every session of a user.
    logout_everywhere: LogoutEverywhere,
    /// The login throttle, if any.
    login_throttle: Option<LoginThrottle>,
    /// The cap on mails per address, if any.
    mail_cap: Option<MailCap>,
    /// Whether `PATCH /users/me` needs the current password for a new
    /// password or address.
    current_password_on_update: bool,
    /// Whether users have usernames.
    usernames: bool,
    /// Whether registration is by invitation only (OAuth makes no users).
    invite_only: bool,
    /// Multi-factor login, if configured.
    mfa: Option<mfa::MfaRuntime<IdOf<S>>>,
    /// The backends whose revocable strategies hold sessions (registered by
    /// [`AxumUsers::new`](crate::AxumUsers::new)).
    backends: RwLock<Vec<AuthBackend<UserOf<S>>>>,
    /// What a failed login costs (see [`UserManager::calibrate_login_timing`]);
    /// measured at the first login unless calibrated before.
    login_timing: RwLock<Option<LoginTiming>>,
    /// Held while the login timing is measured: one measurement at a time.
    calibrating: tokio::sync::Mutex<()>,
    /// A measurement runs in the background (a stale one is renewed).
    recalibrating: AtomicBool,
}

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
    /// ("log out everywhere"), with [`SessionEnd::LogoutEverywhere`] as the
    /// reason: see [`end_sessions`](Self::end_sessions). It does not touch
    /// JWTs without a session, which cannot be revoked one by one: raise the
    /// user's token generation for that
    /// ([`UserChanges::bump_token_generation`](crate::store::UserChanges::bump_token_generation), which a reset, a superuser's
    /// password change and a deactivation do).
    pub async fn logout_everywhere(&self, user: &UserOf<S>) -> Result<()> {
        self.end_sessions(user, SessionEnd::LogoutEverywhere, None)
            .await
    }
}
