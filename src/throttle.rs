//! Throttling: counters of failures in fixed windows ([`ThrottleStore`]),
//! the login throttle built on them ([`LoginThrottle`]), and the cap on
//! mails sent to one address.
//!
//! A window opens at a key's first hit and lasts its length; every hit in it
//! adds one; when it closes the count starts again from nothing. The counters
//! live in memory ([`MemoryThrottle`], one process) or in Redis
//! ([`RedisThrottle`], shared by every
//! instance of the application).
//!
//! **Login** ([`LoginThrottle`]): every attempt for an address counts before
//! the password is checked, so that concurrent guesses cannot outrun the
//! count; a successful login clears the address's count. Once more than `N`
//! attempts were counted in the window, every login for that address answers
//! 429 `LOGIN_TOO_MANY_ATTEMPTS` with `Retry-After` until the window closes,
//! even with the right password. Unknown addresses are counted and locked
//! the same way, so a lock says nothing about whether an account exists.
//! Addresses are counted under a digest of their lowercased form (no address
//! is stored in clear). A per-client-address limit counts the failed
//! attempts of one IP address across addresses (IPv6 by its /64 network,
//! IPv4-mapped IPv6 as IPv4): each attempt counts before its password is
//! checked, and one that turns out right is taken back, so that successful
//! logins from a busy network address never lock it, while a success does
//! not wipe the failures counted before it.
//!
//! **When the counters cannot be reached** (Redis down or slow past its
//! timeout), the throttle fails open: the attempt is not counted, a warning
//! goes to the `axum_users::audit` target, and the login goes on. The
//! crate's Redis paths answer 503 for what needs Redis and serve everything
//! else as usual: a JWT or database-session login needs no Redis, and an
//! outage of an add-on protection must not lock every user out. The
//! passwords are still argon2id-hashed, so the outage window gives an
//! attacker online guesses at hashing speed, not more; watch the warnings.
//! The mail cap fails open the same way (the mail goes).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::store::StoreError;
use crate::tokens::token_digest;

/// A limit: at most `max` hits in a window of `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The most hits the window allows.
    pub max: u32,
    /// The window's length.
    pub window: Duration,
}

impl Limit {
    /// At most `max` hits per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self { max, window }
    }

    /// Reads `N/S` (N hits per S seconds, both positive), or `off` (`None`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_users::throttle::Limit;
    /// assert_eq!(Limit::parse("5/300").unwrap(), Some(Limit::new(5, Duration::from_secs(300))));
    /// assert_eq!(Limit::parse("off").unwrap(), None);
    /// assert!(Limit::parse("5").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Option<Self>> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || {
            Error::Config(format!(
                "a limit is N/S (N attempts per S seconds) or off, not {text:?}"
            ))
        };
        let (max, seconds) = text.split_once('/').ok_or_else(bad)?;
        let max: u32 = max.trim().parse().map_err(|_| bad())?;
        let seconds: u64 = seconds.trim().parse().map_err(|_| bad())?;
        if max == 0 || seconds == 0 {
            return Err(bad());
        }
        Ok(Some(Self::new(max, Duration::from_secs(seconds))))
    }
}

/// A key's count in its window, and how long the window still lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hits {
    /// Hits counted in the window, this one included.
    pub count: u32,
    /// Seconds until the window closes (at least 1).
    pub retry_after: u64,
}

/// Where throttle counters live: fixed windows per key.
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one hit under `key`, opening a window of `window` if none is
    /// open; the count after it.
    async fn hit(&self, key: &str, window: Duration) -> Result<Hits, StoreError>;
    /// Forgets `key`'s window.
    async fn clear(&self, key: &str) -> Result<(), StoreError>;
    /// Takes back one hit of `key`'s open window (never below zero; nothing
    /// when no window is open): a hit counted before it was known to be no
    /// failure.
    async fn release(&self, key: &str) -> Result<(), StoreError>;
}

/// Throttle counters in this process's memory: for a single instance, tests
/// and examples. Windows that closed are forgotten as new ones open.
#[derive(Debug, Clone, Default)]
pub struct MemoryThrottle {
    windows: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
}

