use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Cmd, FromRedisValue, Pipeline, RedisError};
use async_trait::async_trait;

use crate::auth::{Binding, Strategy, TokenOwner};
use crate::error::{Error, Result};
use crate::tokens::{random_token, token_digest};
use crate::user::UserModel;

/// Revocable sessions in Redis: opaque random tokens (256 bits, URL-safe)
/// stored under `prefix + SHA-256 hex digest of the token`, the value being the
/// fingerprint of the user's credentials ([`Binding::fingerprint`]), a space
/// and the user id as it prints (a hyphenated UUID for UUID ids), with a TTL
/// equal to the session lifetime (one hour by default). A session is refused
/// once its user's password or token generation changed, even one stored by a
/// login that raced the change.
///
/// Logout deletes the key. "Log out everywhere"
/// ([`Strategy::destroy_all_tokens`]) reads a per-user index — a Redis set at
/// `prefix + "user:" + id` holding the digests of the user's tokens — and
/// deletes the keys it names, so the keyspace is never scanned. Several
/// application instances sharing one Redis share the sessions.
///
/// Every operation is bounded by [`RedisStrategy::timeout`] (2 s by default).
/// When Redis refuses connections, hangs or times out, the strategy answers
/// [`Error::ServiceUnavailable`] (503), never "no such session": a user is not
/// told they are logged out because Redis blinked. The
/// [`ConnectionManager`] reconnects by itself when Redis returns.
///
/// `Debug` shows the prefix, lifetime and timeout only (no URL, no token).
///
/// ```no_run
/// # async fn run() -> axum_users::Result<()> {
/// use std::time::Duration;
/// use axum_users::User;
/// use axum_users::auth::{AuthBackend, BearerTransport, RedisStrategy};
///
/// let strategy = RedisStrategy::connect("redis://127.0.0.1:6379")
///     .await?
///     .lifetime(Duration::from_secs(8 * 3600));
/// let backend: AuthBackend<User> =
///     AuthBackend::new("redis", BearerTransport::new("auth/redis/login"), strategy);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStrategy {
    manager: ConnectionManager,
    prefix: Arc<str>,
    lifetime: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for RedisStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The manager is left out: its client's connection info may hold a password.
        f.debug_struct("RedisStrategy")
            .field("prefix", &self.prefix)
            .field("lifetime", &self.lifetime)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Bytes of randomness in a token: 256 bits.
const TOKEN_BYTES: usize = 32;
/// The default key prefix, FastAPI Users' own.
const DEFAULT_PREFIX: &str = "fastapi_users_token:";
/// The default bound on one operation.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The index of a user's tokens is pruned of expired digests when its size
/// reaches a power of two from this one on (amortised O(1) per login).
const PRUNE_FROM: u64 = 64;

