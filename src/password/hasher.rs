//! [`PasswordHasher`]: argon2id hashing, verification of argon2 and bcrypt
//! hashes with the upgrade of weak ones, off the async runtime and behind a
//! memory budget.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash as PhcHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore};

use super::pool::HashPool;
use crate::error::{Error, Result};
use crate::user::{Password, PasswordHash};

/// Argon2id parameters. The default is OWASP's: m = 19456 KiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            m_kib: 19_456,
            t: 2,
            p: 1,
        }
    }
}

/// What a successful verification says about the stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The password does not match (or the hash is not one we can read).
    No,
    /// It matches and the hash is as strong as the configured parameters.
    Yes,
    /// It matches, and the hash is weaker than the configured parameters (bcrypt,
    /// a smaller `m` or `t`, another argon2 variant): store this new hash.
    YesRehashed(PasswordHash),
}

/// The hasher: argon2id at the configured parameters on threads of its own (low
/// CPU priority, reused working memory), behind
/// a memory budget. Cheap to clone.
///
/// ```
/// # tokio_test_block_on(async {
/// use axum_users::password::{PasswordHasher, Verified};
/// use axum_users::Password;
/// let hasher = PasswordHasher::default();
/// let hash = hasher.hash(&Password::new("correct horse")).await.unwrap();
/// assert_eq!(hasher.verify(&Password::new("correct horse"), &hash).await.unwrap(), Verified::Yes);
/// assert_eq!(hasher.verify(&Password::new("wrong"), &hash).await.unwrap(), Verified::No);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<HasherInner>,
}

struct HasherInner {
    params: Argon2Params,
    /// KiB of hash memory that may be in use at once.
    memory: Semaphore,
    memory_budget_kib: u32,
    /// Hashes that may wait for the budget at once; more are refused (503).
    max_waiting: usize,
    waiting: AtomicUsize,
    /// Threads hashing at once (one per core by default).
    concurrency: usize,
    lower_priority: bool,
    /// Started at the first hash.
    pool: OnceLock<Result<HashPool, String>>,
    /// A hash of a random password, verified against when the e-mail is unknown so
    /// that a login costs the same whether or not the account exists.
    dummy: OnceCell<PasswordHash>,
    /// Passwords hashed so far.
    hashes: AtomicU64,
    /// Passwords verified so far (against a stored hash or a dummy).
    verifications: AtomicU64,
}

/// What a [`PasswordHasher`] did so far (counters since it was built, shared
/// by its clones): for metrics, and for tests that count the work a request
/// costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HasherStats {
    /// Passwords hashed ([`PasswordHasher::hash`], and the upgrade of a weak
    /// stored hash).
    pub hashes: u64,
    /// Passwords verified against a stored or a dummy hash
    /// ([`PasswordHasher::verify`], [`PasswordHasher::verify_dummy`]; not
    /// [`PasswordHasher::verify_blocking`]).
    pub verifications: u64,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .field("memory_budget_kib", &self.inner.memory_budget_kib)
            .field("max_waiting", &self.inner.max_waiting)
            .finish()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Configures a [`PasswordHasher`].
#[derive(Debug, Clone)]
pub struct PasswordHasherBuilder {
    params: Argon2Params,
    memory_budget_kib: u32,
    concurrency: usize,
    lower_priority: bool,
    max_waiting: usize,
}

/// Default budget: 256 MiB of hash memory at once.
const DEFAULT_MEMORY_BUDGET_KIB: u32 = 256 * 1024;
/// How many hashes may wait for their share of the budget; past that a request
/// is answered 503 at once (a login flood sheds load instead of queueing without
/// end: 256 waiting argon2id hashes are several seconds of work per core).
const DEFAULT_MAX_WAITING: usize = 256;
/// What a bcrypt call counts against the budget (it uses 4 KiB; round up).
pub(super) const BCRYPT_COST_KIB: u32 = 64;

impl PasswordHasherBuilder {
    /// The argon2id parameters of new hashes (and the bar below which stored ones
    /// are rehashed).
    pub fn params(mut self, params: Argon2Params) -> Self {
        self.params = params;
        self
    }

    /// How much hash memory (KiB) may be in use at once; default 256 MiB. A hash
    /// needing more than the whole budget runs alone.
    pub fn memory_budget_kib(mut self, kib: u32) -> Self {
        self.memory_budget_kib = kib.max(1);
        self
    }

    /// How many hash calls may run at once; default: the cores available to the
    /// process. More than that only adds latency and memory.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How many hashes may wait for the budget at once (default 256); past that,
    /// a request that needs a hash is answered 503 `SERVICE_UNAVAILABLE` at once.
    pub fn max_waiting(mut self, n: usize) -> Self {
        self.max_waiting = n;
        self
    }

