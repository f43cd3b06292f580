//! Sessions in Redis: [`RedisSessionStore`], and [`RedisStrategy`], the
//! database strategy over it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Cmd, FromRedisValue, RedisError, Script, ScriptInvocation};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Rotation, Session, SessionKind, SessionStore, StoreError};
use crate::auth::{DatabaseStrategy, IssuedTokens, Strategy, TokenOwner};
use crate::error::{Error, Result};
use crate::session::{self, LoginContext, from_unix, to_unix};
use crate::user::UserModel;

/// Sessions ([`Session`]) in Redis, shared by every instance of the
/// application that uses the same server and prefix.
///
/// Keys, under the prefix (default `fastapi_users_token:`, FastAPI Users'
/// own):
///
/// | key | type | holds |
/// | --- | --- | --- |
/// | `<prefix><SHA-256 hex of the token>` | hash | the session (`id`, user `u`, backend `b`, kind `k`, times `c` `l` `e` in Unix seconds, agent `a`, address `i`, binding `f`) |
/// | `<prefix>sid:<session id>` | string | the digest of the session's current token |
/// | `<prefix>user:<user id>` | set | the ids of the user's sessions |
/// | `<prefix>retired:<digest>` | string | the session id of a rotated refresh token |
///
/// Every key expires with its session (Redis deletes them: nothing to clean
/// up), the index with the user's longest session. Each write is one Lua
/// script, so it is atomic: of concurrent rotations of one refresh token,
/// exactly one succeeds. Listing a user's sessions or ending them all reads
/// the index, never the keyspace.
///
/// Every operation is bounded by [`RedisSessionStore::timeout`] (2 s by
/// default). When Redis refuses connections, hangs or times out, the store
/// answers [`StoreError::Unavailable`] (503), never "no such session": a
/// user is not told they are logged out because Redis blinked. The
/// [`ConnectionManager`] reconnects by itself when Redis returns.
///
/// `Debug` shows the prefix and timeout only (no URL, no token).
///
/// ```no_run
/// # async fn run() -> axum_users::Result<()> {
/// use std::time::Duration;
/// use axum_users::User;
/// use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy, RefreshStrategy};
/// use axum_users::store::RedisSessionStore;
///
/// let store = RedisSessionStore::connect("redis://127.0.0.1:6379").await?;
/// let access = JwtStrategy::hs256("a random secret of 32 bytes or more")?
///     .lifetime(Duration::from_secs(15 * 60));
/// let backend: AuthBackend<User> = AuthBackend::new(
///     "token",
///     BearerTransport::new("auth/token/login"),
///     RefreshStrategy::new(access, store),
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisSessionStore {
    manager: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The manager is left out: its client's connection info may hold a password.
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The default key prefix, FastAPI Users' own.
const DEFAULT_PREFIX: &str = "fastapi_users_token:";
/// The default bound on one operation.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

impl RedisSessionStore {
    /// Connects to the Redis server at `url` (`redis://[:password@]host[:port][/db]`)
    /// through a [`ConnectionManager`] configured by
    /// [`RedisSessionStore::manager_config`].
    ///
    /// Fails with [`Error::Config`] for a malformed URL and with
    /// [`Error::ServiceUnavailable`] when the server cannot be reached within
    /// the default timeout (so a misconfiguration shows at start-up; see
    /// [`RedisSessionStore::connect_lazy`] to start without Redis).
    pub async fn connect(url: &str) -> Result<Self> {
        let client = open_client(url)?;
        let manager = tokio::time::timeout(
            DEFAULT_TIMEOUT,
            client.get_connection_manager_with_config(Self::manager_config()),
        )
        .await
        .map_err(|_| Error::ServiceUnavailable(timed_out(DEFAULT_TIMEOUT).into()))?
        .map_err(|e| Error::unavailable("Redis", e))?;
        Ok(Self::new(manager))
    }

    /// Like [`RedisSessionStore::connect`], but connects at the first request
    /// instead of now: the application starts even while Redis is down, and
    /// requests that need it answer 503 until it is up. Fails only for a
    /// malformed URL. Call it inside a Tokio runtime.
    pub fn connect_lazy(url: &str) -> Result<Self> {
        let client = open_client(url)?;
        let manager = ConnectionManager::new_lazy_with_config(client, Self::manager_config())
            .map_err(|e| Error::Config(format!("Redis connection manager: {e}")))?;
        Ok(Self::new(manager))
    }

    /// Sessions in the Redis server behind `manager` (for an application that
    /// builds its own; [`RedisSessionStore::manager_config`] gives settings
    /// that keep requests short while Redis is down), prefix
    /// `fastapi_users_token:`, each operation bounded by 2 s.
    pub fn new(manager: ConnectionManager) -> Self {
        Self {
            manager,
            prefix: Arc::from(DEFAULT_PREFIX),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The [`ConnectionManager`] settings that [`RedisSessionStore::connect`]
    /// uses: a connection attempt gives up after 1 s, a failed reconnection
    /// is retried twice within a few hundred milliseconds (the next request
    /// starts a new one, so service resumes as soon as Redis is back), and
    /// responses are bounded by the store's own
    /// [`RedisSessionStore::timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_users::store::RedisSessionStore;
    /// let config = RedisSessionStore::manager_config();
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

    /// The prefix of every key (default `fastapi_users_token:`, as in FastAPI
    /// Users). Applications sharing one Redis database keep apart with
    /// different prefixes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// The longest one operation (a login, a token check, a logout) may wait
    /// for Redis, reconnection included (default 2 s). Past it the request
    /// answers 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Runs `operation` within the timeout; a timeout is unavailability.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, operation)
            .await
            .map_err(|_| StoreError::Unavailable(timed_out(self.timeout).into()))?
    }

    /// Sends one command; once more if the connection had dropped (the
    /// manager is reconnecting: a Redis restart costs no request).
    pub(crate) async fn cmd<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        self.bounded(async {
            let mut connection = self.manager.clone();
            match cmd.query_async(&mut connection).await {
                Err(e) if worth_retrying(&e) => cmd.query_async(&mut connection).await,
                result => result,
            }
            .map_err(unavailable)
        })
        .await
    }

    /// Runs a script; once more if the connection had dropped. Every script
    /// here is safe to run twice.
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.bounded(async {
            let mut connection = self.manager.clone();
            match invocation.invoke_async(&mut connection).await {
                Err(e) if worth_retrying(&e) => invocation.invoke_async(&mut connection).await,
                result => result,
            }
            .map_err(unavailable)
        })
        .await
    }
}

