//! What a failed login costs: measured on the classes of hashes the store
//! holds, so that a failed login takes as long for every account and for an
//! unknown address (see [`UserManager::calibrate_login_timing`]).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::UserManager;
use crate::error::{Error, Result};
use crate::hooks::UserHooks;
use crate::password::{HashClass, MeasuredDummy};
use crate::store::UserStore;
use crate::user::PasswordHash;

/// What a failed login costs: a dummy hash of the slowest class of hashes in
/// the store, and the time one verification against it takes.
#[derive(Debug, Clone)]
pub(super) struct LoginTiming {
    pub(super) dummy: PasswordHash,
    pub(super) verify_time: Duration,
    /// Whether failed logins wait to last `verify_time`: only when the store
    /// holds hashes of another class than the hasher's (kept from a
    /// migration).
    pad: bool,
    pub(super) measured_at: Instant,
}

/// How long a login timing holds before it is measured again (in the
/// background): the classes of hashes in the store change as the users of
/// migrated hashes log in and get theirs upgraded.
const LOGIN_TIMING_LIFETIME: Duration = Duration::from_secs(3600);

impl<S: UserStore, H: UserHooks<S::User>> UserManager<S, H> {
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
    pub(super) async fn login_timing(&self) -> Result<LoginTiming> {
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
}

impl LoginTiming {
    /// Waits until a verification of the slowest class would have ended, had
    /// it started at `start`: a failed verification of a faster hash takes as
    /// long. Only when the store keeps hashes of another class than the
    /// hasher's (which needs Tokio's timer, on in `#[tokio::main]`).
    pub(super) async fn pad_from(&self, start: Instant) {
        if !self.pad {
            return;
        }
        if let Some(rest) = self.verify_time.checked_sub(start.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::fast_test_hasher as fast;
    use crate::store::MemoryStore;
    use crate::user::{NoFields, Password, User, UserCreate, UserData};

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
