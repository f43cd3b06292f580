//! The PostgreSQL store's cache of the two reads on the path of every
//! authenticated request: the user by id and the session token by digest.
//!
//! A read through the pool is a round trip to PostgreSQL for every request;
//! on a busy server that costs far more than the request's own work. The
//! cache keeps those rows in memory (bounded, per store) and never serves a
//! stale one:
//!
//! - **Writes by anyone are announced.** Triggers (migration 0005) send
//!   `NOTIFY axum_users_changes` with the changed user or token whenever a
//!   row is updated or deleted, by this process or any other, when the
//!   transaction commits. The cache listens on one connection of its own.
//! - **A cached row is served only after a round trip that started after the
//!   request did.** PostgreSQL delivers a notification before the answer to
//!   any statement sent after the change committed, so once such a round trip
//!   (`SELECT 1` on the listening connection) has come back and the
//!   notifications it brought are applied, what is left in the cache is what
//!   the database holds. The round trip is shared: every request that came
//!   while one was in flight waits for the next one, so under load a few
//!   hundred requests share each, and the database sees one tiny statement
//!   per batch instead of one query per request.
//! - **Writes through this store** drop their rows at once, and a row read
//!   from the database is cached only if nothing was invalidated while it was
//!   being read.
//! - **When the database cannot be reached** the round trip does not come
//!   back, so no cached row is served: the request fails with 503 within the
//!   store's time limit, as it would without the cache. When the listening
//!   connection is lost, the cache is emptied and bypassed until a new one
//!   listens (notifications sent in between are lost).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use tokio::sync::{Notify, oneshot, watch};
use uuid::Uuid;

use super::StoreError;
use super::sql::{ReadsBesidePool, Served, TokenRow, UserRow};
use super::timed::CALL_TIMEOUT;

/// The channel of the triggers of migration 0005.
const CHANNEL: &str = "axum_users_changes";
/// The most users, and the most tokens, kept; a full map starts over.
const CAPACITY: usize = 10_000;
/// How often an idle cache reads its notifications anyway (so that they do
/// not pile up in PostgreSQL's queue while nobody reads).
const IDLE_ROUND_TRIP: Duration = Duration::from_secs(1);
/// How long to wait before listening again after the connection was lost.
const RECONNECT_AFTER: Duration = Duration::from_millis(200);

/// A store's cache; dropping the last store stops its listening task.
pub(super) struct Cache {
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

/// What the stores and the listening task share.
struct Shared {
    entries: Mutex<Entries>,
    rounds: Mutex<Rounds>,
    /// Wakes the task when a request wants a round trip.
    wanted: Notify,
    /// The last round trip that came back.
    done: watch::Sender<Round>,
}

#[derive(Default)]
struct Entries {
    users: HashMap<Uuid, UserRow<Postgres>>,
    tokens: HashMap<String, TokenRow<Postgres>>,
    /// Raised by every invalidation: a row read before and cached after one
    /// may be stale, so it is not cached.
    epoch: u64,
    /// Whether the task listens; nothing is served or cached otherwise.
    live: bool,
}

impl Entries {
    fn clear(&mut self) {
        self.users.clear();
        self.tokens.clear();
        self.epoch += 1;
    }
}

/// The round trips: the number of the last one started, and the highest one
/// a request waits for.
#[derive(Default)]
struct Rounds {
    started: u64,
    wanted: u64,
}

/// A round trip that ended: its number, and how.
#[derive(Clone, Copy, Default)]
struct Round {
    number: u64,
    outcome: Outcome,
}

/// How a round trip ended.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Outcome {
    /// It came back: the cache holds what the database holds.
    #[default]
    Answered,
    /// The connection failed: read from the database instead.
    Lost,
    /// The database did not answer within the time limit.
    TimedOut,
}