/// Seconds from now until `end`, at least 1 (a Redis TTL).
fn ttl(end: DateTime<Utc>) -> i64 {
    (to_unix(end) - to_unix(session::now())).max(1)
}

/// The fields of a session's hash, as `HSET` takes them.
fn fields<Id: std::fmt::Display>(session: &Session<Id>) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("id", session.id.clone()),
        ("u", session.user_id.to_string()),
        ("b", session.backend.clone()),
        ("k", session.kind.as_str().to_owned()),
        ("c", to_unix(session.created_at).to_string()),
        ("l", to_unix(session.last_used_at).to_string()),
        ("e", to_unix(session.expires_at).to_string()),
        ("f", session.binding.clone()),
    ];
    if let Some(agent) = &session.user_agent {
        fields.push(("a", agent.clone()));
    }
    if let Some(ip) = &session.ip {
        fields.push(("i", ip.clone()));
    }
    fields
}

/// A session from its hash and digest; `None` for anything that is not one
/// of ours (another application's key, a session of an older version).
fn read_session<Id: std::str::FromStr>(
    digest: &str,
    mut hash: HashMap<String, String>,
) -> Option<Session<Id>> {
    let time =
        |value: Option<String>| -> Option<DateTime<Utc>> { Some(from_unix(value?.parse().ok()?)) };
    let mut session = Session::stored(
        hash.remove("id")?,
        hash.remove("u")?.parse().ok()?,
        SessionKind::parse(&hash.remove("k")?)?,
        digest.to_owned(),
    );
    session.backend = hash.remove("b")?;
    session.created_at = time(hash.remove("c"))?;
    session.last_used_at = time(hash.remove("l"))?;
    session.expires_at = time(hash.remove("e"))?;
    session.binding = hash.remove("f")?;
    session.user_agent = hash.remove("a");
    session.ip = hash.remove("i");
    Some(session)
}

/// Reads `[digest, [field, value, …]]` pairs as a script returns them.
fn read_sessions<Id: std::str::FromStr>(flat: Vec<(String, Vec<String>)>) -> Vec<Session<Id>> {
    flat.into_iter()
        .filter_map(|(digest, pairs)| {
            let mut hash = HashMap::new();
            let mut pairs = pairs.into_iter();
            while let (Some(field), Some(value)) = (pairs.next(), pairs.next()) {
                hash.insert(field, value);
            }
            read_session(&digest, hash)
        })
        .collect()
}