    /// Whether the hashing threads lower their CPU priority (default true, on
    /// Linux): under load, requests that don't hash are served first and logins
    /// wait. Turn it off when nothing else runs on the machine.
    pub fn lower_priority(mut self, lower: bool) -> Self {
        self.lower_priority = lower;
        self
    }

    /// The hasher. Invalid argon2 parameters are reported by
    /// [`PasswordHasher::check`] and by the first hash.
    pub fn build(self) -> PasswordHasher {
        PasswordHasher {
            inner: Arc::new(HasherInner {
                params: self.params,
                memory: Semaphore::new(self.memory_budget_kib as usize),
                memory_budget_kib: self.memory_budget_kib,
                concurrency: self.concurrency,
                lower_priority: self.lower_priority,
                max_waiting: self.max_waiting,
                waiting: AtomicUsize::new(0),
                pool: OnceLock::new(),
                dummy: OnceCell::new(),
                hashes: AtomicU64::new(0),
                verifications: AtomicU64::new(0),
            }),
        }
    }
}

impl PasswordHasher {
    /// A builder with the defaults.
    pub fn builder() -> PasswordHasherBuilder {
        PasswordHasherBuilder {
            params: Argon2Params::default(),
            memory_budget_kib: DEFAULT_MEMORY_BUDGET_KIB,
            concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            lower_priority: true,
            max_waiting: DEFAULT_MAX_WAITING,
        }
    }

    /// The configured parameters.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// What this hasher (and its clones) did so far.
    pub fn stats(&self) -> HasherStats {
        HasherStats {
            hashes: self.inner.hashes.load(Ordering::Relaxed),
            verifications: self.inner.verifications.load(Ordering::Relaxed),
        }
    }

    /// Checks that the configured parameters are valid argon2 parameters.
    pub fn check(&self) -> Result<()> {
        argon2_for(self.inner.params).map(|_| ())
    }

    /// Hashes a password as argon2id with the configured parameters.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash> {
        self.inner.hashes.fetch_add(1, Ordering::Relaxed);
        let params = self.inner.params;
        let password = password.expose().to_owned();
        self.run(params.m_kib, move || hash_now(params, &password))
            .await
    }

    /// Verifies a password against a stored hash (argon2 in any variant and
    /// parameters, or bcrypt) and says whether the hash should be upgraded; a
    /// hash in an unknown format never matches.
    pub async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<Verified> {
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        let cost = match parse_argon2(hash.as_str()) {
            Some((_, params)) => params.m_cost(),
            None => BCRYPT_COST_KIB,
        };
        let target = self.inner.params;
        let plain = password.expose().to_owned();
        let stored = hash.clone();
        let check = self
            .run(cost, move || {
                Ok(verify_now(&plain, stored.as_str(), target))
            })
            .await?;
        Ok(match check {
            Check::No => Verified::No,
            Check::Yes => Verified::Yes,
            Check::YesWeak => Verified::YesRehashed(self.hash(password).await?),
        })
    }

    /// [`verify`](Self::verify) on the calling thread, outside the memory
    /// budget and the hashing threads: for code that is already off the async
    /// runtime (a command-line tool, a migration script, a benchmark). It is
    /// the same computation, with the same reuse of the thread's working
    /// memory; on a server, use [`verify`](Self::verify).
    pub fn verify_blocking(&self, password: &Password, hash: &PasswordHash) -> Result<Verified> {
        let target = self.inner.params;
        Ok(match verify_now(password.expose(), hash.as_str(), target) {
            Check::No => Verified::No,
            Check::Yes => Verified::Yes,
            Check::YesWeak => Verified::YesRehashed(hash_now(target, password.expose())?),
        })
    }

    /// Spends one verification's worth of work on a password that matches no
    /// account, so that a login with an unknown e-mail costs what a real one does.
    pub async fn verify_dummy(&self, password: &Password) -> Result<()> {
        let dummy = self
            .inner
            .dummy
            .get_or_try_init(|| async {
                let random = crate::tokens::random_token(24)?;
                self.hash(&Password::new(random)).await
            })
            .await?;
        self.verify(password, dummy).await.map(|_| ())
    }

    pub(super) async fn run<T: Send + 'static>(
        &self,
        cost_kib: u32,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = &self.inner;
        let pool = inner
            .pool
            .get_or_init(|| {
                HashPool::start(inner.concurrency, inner.lower_priority).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::Internal(e.clone().into()))?;
        let cost = cost_kib.clamp(1, inner.memory_budget_kib);
        let _memory = match inner.memory.try_acquire_many(cost) {
            Ok(permit) => permit,
            Err(_) => {
                // Wait in line, if the line is not full. (No timer: the
                // application's runtime may have none.)
                if inner.waiting.fetch_add(1, Ordering::AcqRel) >= inner.max_waiting {
                    inner.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Error::ServiceUnavailable(
                        "password hashing queue is full".into(),
                    ));
                }
                let _in_line = WaitingGuard(&inner.waiting);
                inner
                    .memory
                    .acquire_many(cost)
                    .await
                    .map_err(|_| Error::Internal("password hasher closed".into()))?
            }
        };
        pool.run(work).await
    }
}