impl Cache {
    /// A cache over `pool`'s database, listening from a task on the current
    /// Tokio runtime; `None` outside one.
    pub(super) fn start(pool: &PgPool) -> Option<Arc<Self>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let shared = Arc::new(Shared {
            entries: Mutex::default(),
            rounds: Mutex::default(),
            wanted: Notify::new(),
            done: watch::Sender::new(Round::default()),
        });
        let (stop, stopped) = oneshot::channel();
        // A pool of one connection of its own: taking one of the store's
        // would starve a small pool shared with the application.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CALL_TIMEOUT)
            .connect_lazy_with((*pool.connect_options()).clone());
        runtime.spawn(listen(shared.clone(), own, stopped));
        Some(Arc::new(Self {
            shared,
            _stop: stop,
        }))
    }
}

impl Shared {
    fn entries(&self) -> MutexGuard<'_, Entries> {
        // A panic while the lock was held cannot leave the maps half-written
        // in a way that matters (every change is one insert or remove); the
        // cache goes on.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rounds(&self) -> MutexGuard<'_, Rounds> {
        self.rounds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a round trip that starts after this call: whether it came
    /// back, or an error when the database did not answer in time.
    async fn fresh(&self) -> Result<bool, StoreError> {
        let mut done = self.done.subscribe();
        let target = {
            let mut rounds = self.rounds();
            let target = rounds.started + 1;
            rounds.wanted = rounds.wanted.max(target);
            target
        };
        self.wanted.notify_one();
        // Registered before this look: a task that stops listening after it
        // fails the round trip this waits for (see `stop_rounds`).
        if !self.entries().live {
            return Ok(false);
        }
        let round = tokio::time::timeout(CALL_TIMEOUT, done.wait_for(|r| r.number >= target));
        match round.await.map(|round| round.map(|r| r.outcome)) {
            Ok(Ok(Outcome::Answered)) => Ok(true),
            // Lost, or the task ended (the store is being dropped).
            Ok(Ok(Outcome::Lost) | Err(_)) => Ok(false),
            Ok(Ok(Outcome::TimedOut)) | Err(_) => Err(StoreError::Unavailable(
                format!(
                    "the database did not answer within {} s",
                    CALL_TIMEOUT.as_secs()
                )
                .into(),
            )),
        }
    }

    /// A cached row, served only after a fresh round trip (see the module).
    async fn cached<K, Q, V: Clone>(
        &self,
        key: &Q,
        map: impl Fn(&Entries) -> &HashMap<K, V>,
    ) -> Served<V>
    where
        K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        {
            let entries = self.entries();
            if !entries.live || !map(&entries).contains_key(key) {
                return Ok(None);
            }
        }
        if !self.fresh().await? {
            return Ok(None);
        }
        let entries = self.entries();
        if !entries.live {
            return Ok(None);
        }
        Ok(map(&entries).get(key).cloned().map(Some))
    }

    /// Applies notifications: the rows they name leave the cache.
    fn apply<'p>(&self, payloads: impl IntoIterator<Item = &'p str>) {
        let mut entries = self.entries();
        let mut applied = false;
        for payload in payloads {
            applied = true;
            if let Some(id) = payload.strip_prefix("u:") {
                match Uuid::parse_str(id) {
                    Ok(id) => {
                        entries.users.remove(&id);
                    }
                    Err(_) => entries.users.clear(),
                }
            } else if let Some(digest) = payload.strip_prefix("t:") {
                entries.tokens.remove(digest);
            } else {
                entries.users.clear();
                entries.tokens.clear();
            }
        }
        // A row read before an applied change must not be kept after it; a
        // round trip that brought no change invalidates nothing, and does not
        // stop reads in flight from being kept (under load, idle round trips
        // would otherwise keep the cache from ever filling).
        if applied {
            entries.epoch += 1;
        }
    }

    /// Fails every round trip a request waits for (the connection is lost):
    /// they read from the database instead of waiting for the time limit.
    fn stop_rounds(&self, outcome: Outcome) {
        let number = {
            let mut rounds = self.rounds();
            rounds.started = rounds.started.max(rounds.wanted);
            rounds.started
        };
        self.done.send_replace(Round { number, outcome });
    }

    /// Whether the task listens, emptying the cache either way (what was
    /// sent while nobody listened is lost).
    fn set_live(&self, live: bool) {
        let mut entries = self.entries();
        entries.clear();
        entries.live = live;
    }
}