/// Stores a session: its hash, its id's key, its place in the user's index
/// (whose TTL grows to the longest session's). Prunes the index of dead ids
/// when its size reaches a power of two from 64 on (amortised O(1) per
/// login). KEYS: hash, id key, index. ARGV: prefix, ttl, id, digest, then
/// field/value pairs.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local ttl = tonumber(ARGV[2])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[4], 'EX', ttl)
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('TTL', KEYS[3]) < ttl then redis.call('EXPIRE', KEYS[3], ttl) end
local n = redis.call('SCARD', KEYS[3])
if n >= 64 and bit.band(n, n - 1) == 0 then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if redis.call('EXISTS', ARGV[1] .. 'sid:' .. id) == 0 then redis.call('SREM', KEYS[3], id) end
  end
end
return 1
";

/// The session with an id, as `[digest, [field, value, …]]`, or nothing.
/// KEYS: id key. ARGV: prefix.
const BY_ID: &str = r"
local digest = redis.call('GET', KEYS[1])
if not digest then return false end
local hash = redis.call('HGETALL', ARGV[1] .. digest)
if #hash == 0 then return false end
return {digest, hash}
";

/// Every session of a user, as `[[digest, [field, value, …]], …]`; drops
/// dead ids from the index. KEYS: index. ARGV: prefix.
const OF_USER: &str = r"
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local digest = redis.call('GET', ARGV[1] .. 'sid:' .. id)
  local hash = digest and redis.call('HGETALL', ARGV[1] .. digest) or {}
  if #hash > 0 then
    table.insert(out, {digest, hash})
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
";

/// Binds a session to other credentials. KEYS: id key. ARGV: prefix,
/// fingerprint.
const REBIND: &str = r"
local digest = redis.call('GET', KEYS[1])
if digest and redis.call('EXISTS', ARGV[1] .. digest) == 1 then
  redis.call('HSET', ARGV[1] .. digest, 'f', ARGV[2])
  return 1
end
return 0
";

/// Records a use. KEYS: id key. ARGV: prefix, time.
const TOUCH: &str = r"
local digest = redis.call('GET', KEYS[1])
if digest and redis.call('EXISTS', ARGV[1] .. digest) == 1 then
  redis.call('HSET', ARGV[1] .. digest, 'l', ARGV[2])
end
return 1
";

/// Rotates a session's token if the old one is still current. KEYS: id key.
/// ARGV: prefix, old digest, new digest, time, end, ttl, id.
const ROTATE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
local old = ARGV[1] .. ARGV[2]
local new = ARGV[1] .. ARGV[3]
if redis.call('EXISTS', old) == 0 then return 0 end
local ttl = tonumber(ARGV[6])
redis.call('RENAME', old, new)
redis.call('HSET', new, 'l', ARGV[4], 'e', ARGV[5])
redis.call('EXPIRE', new, ttl)
redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl)
redis.call('SET', ARGV[1] .. 'retired:' .. ARGV[2], ARGV[7], 'EX', ttl)
local user = redis.call('HGET', new, 'u')
if user then
  local index = ARGV[1] .. 'user:' .. user
  if redis.call('TTL', index) < ttl then redis.call('EXPIRE', index, ttl) end
end
return 1
";

/// The session id a retired token's digest names, while that session
/// exists: a deleted session's retired tokens name nothing (their keys,
/// which no index lists, expire by themselves). KEYS: retired key.
/// ARGV: prefix.
const RETIRED: &str = r"
local id = redis.call('GET', KEYS[1])
if not id or redis.call('EXISTS', ARGV[1] .. 'sid:' .. id) == 0 then return false end
return id
";

/// Deletes a session. KEYS: id key. ARGV: prefix, id.
const DELETE: &str = r"
local digest = redis.call('GET', KEYS[1])
if not digest then return 0 end
local user = redis.call('HGET', ARGV[1] .. digest, 'u')
redis.call('DEL', ARGV[1] .. digest, KEYS[1])
if user then redis.call('SREM', ARGV[1] .. 'user:' .. user, ARGV[2]) end
return 1
";

/// Deletes every session of a user, and the index. KEYS: index. ARGV: prefix.
const DELETE_USER: &str = r"
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local digest = redis.call('GET', ARGV[1] .. 'sid:' .. id)
  if digest then redis.call('DEL', ARGV[1] .. digest) end
  redis.call('DEL', ARGV[1] .. 'sid:' .. id)