/// Leaves the line of waiting hashes when dropped (also when the request is
/// cancelled while waiting).
struct WaitingGuard<'a>(&'a AtomicUsize);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn argon2_params(params: Argon2Params) -> Result<Params> {
    Params::new(params.m_kib, params.t, params.p, None)
        .map_err(|e| Error::Config(format!("invalid argon2 parameters: {e}")))
}

fn argon2_for(params: Argon2Params) -> Result<Argon2<'static>> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        argon2_params(params)?,
    ))
}

thread_local! {
    /// The argon2 working memory of this hashing thread, kept between hashes:
    /// allocating (and the kernel zeroing) 19 MiB for every hash costs a third
    /// of the hash again in page faults when the allocator hands it back to the
    /// system each time.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `count` argon2 blocks of this thread's reusable memory, then
/// gives back whatever exceeds `keep` blocks (an occasional 64 MiB FastAPI Users
/// hash must not stay resident).
pub(super) fn with_blocks<T>(count: usize, keep: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        let result = f(&mut blocks[..count]);
        if blocks.len() > keep {
            blocks.truncate(keep);
            blocks.shrink_to_fit();
        }
        result
    })
}

/// Blocks kept between hashes: those of a hash at the configured parameters.
pub(super) fn blocks_to_keep(target: Argon2Params) -> usize {
    Params::new(target.m_kib, target.t, target.p, None)
        .map(|p| p.block_count())
        .unwrap_or(0)
}

fn hash_now(params: Argon2Params, password: &str) -> Result<PasswordHash> {
    let argon2 = argon2_for(params)?;
    let block_count = argon2_params(params)?.block_count();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::internal("the operating system's random source", e.to_string()))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_blocks(block_count, block_count, |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, blocks)
    })
    .map_err(|e| Error::internal("argon2 hashing", e.to_string()))?;
    // The PHC string format, with its unpadded standard base64.
    Ok(PasswordHash::new(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_kib,
        params.t,
        params.p,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(output)
    )))
}

pub(super) enum Check {
    No,
    Yes,
    YesWeak,
}

pub(super) fn parse_argon2(hash: &str) -> Option<(Algorithm, Params)> {
    if !hash.starts_with("$argon2") {
        return None;
    }
    let parsed = PhcHash::new(hash).ok()?;
    let algorithm = Algorithm::new(parsed.algorithm.as_str()).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some((algorithm, params))
}

/// Verifies an argon2 PHC hash with its own algorithm, version and parameters.
fn verify_argon2(
    password: &str,
    parsed: &PhcHash,
    algorithm: Algorithm,
    params: Params,
    keep: usize,
) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let block_count = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = vec![0u8; expected.len()];
    let computed = with_blocks(block_count, keep, |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut output, blocks)
    });
    computed.is_ok() && bool::from(output.as_slice().ct_eq(expected.as_bytes()))
}

pub(super) fn verify_now(password: &str, hash: &str, target: Argon2Params) -> Check {
    if hash.starts_with("$argon2") {
        let Ok(parsed) = PhcHash::new(hash) else {
            return Check::No;
        };
        let Some((algorithm, params)) = parse_argon2(hash) else {
            return Check::No;
        };
        let weaker = algorithm != Algorithm::Argon2id
            || params.m_cost() < target.m_kib
            || params.t_cost() < target.t
            || parsed.version != Some(Version::V0x13.into());
        if !verify_argon2(password, &parsed, algorithm, params, blocks_to_keep(target)) {
            return Check::No;
        }
        if weaker { Check::YesWeak } else { Check::Yes }
    } else if hash.starts_with("$2") {
        match bcrypt::verify(password.as_bytes(), hash) {
            Ok(true) => Check::YesWeak,
            _ => Check::No,
        }
    } else {
        Check::No
    }
}