/// Closed windows are swept when the map reaches a power of two from this
/// size on (amortised O(1) per hit).
const SWEEP_FROM: usize = 1024;

impl MemoryThrottle {
    /// No counts yet.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ThrottleStore for MemoryThrottle {
    async fn hit(&self, key: &str, window: Duration) -> Result<Hits, StoreError> {
        let now = Instant::now();
        // A panic cannot leave a count half-written: the lock is safe to reuse.
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let len = windows.len();
        if len >= SWEEP_FROM && len.is_power_of_two() {
            windows.retain(|_, (_, ends)| *ends > now);
        }
        let entry = windows.entry(key.to_owned()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 = entry.0.saturating_add(1);
        let left = entry.1.saturating_duration_since(now);
        Ok(Hits {
            count: entry.0,
            retry_after: seconds_up(left),
        })
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((count, ends)) = windows.get_mut(key)
            && *ends > now
        {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }
}

/// Throttle counters in Redis, shared by every instance of the application:
/// one key per counter (`<prefix><key>`, the prefix `axum_users_throttle:` by
/// default) holding the count, with the window as its TTL. A hit is one
/// atomic script (`INCR`, `PEXPIRE` at the first hit, `PTTL`). When Redis
/// cannot be reached the throttle counts nothing and the login goes on: it
/// fails open (see the module's documentation for why).
///
/// ```no_run
/// # async fn run() -> axum_users::Result<()> {
/// use axum_users::store::RedisSessionStore;
/// use axum_users::throttle::{LoginThrottle, RedisThrottle};
/// let redis = RedisSessionStore::connect("redis://127.0.0.1:6379").await?;
/// let throttle = LoginThrottle::new(RedisThrottle::new(redis));
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Debug, Clone)]
pub struct RedisThrottle {
    redis: crate::store::RedisSessionStore,
    /// Until when Redis is taken for down after a failure: no request waits
    /// for it meanwhile.
    down_until: Arc<Mutex<Option<Instant>>>,
    pause: Duration,
}

#[cfg(feature = "redis")]
impl RedisThrottle {
    /// Counters on the connection of `redis`, under the prefix
    /// `axum_users_throttle:`, each operation bounded by 250 ms. After a
    /// failure (a timeout, a refused connection) Redis is left alone for 5
    /// s: the throttle counts nothing meanwhile, and no login waits for it.
    pub fn new(redis: crate::store::RedisSessionStore) -> Self {
        Self {
            redis: redis
                .prefix("axum_users_throttle:")
                .timeout(Duration::from_millis(250)),
            down_until: Arc::new(Mutex::new(None)),
            pause: Duration::from_secs(5),
        }
    }

    /// Another key prefix than `axum_users_throttle:`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis = self.redis.prefix(prefix);
        self
    }

    /// Another bound on one operation than 250 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.redis = self.redis.timeout(timeout);
        self
    }

    /// How long Redis is left alone after a failure (default 5 s).
    pub fn pause_after_failure(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// Runs `operation` unless Redis failed within the pause; a failure
    /// starts a pause.
    async fn guarded<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let down = *self
            .down_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if down.is_some_and(|until| Instant::now() < until) {
            return Err(StoreError::Unavailable(
                "Redis failed moments ago: not asked again yet".into(),
            ));
        }
        let result = operation.await;
        if result.is_err() {
            *self
                .down_until
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                Some(Instant::now() + self.pause);
        }
        result
    }
}

/// Counts a hit. KEYS: the counter. ARGV: the window in milliseconds.
#[cfg(feature = "redis")]
const HIT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

#[cfg(feature = "redis")]
#[async_trait]
impl ThrottleStore for RedisThrottle {
    async fn hit(&self, key: &str, window: Duration) -> Result<Hits, StoreError> {
        let script = ::redis::Script::new(HIT);
        let mut invocation = script.key(self.redis.key(key));
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        invocation.arg(window_ms);
        let (count, ttl_ms): (u64, u64) = self.guarded(self.redis.script(&invocation)).await?;
        Ok(Hits {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            retry_after: seconds_up(Duration::from_millis(ttl_ms)),
        })
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        let delete = ::redis::cmd("DEL").arg(self.redis.key(key)).clone();
        let () = self.guarded(self.redis.cmd(&delete)).await?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let script = ::redis::Script::new(RELEASE);
        let invocation = script.key(self.redis.key(key));
        let () = self.guarded(self.redis.script(&invocation)).await?;
        Ok(())
    }
}