end
redis.call('DEL', KEYS[1])
return 1
";

#[async_trait]
impl<Id> SessionStore<Id> for RedisSessionStore
where
    Id: std::fmt::Display + std::str::FromStr + Send + Sync + 'static,
{
    async fn create_session(&self, session: Session<Id>) -> Result<(), StoreError> {
        let script = Script::new(CREATE);
        let mut invocation = script.key(self.key(&session.token_digest));
        invocation
            .key(self.key(&format!("sid:{}", session.id)))
            .key(self.key(&format!("user:{}", session.user_id)))
            .arg(&*self.prefix)
            .arg(ttl(session.expires_at))
            .arg(&session.id)
            .arg(&session.token_digest);
        for (field, value) in fields(&session) {
            invocation.arg(field).arg(value);
        }
        let created: i64 = self.script(&invocation).await?;
        if created == 1 {
            Ok(())
        } else {
            Err(StoreError::Other(
                "session id or token already stored".into(),
            ))
        }
    }

    async fn session_by_token(&self, digest: &str) -> Result<Option<Session<Id>>, StoreError> {
        let hash: HashMap<String, String> = self
            .cmd(::redis::cmd("HGETALL").arg(self.key(digest)))
            .await?;
        if hash.is_empty() {
            return Ok(None);
        }
        Ok(read_session(digest, hash))
    }

    async fn session(&self, id: &str) -> Result<Option<Session<Id>>, StoreError> {
        let script = Script::new(BY_ID);
        let mut invocation = script.key(self.key(&format!("sid:{id}")));
        invocation.arg(&*self.prefix);
        let found: Option<(String, Vec<String>)> = self.script(&invocation).await?;
        Ok(found.and_then(|found| read_sessions(vec![found]).pop()))
    }

    async fn user_sessions(&self, user_id: &Id) -> Result<Vec<Session<Id>>, StoreError> {
        let script = Script::new(OF_USER);
        let mut invocation = script.key(self.key(&format!("user:{user_id}")));
        invocation.arg(&*self.prefix);
        let found: Vec<(String, Vec<String>)> = self.script(&invocation).await?;
        Ok(read_sessions(found))
    }

    async fn rebind_session(&self, id: &str, binding: &str) -> Result<bool, StoreError> {
        let script = Script::new(REBIND);
        let mut invocation = script.key(self.key(&format!("sid:{id}")));
        invocation.arg(&*self.prefix).arg(binding);
        let rebound: i64 = self.script(&invocation).await?;
        Ok(rebound == 1)
    }

    async fn touch_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let script = Script::new(TOUCH);
        let mut invocation = script.key(self.key(&format!("sid:{id}")));
        invocation.arg(&*self.prefix).arg(to_unix(at));
        let _: i64 = self.script(&invocation).await?;
        Ok(())
    }

    async fn rotate_session_token(&self, rotation: Rotation<'_>) -> Result<bool, StoreError> {
        let script = Script::new(ROTATE);
        let mut invocation = script.key(self.key(&format!("sid:{}", rotation.session_id)));
        invocation
            .arg(&*self.prefix)
            .arg(rotation.old_digest)
            .arg(rotation.new_digest)
            .arg(to_unix(rotation.at))
            .arg(to_unix(rotation.expires_at))
            .arg(ttl(rotation.expires_at))
            .arg(rotation.session_id);
        let rotated: i64 = self.script(&invocation).await?;
        Ok(rotated == 1)
    }

    async fn retired_token_session(&self, digest: &str) -> Result<Option<String>, StoreError> {
        let script = Script::new(RETIRED);
        let mut invocation = script.key(self.key(&format!("retired:{digest}")));
        invocation.arg(&*self.prefix);
        self.script(&invocation).await
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let script = Script::new(DELETE);
        let mut invocation = script.key(self.key(&format!("sid:{id}")));
        invocation.arg(&*self.prefix).arg(id);
        let deleted: i64 = self.script(&invocation).await?;
        Ok(deleted == 1)
    }

    async fn delete_user_sessions(&self, user_id: &Id) -> Result<(), StoreError> {
        let script = Script::new(DELETE_USER);
        let mut invocation = script.key(self.key(&format!("user:{user_id}")));
        invocation.arg(&*self.prefix);
        let _: i64 = self.script(&invocation).await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, _now: DateTime<Utc>) -> Result<u64, StoreError> {
        // Every key expires with its session: Redis deletes them itself.
        Ok(0)
    }
}