/// The listening task: listen, then make a round trip whenever a request
/// wants one (at least every [`IDLE_ROUND_TRIP`]), applying the notifications
/// that came before its answer; listen again whenever the connection fails.
/// Ends when the cache is dropped.
async fn listen(shared: Arc<Shared>, pool: PgPool, mut stopped: oneshot::Receiver<()>) {
    loop {
        let mut listener = tokio::select! {
            _ = &mut stopped => return,
            listener = connect(&pool) => listener,
        };
        let Some(listener) = listener.as_mut() else {
            tokio::select! {
                _ = &mut stopped => return,
                () = tokio::time::sleep(RECONNECT_AFTER) => continue,
            }
        };
        shared.set_live(true);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                () = shared.wanted.notified() => {}
                () = tokio::time::sleep(IDLE_ROUND_TRIP) => {}
            }
            let number = {
                let mut rounds = shared.rounds();
                rounds.started += 1;
                rounds.started
            };
            let outcome = round_trip(&shared, listener).await;
            if outcome != Outcome::Answered {
                shared.set_live(false);
                shared.stop_rounds(outcome);
                break;
            }
            shared.done.send_replace(Round { number, outcome });
            // Requests that came during this round trip wait for the next.
            if shared.rounds().wanted > number {
                shared.wanted.notify_one();
            }
        }
        tokio::select! {
            _ = &mut stopped => return,
            () = tokio::time::sleep(RECONNECT_AFTER) => {}
        }
    }
}

/// A connection of `pool` (the cache's own) listening on [`CHANNEL`], or
/// `None` when the database could not be reached.
async fn connect(pool: &PgPool) -> Option<PgListener> {
    let connecting = async {
        let mut listener = PgListener::connect_with(pool).await?;
        // A lost connection must be seen (it drops the cache), not mended
        // behind our back.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match tokio::time::timeout(CALL_TIMEOUT, connecting).await {
        Ok(Ok(listener)) => Some(listener),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "the user cache could not listen; reads go to the database");
            None
        }
        Err(_) => None,
    }
}

/// One `SELECT 1` on the listening connection, then every notification that
/// arrived before its answer applied.
async fn round_trip(shared: &Shared, listener: &mut PgListener) -> Outcome {
    let answered = tokio::time::timeout(
        CALL_TIMEOUT,
        sqlx::query("SELECT 1").execute(&mut *listener),
    )
    .await;
    match answered {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return Outcome::Lost,
        Err(_) => return Outcome::TimedOut,
    }
    let mut payloads = Vec::new();
    while let Some(notification) = listener.next_buffered() {
        payloads.push(notification);
    }
    shared.apply(payloads.iter().map(|n| n.payload()));
    Outcome::Answered
}

impl ReadsBesidePool<Postgres> for Cache {
    async fn user(self: &Arc<Self>, id: &Uuid) -> Served<UserRow<Postgres>> {
        self.shared.cached(id, |e| &e.users).await
    }

    async fn token(self: &Arc<Self>, digest: &str) -> Served<TokenRow<Postgres>> {
        self.shared.cached(digest, |e| &e.tokens).await
    }

    fn epoch(&self) -> u64 {
        self.shared.entries().epoch
    }

    fn keep_user(&self, epoch: u64, row: &UserRow<Postgres>) {
        let mut entries = self.shared.entries();
        if entries.live && entries.epoch == epoch {
            if entries.users.len() >= CAPACITY {
                entries.users.clear();
            }
            entries.users.insert(row.0, row.clone());
        }
    }

    fn keep_token(&self, epoch: u64, row: &TokenRow<Postgres>) {
        let mut entries = self.shared.entries();
        if entries.live && entries.epoch == epoch {
            if entries.tokens.len() >= CAPACITY {
                entries.tokens.clear();
            }
            entries.tokens.insert(row.0.clone(), row.clone());
        }
    }

    fn forget_user(&self, id: &Uuid) {
        let mut entries = self.shared.entries();
        entries.users.remove(id);
        entries.tokens.retain(|_, token| token.1 != *id);
        entries.epoch += 1;
    }

    fn forget_token(&self, digest: &str) {
        let mut entries = self.shared.entries();
        entries.tokens.remove(digest);
        entries.epoch += 1;
    }
}