/// Takes back a hit: `DECR` keeps the key's TTL, and a count is never taken
/// below zero nor a closed window reopened. KEYS: the counter.
#[cfg(feature = "redis")]
const RELEASE: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
  redis.call('DECR', KEYS[1])
end
return nil
";

/// A duration in whole seconds, rounded up, at least 1.
fn seconds_up(duration: Duration) -> u64 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    seconds.max(1)
}

/// The login throttle: per address, and optionally per client address.
///
/// ```
/// use std::time::Duration;
/// use axum_users::throttle::{Limit, LoginThrottle, MemoryThrottle};
/// let throttle = LoginThrottle::new(MemoryThrottle::new())
///     .per_address(Some(Limit::new(5, Duration::from_secs(300))))
///     .per_client(Some(Limit::new(50, Duration::from_secs(300))));
/// ```
#[derive(Clone)]
pub struct LoginThrottle {
    store: Arc<dyn ThrottleStore>,
    per_address: Option<Limit>,
    per_client: Option<Limit>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("per_address", &self.per_address)
            .field("per_client", &self.per_client)
            .finish_non_exhaustive()
    }
}

/// What a login attempt may do, as the throttle decided before the password
/// was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Go on.
    Allowed,
    /// This attempt reached the limit: the address is locked from the next
    /// one on (a lockout, for the notices).
    Last,
}

impl LoginThrottle {
    /// A throttle counting in `store`, with no limit yet (both off).
    pub fn new(store: impl ThrottleStore) -> Self {
        Self {
            store: Arc::new(store),
            per_address: None,
            per_client: None,
        }
    }

    /// The limit per address (`None`: off).
    pub fn per_address(mut self, limit: Option<Limit>) -> Self {
        self.per_address = limit;
        self
    }

    /// The limit per client address, across addresses (`None`: off).
    pub fn per_client(mut self, limit: Option<Limit>) -> Self {
        self.per_client = limit;
        self
    }

    /// The store of the counters.
    pub fn store(&self) -> &dyn ThrottleStore {
        &*self.store
    }

    fn address_key(address: &str) -> String {
        format!(
            "login:address:{}",
            token_digest(&address.to_ascii_lowercase())
        )
    }

    fn client_key(ip: IpAddr) -> String {
        format!("login:client:{}", client_bucket(ip))
    }

    /// Counts an attempt for `address` from `client` before its password is
    /// checked: [`Error::TooManyAttempts`] (429) when either limit is
    /// exceeded.
    pub(crate) async fn attempt(&self, address: &str, client: Option<IpAddr>) -> Result<Attempt> {
        let mut outcome = Attempt::Allowed;
        if let (Some(limit), Some(ip)) = (self.per_client, client)
            && let Some(hits) =
                open_on_failure(self.store.hit(&Self::client_key(ip), limit.window).await)
            && hits.count > limit.max
        {
            return Err(Error::TooManyAttempts {
                retry_after: hits.retry_after,
            });
        }
        if let Some(limit) = self.per_address
            && let Some(hits) = open_on_failure(
                self.store
                    .hit(&Self::address_key(address), limit.window)
                    .await,
            )
        {
            if hits.count > limit.max {
                return Err(Error::TooManyAttempts {
                    retry_after: hits.retry_after,
                });
            }
            if hits.count == limit.max {
                outcome = Attempt::Last;
            }
        }
        Ok(outcome)
    }