impl RedisStrategy {
    /// Connects to the Redis server at `url` (`redis://[:password@]host[:port][/db]`)
    /// through a [`ConnectionManager`] configured by
    /// [`RedisStrategy::manager_config`].
    ///
    /// Fails with [`Error::Config`] for a malformed URL and with
    /// [`Error::ServiceUnavailable`] when the server cannot be reached within
    /// the default timeout (so a misconfiguration shows at start-up; see
    /// [`RedisStrategy::connect_lazy`] to start without Redis).
    ///
    /// ```no_run
    /// # async fn run() -> axum_users::Result<()> {
    /// use axum_users::auth::RedisStrategy;
    /// let strategy = RedisStrategy::connect("redis://127.0.0.1:6379").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self> {
        let client = open_client(url)?;
        let manager = tokio::time::timeout(
            DEFAULT_TIMEOUT,
            client.get_connection_manager_with_config(Self::manager_config()),
        )
        .await
        .map_err(|_| timed_out(DEFAULT_TIMEOUT))?
        .map_err(unavailable)?;
        Ok(Self::new(manager))
    }

    /// Like [`RedisStrategy::connect`], but connects at the first request
    /// instead of now: the application starts even while Redis is down, and
    /// requests that need it answer 503 until it is up. Fails only for a
    /// malformed URL. Call it inside a Tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> axum_users::Result<()> {
    /// use axum_users::auth::RedisStrategy;
    /// let strategy = RedisStrategy::connect_lazy("redis://127.0.0.1:6379")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_lazy(url: &str) -> Result<Self> {
        let client = open_client(url)?;
        let manager = ConnectionManager::new_lazy_with_config(client, Self::manager_config())
            .map_err(|e| Error::Config(format!("Redis connection manager: {e}")))?;
        Ok(Self::new(manager))
    }

    /// Sessions in the Redis server behind `manager` (for an application that
    /// builds its own; [`RedisStrategy::manager_config`] gives settings that
    /// keep requests short while Redis is down). Valid for one hour, prefix
    /// `fastapi_users_token:`, each operation bounded by 2 s.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use axum_users::auth::RedisStrategy;
    /// let client = axum_users::redis::Client::open("redis://127.0.0.1:6379")?;
    /// let manager = client
    ///     .get_connection_manager_with_config(RedisStrategy::manager_config())
    ///     .await?;
    /// let strategy = RedisStrategy::new(manager);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(manager: ConnectionManager) -> Self {
        Self {
            manager,
            prefix: Arc::from(DEFAULT_PREFIX),
            lifetime: Duration::from_secs(3600),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The [`ConnectionManager`] settings that [`RedisStrategy::connect`] uses:
    /// a connection attempt gives up after 1 s, a failed reconnection is
    /// retried twice within a few hundred milliseconds (the next request starts
    /// a new one, so service resumes as soon as Redis is back), and responses
    /// are bounded by the strategy's own [`RedisStrategy::timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_users::auth::RedisStrategy;
    /// let config = RedisStrategy::manager_config();
    /// assert_eq!(config.connection_timeout(), Some(Duration::from_secs(1)));
    /// ```
    pub fn manager_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(None)
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
    }

    /// The session lifetime: each token's TTL (default 3600 s; at least 1 s).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> axum_users::Result<()> {
    /// use std::time::Duration;
    /// use axum_users::auth::RedisStrategy;
    /// let strategy = RedisStrategy::connect_lazy("redis://127.0.0.1:6379")?
    ///     .lifetime(Duration::from_secs(8 * 3600));
    /// # Ok(())
    /// # }
    /// ```
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// The prefix of every key (default `fastapi_users_token:`, as in FastAPI
    /// Users). Applications sharing one Redis database keep apart with
    /// different prefixes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> axum_users::Result<()> {
    /// use axum_users::auth::RedisStrategy;
    /// let strategy = RedisStrategy::connect_lazy("redis://127.0.0.1:6379")?
    ///     .prefix("myapp:session:");
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// The longest one operation (a login, a token check, a logout) may wait
    /// for Redis, reconnection included (default 2 s). Past it the request
    /// answers 503.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> axum_users::Result<()> {
    /// use std::time::Duration;
    /// use axum_users::auth::RedisStrategy;
    /// let strategy = RedisStrategy::connect_lazy("redis://127.0.0.1:6379")?
    ///     .timeout(Duration::from_millis(500));
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn token_key(&self, digest: &str) -> String {
        format!("{}{digest}", self.prefix)
    }

    fn index_key(&self, id: &impl std::fmt::Display) -> String {
        format!("{}user:{id}", self.prefix)
    }

    /// Runs `operation` within the timeout; a timeout is a 503.
    async fn bounded<T>(&self, operation: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.timeout, operation)
            .await
            .map_err(|_| timed_out(self.timeout))?
    }

    /// Sends one command; once more if the connection had dropped (the manager
    /// is reconnecting: a Redis restart costs no request).
    async fn cmd<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        let mut connection = self.manager.clone();
        match cmd.query_async(&mut connection).await {
            Err(e) if worth_retrying(&e) => cmd.query_async(&mut connection).await,
            result => result,
        }
        .map_err(unavailable)
    }

    /// Sends a pipeline (or a MULTI/EXEC transaction); once more if the
    /// connection had dropped. Every pipeline sent is idempotent.
    async fn pipe<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T> {
        let mut connection = self.manager.clone();
        match pipe.query_async(&mut connection).await {
            Err(e) if worth_retrying(&e) => pipe.query_async(&mut connection).await,
            result => result,
        }
        .map_err(unavailable)
    }

    /// Removes from a user's index the digests whose tokens have expired.
    async fn prune(&self, index: &str) -> Result<()> {
        let digests: Vec<String> = self.cmd(::redis::cmd("SMEMBERS").arg(index)).await?;
        if digests.is_empty() {
            return Ok(());
        }
        let mut exists = ::redis::pipe();
        for digest in &digests {
            exists.cmd("EXISTS").arg(self.token_key(digest));
        }
        let alive: Vec<bool> = self.pipe(&exists).await?;
        let dead: Vec<&String> = digests
            .iter()
            .zip(alive)
            .filter_map(|(digest, alive)| (!alive).then_some(digest))
            .collect();
        if !dead.is_empty() {
            // A token key never comes back once gone, so removing these is safe
            // even while other logins of the user add to the set.
            let () = self.cmd(::redis::cmd("SREM").arg(index).arg(dead)).await?;
        }
        Ok(())
    }
}