/// A hasher at cheap parameters (1 MiB, one pass), for the crate's unit tests.
#[cfg(test)]
pub(crate) fn fast_test_hasher() -> PasswordHasher {
    PasswordHasher::builder()
        .params(Argon2Params {
            m_kib: 1024,
            t: 1,
            p: 1,
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        fast_test_hasher()
    }

    #[tokio::test]
    async fn verifies_its_own_hash_without_rehash() {
        let h = fast();
        let hash = h.hash(&Password::new("a password")).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify(&Password::new("a password"), &hash).await.unwrap(),
            Verified::Yes
        );
        assert_eq!(
            h.verify(&Password::new("A password"), &hash).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_reference_implementation() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = fast();
        // Ours, checked by the argon2 crate's own PHC verifier.
        let ours = h.hash(&Password::new("ünïcode pässword")).await.unwrap();
        let parsed = PhcHash::new(ours.as_str()).unwrap();
        assert!(
            Argon2::default()
                .verify_password("ünïcode pässword".as_bytes(), &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"other", &parsed)
                .is_err()
        );
        // The reference's (argon2id and argon2i, other parameters), checked by ours.
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i] {
            let reference = Argon2::new(
                algorithm,
                Version::V0x13,
                Params::new(2048, 3, 2, None).unwrap(),
            )
            .hash_password(b"a password")
            .unwrap()
            .to_string();
            let stored = PasswordHash::new(reference);
            assert_ne!(
                h.verify(&Password::new("a password"), &stored)
                    .await
                    .unwrap(),
                Verified::No,
                "{algorithm:?}"
            );
            assert_eq!(
                h.verify(&Password::new("a passworD"), &stored)
                    .await
                    .unwrap(),
                Verified::No
            );
        }
    }

    #[tokio::test]
    async fn bcrypt_hash_verifies_and_is_upgraded() {
        let h = fast();
        let bcrypt_hash = PasswordHash::new(bcrypt::hash("a password", 4).unwrap());
        match h
            .verify(&Password::new("a password"), &bcrypt_hash)
            .await
            .unwrap()
        {
            Verified::YesRehashed(new) => assert!(new.as_str().starts_with("$argon2id$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(
            h.verify(&Password::new("wrong"), &bcrypt_hash)
                .await
                .unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn weaker_argon2_is_upgraded_stronger_kept() {
        let strong = PasswordHasher::builder()
            .params(Argon2Params {
                m_kib: 2048,
                t: 3,
                p: 2,
            })
            .build();
        let hash = strong.hash(&Password::new("a password")).await.unwrap();
        // Target is weaker than the hash: keep it.
        assert_eq!(
            fast()
                .verify(&Password::new("a password"), &hash)
                .await
                .unwrap(),
            Verified::Yes
        );
        // Target is stronger in m: upgrade.
        let stronger = PasswordHasher::builder()
            .params(Argon2Params {
                m_kib: 4096,
                t: 1,
                p: 1,
            })
            .build();
        assert!(matches!(
            stronger
                .verify(&Password::new("a password"), &hash)
                .await
                .unwrap(),
            Verified::YesRehashed(_)
        ));
        // Target is stronger in t: upgrade.
        let more_t = PasswordHasher::builder()
            .params(Argon2Params {
                m_kib: 1024,
                t: 4,
                p: 1,
            })
            .build();
        assert!(matches!(
            more_t
                .verify(&Password::new("a password"), &hash)
                .await
                .unwrap(),
            Verified::YesRehashed(_)
        ));
    }

    #[tokio::test]
    async fn garbage_hash_never_matches() {
        for stored in ["", "plain", "$argon2id$garbage", "$2b$garbage"] {
            assert_eq!(
                fast()
                    .verify(&Password::new("x"), &PasswordHash::new(stored))
                    .await
                    .unwrap(),
                Verified::No
            );
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_service_unavailable() {
        let hasher = PasswordHasher::builder()
            .params(Argon2Params {
                m_kib: 1024,
                t: 1,
                p: 1,
            })
            .memory_budget_kib(1024)
            .max_waiting(1)
            .build();
        // Hold the whole budget, as a running hash would.
        let held = hasher.inner.memory.acquire_many(1024).await.unwrap();
        let waiting = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&Password::new("a password")).await })
        };
        while hasher.inner.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        // The line (of one) is full.
        let refused = hasher.hash(&Password::new("a password")).await;
        assert!(
            matches!(refused, Err(Error::ServiceUnavailable(_))),
            "{refused:?}"
        );
        drop(held);
        assert!(waiting.await.unwrap().is_ok(), "the waiting hash runs");
        assert_eq!(hasher.inner.waiting.load(Ordering::Acquire), 0);
        assert!(hasher.hash(&Password::new("a password")).await.is_ok());
    }

    #[test]
    fn hasher_debug_has_no_secrets() {
        let s = format!("{:?}", fast());
        assert!(s.contains("PasswordHasher"));
    }
}