    /// Credentials that were right (a completed login, a current password):
    /// the address's count starts again, and the client's hit is taken back
    /// (the per-client limit counts failures only).
    pub(crate) async fn succeeded(&self, address: &str, client: Option<IpAddr>) -> Result<()> {
        if self.per_address.is_some() {
            open_on_failure(self.store.clear(&Self::address_key(address)).await);
        }
        if let (Some(_), Some(ip)) = (self.per_client, client) {
            open_on_failure(self.store.release(&Self::client_key(ip)).await);
        }
        Ok(())
    }
}

/// What a counter store's failure comes to: nothing counted (the throttle
/// fails open, see the module's documentation), said loudly.
fn open_on_failure<T>(result: Result<T, StoreError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(
                target: "axum_users::audit",
                event = "throttle_unavailable",
                error = %e,
                "the throttle's counters cannot be reached: not counted"
            );
            None
        }
    }
}

/// What a client address is counted as: an IPv4 address itself, an IPv6
/// address by its /64 network (one host gets a whole /64), an IPv4-mapped
/// IPv6 address as its IPv4 address.
fn client_bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The cap on mails one route sends to one address: at most `max` per
/// `window` (3 per hour by default). A request past it is answered as usual
/// (202), and no mail goes.
#[derive(Clone)]
pub struct MailCap {
    store: Arc<dyn ThrottleStore>,
    limit: Limit,
}

impl std::fmt::Debug for MailCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailCap")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl MailCap {
    /// At most 3 mails per address per hour and route, counted in `store`.
    pub fn new(store: impl ThrottleStore) -> Self {
        Self {
            store: Arc::new(store),
            limit: Limit::new(3, Duration::from_secs(3600)),
        }
    }

    /// Another limit than 3 per hour.
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limit = limit;
        self
    }

    /// Whether the route `route` may send one more mail to `address` (and
    /// counts it).
    pub(crate) async fn may_send(&self, route: &str, address: &str) -> Result<bool> {
        let key = format!(
            "mail:{route}:{}",
            token_digest(&address.to_ascii_lowercase())
        );
        Ok(
            open_on_failure(self.store.hit(&key, self.limit.window).await)
                .is_none_or(|hits| hits.count <= self.limit.max),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_window_counts_until_it_closes() {
        let store = MemoryThrottle::new();
        let window = Duration::from_millis(1200);
        assert_eq!(store.hit("k", window).await.unwrap().count, 1);
        let hits = store.hit("k", window).await.unwrap();
        assert_eq!(hits.count, 2);
        assert!((1..=2).contains(&hits.retry_after));
        assert_eq!(store.hit("other", window).await.unwrap().count, 1);
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(store.hit("k", window).await.unwrap().count, 1);
        store.clear("k").await.unwrap();
        assert_eq!(store.hit("k", window).await.unwrap().count, 1);
    }

    #[tokio::test]
    async fn the_login_throttle_locks_after_n_attempts_and_a_success_clears_it() {
        let throttle = LoginThrottle::new(MemoryThrottle::new())
            .per_address(Some(Limit::new(3, Duration::from_secs(60))));
        assert_eq!(
            throttle.attempt("A@x.org", None).await.unwrap(),
            Attempt::Allowed
        );
        throttle.succeeded("a@x.org", None).await.unwrap();
        for _ in 0..2 {
            assert_eq!(
                throttle.attempt("a@x.org", None).await.unwrap(),
                Attempt::Allowed
            );
        }
        assert_eq!(
            throttle.attempt("a@X.org", None).await.unwrap(),
            Attempt::Last
        );
        assert!(matches!(
            throttle.attempt("a@x.org", None).await,
            Err(Error::TooManyAttempts { retry_after }) if (1..=60).contains(&retry_after)
        ));
        assert_eq!(
            throttle.attempt("b@x.org", None).await.unwrap(),
            Attempt::Allowed
        );
    }

    #[test]
    fn client_addresses_are_counted_by_ipv4_or_ipv6_64() {
        let v6a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_bucket(v6a), client_bucket(v6b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_bucket(mapped), "192.0.2.7");
    }

    #[test]
    fn limits_parse() {
        for bad in [
            "", "5", "5/", "/300", "0/300", "5/0", "-1/3", "a/b", "5/300/1",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Limit::parse(" OFF ").unwrap(), None);
    }
}