/// Whether our token could be `token` (URL-safe base64, at most 64
/// characters): anything else (a JWT, garbage) is refused without a round trip.
fn could_be_ours(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// The owner in a stored value: `<fingerprint> <id>`.
fn read_value<Id: std::str::FromStr>(value: &str) -> Option<TokenOwner<Id>> {
    let (fingerprint, id) = value.split_once(' ')?;
    let binding = Binding::parse(fingerprint)?;
    Some(TokenOwner::new(id.parse().ok()?, binding))
}

fn worth_retrying(e: &RedisError) -> bool {
    e.is_connection_dropped() || e.is_connection_refusal()
}

fn open_client(url: &str) -> Result<Client> {
    // The error names what is wrong, never the URL (which may hold a password).
    Client::open(url).map_err(|e| Error::Config(format!("invalid Redis URL: {e}")))
}

fn unavailable(e: RedisError) -> Error {
    Error::unavailable("Redis", e)
}

fn timed_out(timeout: Duration) -> Error {
    Error::ServiceUnavailable(format!("Redis did not answer within {timeout:?}").into())
}

#[async_trait]
impl<U: UserModel> Strategy<U> for RedisStrategy {
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>> {
        if !could_be_ours(token) {
            return Ok(None);
        }
        let key = self.token_key(&token_digest(token));
        let value: Option<String> = self
            .bounded(self.cmd(::redis::cmd("GET").arg(&key)))
            .await?;
        // A value that is not ours (another application's key, or a session
        // of an older version, without its binding) is no session.
        Ok(value.as_deref().and_then(read_value))
    }

    async fn write_token(&self, user: &U) -> Result<String> {
        let token = random_token(TOKEN_BYTES)?;
        let digest = token_digest(&token);
        let index = self.index_key(user.id());
        let ttl = self.lifetime.as_secs().max(1);
        let mut write = ::redis::pipe();
        // All tokens share one lifetime, so the newest token's TTL is the
        // longest: the index lives as long as any token it names.
        write
            .atomic()
            .cmd("SET")
            .arg(self.token_key(&digest))
            .arg(format!("{} {}", Binding::fingerprint(user), user.id()))
            .arg("EX")
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(&index)
            .arg(&digest)
            .ignore()
            .cmd("EXPIRE")
            .arg(&index)
            .arg(ttl)
            .ignore()
            .cmd("SCARD")
            .arg(&index);
        let (size,): (u64,) = self.bounded(self.pipe(&write)).await?;
        if size >= PRUNE_FROM && size.is_power_of_two() {
            // Housekeeping: the token is issued whether or not it succeeds.
            if let Err(e) = self.bounded(self.prune(&index)).await {
                tracing::debug!(error = %e, "pruning a Redis session index failed");
            }
        }
        Ok(token)
    }

    async fn destroy_token(&self, token: &str, user: &U) -> Result<()> {
        if !could_be_ours(token) {
            return Ok(());
        }
        let digest = token_digest(token);
        let mut delete = ::redis::pipe();
        delete
            .atomic()
            .cmd("DEL")
            .arg(self.token_key(&digest))
            .ignore()
            .cmd("SREM")
            .arg(self.index_key(user.id()))
            .arg(&digest)
            .ignore();
        self.bounded(self.pipe::<()>(&delete)).await
    }

    fn is_revocable(&self) -> bool {
        true
    }

    async fn destroy_all_tokens(&self, user: &U) -> Result<()> {
        let index = self.index_key(user.id());
        self.bounded(async {
            let digests: Vec<String> = self.cmd(::redis::cmd("SMEMBERS").arg(&index)).await?;
            if digests.is_empty() {
                return Ok(());
            }
            // Delete exactly the tokens read, and their index entries: a login
            // racing with this keeps its own (new) entry in the index.
            let mut delete = ::redis::pipe();
            delete.atomic().cmd("DEL");
            for digest in &digests {
                delete.arg(self.token_key(digest));
            }
            delete
                .ignore()
                .cmd("SREM")
                .arg(&index)
                .arg(&digests)
                .ignore();
            self.pipe::<()>(&delete).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{could_be_ours, read_value};

    #[test]
    fn only_url_safe_tokens_up_to_64_characters_are_looked_up() {
        let token = crate::tokens::random_token(super::TOKEN_BYTES).unwrap_or_default();
        assert!(could_be_ours(&token));
        assert!(!could_be_ours(""));
        assert!(!could_be_ours("a.b.c"));
        assert!(!could_be_ours(&"a".repeat(65)));
        assert!(!could_be_ours("has space"));
    }

    #[test]
    fn a_value_without_its_binding_is_no_session() {
        let id = uuid::Uuid::new_v4();
        let fingerprint = "3:7";
        let owner = read_value::<uuid::Uuid>(&format!("{fingerprint} {id}")).unwrap();
        assert_eq!(owner.user_id, id);
        // The value of an older version: the id alone.
        assert!(read_value::<uuid::Uuid>(&id.to_string()).is_none());
        assert!(read_value::<uuid::Uuid>(&format!("short {id}")).is_none());
        assert!(read_value::<uuid::Uuid>(&format!("{fingerprint} not-an-id")).is_none());
    }
}