fn worth_retrying(e: &RedisError) -> bool {
    e.is_connection_dropped() || e.is_connection_refusal()
}

fn open_client(url: &str) -> Result<Client> {
    // The error names what is wrong, never the URL (which may hold a password).
    Client::open(url).map_err(|e| Error::Config(format!("invalid Redis URL: {e}")))
}

fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

fn timed_out(timeout: Duration) -> String {
    format!("Redis did not answer within {timeout:?}")
}

/// Revocable sessions in Redis: the [`DatabaseStrategy`] over a
/// [`RedisSessionStore`], with the same constructors. Opaque random tokens
/// (256 bits, URL-safe) whose sessions live in Redis with a TTL equal to the
/// session lifetime (one hour by default); a session is refused once its
/// user's password or token generation changed, even one stored by a login
/// that raced the change. Logout deletes it; "log out everywhere"
/// ([`Strategy::destroy_all_tokens`]) reads the user's index, never the
/// keyspace. Several application instances sharing one Redis share the
/// sessions. When Redis is down, requests that need it answer 503.
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
#[derive(Debug, Clone)]
pub struct RedisStrategy(DatabaseStrategy<RedisSessionStore>);

impl RedisStrategy {
    /// Connects to the Redis server at `url`: see [`RedisSessionStore::connect`].
    ///
    /// ```no_run
    /// # async fn run() -> axum_users::Result<()> {
    /// use axum_users::auth::RedisStrategy;
    /// let strategy = RedisStrategy::connect("redis://127.0.0.1:6379").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(Self::over(RedisSessionStore::connect(url).await?))
    }

    /// Connects at the first request: see [`RedisSessionStore::connect_lazy`].
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
        Ok(Self::over(RedisSessionStore::connect_lazy(url)?))
    }

    /// Sessions in the Redis server behind `manager`: see
    /// [`RedisSessionStore::new`].
    pub fn new(manager: ConnectionManager) -> Self {
        Self::over(RedisSessionStore::new(manager))
    }

    /// Sessions in `store`, valid for one hour.
    pub fn over(store: RedisSessionStore) -> Self {
        Self(DatabaseStrategy::new(store))
    }

    /// See [`RedisSessionStore::manager_config`].
    pub fn manager_config() -> ConnectionManagerConfig {
        RedisSessionStore::manager_config()
    }

    /// The session lifetime: each session's TTL (default 3600 s; at least 1 s).
    pub fn lifetime(self, lifetime: Duration) -> Self {
        Self(self.0.lifetime(lifetime.max(Duration::from_secs(1))))
    }

    /// The prefix of every key: see [`RedisSessionStore::prefix`].
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        let store = self.0.store().clone().prefix(prefix);
        Self(self.0.with_store(store))
    }

    /// The bound on one operation: see [`RedisSessionStore::timeout`].
    pub fn timeout(self, timeout: Duration) -> Self {
        let store = self.0.store().clone().timeout(timeout);
        Self(self.0.with_store(store))
    }
}

#[async_trait]
impl<U: UserModel> Strategy<U> for RedisStrategy {
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>> {
        Strategy::<U>::read_token(&self.0, token).await
    }

    async fn write_token(&self, user: &U, login: &LoginContext) -> Result<IssuedTokens> {
        self.0.write_token(user, login).await
    }

    async fn destroy_token(&self, token: &str, user: &U) -> Result<()> {
        self.0.destroy_token(token, user).await
    }

    fn is_revocable(&self) -> bool {
        true
    }

    async fn destroy_all_tokens(&self, user: &U) -> Result<Vec<Session<U::Id>>> {
        self.0.destroy_all_tokens(user).await
    }

    async fn user_sessions(&self, user_id: &U::Id) -> Result<Vec<Session<U::Id>>> {
        Strategy::<U>::user_sessions(&self.0, user_id).await
    }

    async fn use_session(&self, id: &str) -> Result<Option<Session<U::Id>>> {
        Strategy::<U>::use_session(&self.0, id).await
    }

    async fn end_session(&self, id: &str) -> Result<Option<Session<U::Id>>> {
        Strategy::<U>::end_session(&self.0, id).await
    }

    async fn rebind_session(&self, id: &str, user: &U) -> Result<bool> {
        self.0.rebind_session(id, user).await
    }
}
