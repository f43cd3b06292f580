//! The shared strategy suite against every provided strategy and storage.

use std::time::Duration;

use axum_users::auth::strategy::suite;
use axum_users::auth::{DatabaseStrategy, JwtStrategy};
use axum_users::store::{MemoryStore, SqliteStore, UserStore};
use axum_users::{Email, User, UserCreate, UserManager};

use crate::common;

async fn two_users<S: UserStore<User = User> + Clone>(store: &S) -> [User; 2] {
    let manager = UserManager::builder(store.clone())
        .hasher(common::fast_hasher())
        .build();
    let mut users = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let create = UserCreate::new(Email::parse(email).unwrap(), common::PASSWORD);
        users.push(manager.create(create, false, None).await.unwrap());
    }
    [users[0].clone(), users[1].clone()]
}

#[tokio::test]
async fn jwt_strategy_passes_the_strategy_suite() {
    suite::run(|lifetime: Duration| async move {
        let store = MemoryStore::<User>::new();
        let users = two_users(&store).await;
        let strategy = JwtStrategy::hs256(common::SECRET)
            .unwrap()
            .lifetime(lifetime);
        (strategy, users)
    })
    .await;
}

#[tokio::test]
async fn database_strategy_on_the_memory_store_passes_the_strategy_suite() {
    suite::run(|lifetime: Duration| async move {
        let store = MemoryStore::<User>::new();
        let users = two_users(&store).await;
        (DatabaseStrategy::new(store).lifetime(lifetime), users)
    })
    .await;
}

#[tokio::test]
async fn database_strategy_on_sqlite_passes_the_strategy_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    suite::run(|lifetime: Duration| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        dirs.lock().unwrap().push(dir);
        async move {
            let store = SqliteStore::<User>::open(path).await.unwrap();
            store.migrate().await.unwrap();
            let users = two_users(&store).await;
            (DatabaseStrategy::new(store).lifetime(lifetime), users)
        }
    })
    .await;
}

#[tokio::test]
async fn sqlite_sessions_die_with_their_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::<User>::open(dir.path().join("t.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let [a, _] = two_users(&store).await;
    let strategy = DatabaseStrategy::new(store.clone());
    let token = axum_users::auth::Strategy::<User>::write_token(
        &strategy,
        &a,
        &axum_users::session::LoginContext::internal("test"),
    )
    .await
    .unwrap()
    .access_token;
    store.delete(&a.id).await.unwrap();
    let read = axum_users::auth::Strategy::<User>::read_token(&strategy, &token)
        .await
        .unwrap();
    assert_eq!(read, None, "the foreign key removed the session");
}

#[tokio::test]
async fn database_strategy_on_postgres_passes_the_strategy_suite() {
    let Some(schemas) = common::pg::PgSchemas::connect().await else {
        return;
    };
    suite::run(|lifetime: Duration| {
        let schemas = &schemas;
        async move {
            let store = schemas.store::<User>().await;
            let users = two_users(&store).await;
            (DatabaseStrategy::new(store).lifetime(lifetime), users)
        }
    })
    .await;
}

/// The Redis strategy: the shared suite on the machine's Redis
/// (`AXUM_USERS_TEST_REDIS_URL`), what it stores there, and how it fails.
mod redis_strategy {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use axum_users::User;
    use axum_users::auth::strategy::suite;
    use axum_users::auth::{RedisStrategy, Strategy};
    use axum_users::error::Error;
    use axum_users::redis::{self, AsyncCommands, aio::MultiplexedConnection};
    use axum_users::session::LoginContext;
    use axum_users::store::{
        MemoryStore, RedisSessionStore, Rotation, Session, SessionKind, SessionStore,
    };
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::AbortHandle;

    use super::two_users;
    use crate::common::services::{service_url, skip, unreachable_service};

    const REDIS_URL: &str = "AXUM_USERS_TEST_REDIS_URL";

    /// The machine's Redis, with a key prefix of this run's own.
    struct Run {
        url: String,
        raw: MultiplexedConnection,
        prefix: String,
        strategy: RedisStrategy,
    }

    impl Run {
        /// `None` (skipped) without a URL; panics when Redis cannot be reached.
        async fn connect() -> Option<Self> {
            let url = service_url(REDIS_URL, "Redis")?;
            let raw = async {
                redis::Client::open(url.as_str())?
                    .get_multiplexed_async_connection()
                    .await
            };
            let raw = tokio::time::timeout(Duration::from_secs(5), raw)
                .await
                .unwrap_or_else(|e| unreachable_service("Redis", &e))
                .unwrap_or_else(|e| unreachable_service("Redis", &e));
            let prefix = format!("axum_users_test:{}:", uuid::Uuid::new_v4().simple());
            let strategy = RedisStrategy::connect(&url)
                .await
                .unwrap_or_else(|e| unreachable_service("Redis", &e))
                .prefix(prefix.as_str());
            Some(Self {
                url,
                raw,
                prefix,
                strategy,
            })
        }

        /// Every key of this run.
        async fn keys(&self) -> Vec<String> {
            let mut raw = self.raw.clone();
            let mut keys = Vec::new();
            let mut cursor = 0u64;
            loop {
                let (next, mut batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}*", self.prefix))
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                keys.append(&mut batch);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            keys.sort();
            keys.dedup();
            keys
        }

        /// Deletes this run's keys (they would expire anyway).
        async fn clean_up(&self) {
            let keys = self.keys().await;
            if !keys.is_empty() {
                let () = self.raw.clone().del(keys).await.unwrap();
            }
        }

        fn token_key(&self, token: &str) -> String {
            format!("{}{}", self.prefix, digest(token))
        }

        fn index_key(&self, user: &User) -> String {
            format!("{}user:{}", self.prefix, user.id)
        }

        fn id_key(&self, id: &str) -> String {
            format!("{}sid:{id}", self.prefix)
        }

        fn retired_key(&self, digest: &str) -> String {
            format!("{}retired:{digest}", self.prefix)
        }

        /// The id of the session of a live token, as its hash holds it.
        async fn session_id(&self, token: &str) -> String {
            let id: Option<String> = self
                .raw
                .clone()
                .hget(self.token_key(token), "id")
                .await
                .unwrap();
            id.expect("a live token's session")
        }

        /// The members of a user's index, sorted.
        async fn index(&self, user: &User) -> Vec<String> {
            let mut members: Vec<String> = self
                .raw
                .clone()
                .smembers(self.index_key(user))
                .await
                .unwrap();
            members.sort();
            members
        }
    }

    fn digest(token: &str) -> String {
        format!("{:x}", Sha256::digest(token.as_bytes()))
    }

    fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
        items.sort();
        items
    }

    async fn key_type(raw: &mut MultiplexedConnection, key: &str) -> String {
        redis::cmd("TYPE").arg(key).query_async(raw).await.unwrap()
    }

    /// The key expires in `lifetime` seconds (give or take a slow test).
    async fn assert_ttl(raw: &mut MultiplexedConnection, key: &str, lifetime: i64) {
        let ttl: i64 = raw.ttl(key).await.unwrap();
        assert!(
            (lifetime - 10..=lifetime).contains(&ttl),
            "{key}: TTL {ttl}, expected {lifetime}"
        );
    }

    /// The fields of a session's hash, with the agent `a` and address `i`
    /// when the login had them.
    const HASH_FIELDS: [&str; 10] = ["a", "b", "c", "e", "f", "i", "id", "k", "l", "u"];

    async fn write(strategy: &RedisStrategy, user: &User) -> String {
        Strategy::<User>::write_token(
            strategy,
            user,
            &axum_users::session::LoginContext::internal("test"),
        )
        .await
        .unwrap()
        .access_token
    }

    async fn read(strategy: &RedisStrategy, token: &str) -> axum_users::Result<Option<uuid::Uuid>> {
        Strategy::<User>::read_token(strategy, token)
            .await
            .map(|owner| owner.map(|owner| owner.user_id))
    }

    async fn users() -> [User; 2] {
        two_users(&MemoryStore::<User>::new()).await
    }

    #[tokio::test]
    async fn redis_strategy_passes_the_strategy_suite() {
        let Some(run) = Run::connect().await else {
            return;
        };
        let made = AtomicUsize::new(0);
        suite::run(|lifetime: Duration| {
            // A prefix per strategy, so the checks cannot see each other's keys.
            let n = made.fetch_add(1, Ordering::Relaxed);
            let strategy = run
                .strategy
                .clone()
                .prefix(format!("{}{n}:", run.prefix))
                .lifetime(lifetime);
            async move { (strategy, users().await) }
        })
        .await;
        run.clean_up().await;
    }

    /// A session is a hash under its token's digest (never the token), found
    /// by id through a string key holding the digest, listed by id in its
    /// user's set; all three live the session's lifetime.
    #[tokio::test]
    async fn redis_keeps_a_hash_under_the_digest_an_id_key_and_an_index_entry_for_the_lifetime() {
        let Some(run) = Run::connect().await else {
            return;
        };
        let strategy = run.strategy.clone().lifetime(Duration::from_secs(3600));
        let [a, _] = users().await;
        let login = LoginContext::new(
            "redis",
            Some("curl/8.5.0"),
            Some("203.0.113.9".parse().unwrap()),
        );
        let token = Strategy::<User>::write_token(&strategy, &a, &login)
            .await
            .unwrap()
            .access_token;
        let mut raw = run.raw.clone();

        // The session: a hash under the digest of its token.
        let key = run.token_key(&token);
        assert_eq!(key_type(&mut raw, &key).await, "hash");
        let hash: HashMap<String, String> = raw.hgetall(&key).await.unwrap();
        let id = hash.get("id").cloned().expect("the session id");
        assert!(
            axum_users::session::could_be_session_id(&id) && id.len() == 22,
            "{id}"
        );
        let opened: i64 = hash["c"].parse().unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!((now - 10..=now).contains(&opened), "opened at {opened}");
        let expected: HashMap<String, String> = [
            ("id", id.clone()),
            // The user's hyphenated id, the fingerprint of the credentials.
            ("u", a.id.hyphenated().to_string()),
            ("f", axum_users::auth::Binding::fingerprint(&a)),
            ("b", "redis".to_owned()),
            ("k", "token".to_owned()),
            ("c", opened.to_string()),
            ("l", opened.to_string()),
            ("e", (opened + 3600).to_string()),
            ("a", "curl/8.5.0".to_owned()),
            ("i", "203.0.113.9".to_owned()),
        ]
        .into_iter()
        .map(|(field, value)| (field.to_owned(), value))
        .collect();
        assert_eq!(hash, expected);
        assert_ttl(&mut raw, &key, 3600).await;

        // Its id's key holds the digest.
        let id_key = run.id_key(&id);
        assert_eq!(key_type(&mut raw, &id_key).await, "string");
        let held: String = raw.get(&id_key).await.unwrap();
        assert_eq!(held, digest(&token));
        assert_ttl(&mut raw, &id_key, 3600).await;

        // The user's index: a set of session ids.
        let index = run.index_key(&a);
        assert_eq!(
            key_type(&mut raw, &index).await,
            "set",
            "the index is a set"
        );
        assert_eq!(run.index(&a).await, vec![id.clone()]);
        assert_ttl(&mut raw, &index, 3600).await;

        // Nothing else; the token is in no key's name.
        let keys = run.keys().await;
        assert_eq!(keys, sorted(vec![key.clone(), id_key, index.clone()]));
        assert!(keys.iter().all(|key| !key.contains(&token)), "{keys:?}");

        // A login without agent nor address stores neither.
        let bare = write(&strategy, &a).await;
        let fields: Vec<String> = raw.hkeys(run.token_key(&bare)).await.unwrap();
        let without: Vec<&str> = HASH_FIELDS
            .into_iter()
            .filter(|field| !["a", "i"].contains(field))
            .collect();
        assert_eq!(sorted(fields), without);
        assert_eq!(
            run.index(&a).await,
            sorted(vec![id, run.session_id(&bare).await])
        );
        run.clean_up().await;
    }

    /// Every key of the prefix is one of the layout's (a session hash under a
    /// digest, an id key holding the current digest, a user's index of
    /// session ids, a retired digest naming its session), of the layout's
    /// type and holding only what the layout says: no key names a token, no
    /// string holds a user id. A logout takes its session's keys and index
    /// entry away.
    #[tokio::test]
    async fn redis_holds_only_the_layouts_keys_and_logout_takes_its_session_out_of_the_index() {
        let Some(run) = Run::connect().await else {
            return;
        };
        let strategy = &run.strategy;
        let [a, b] = users().await;
        let mut live = Vec::new();
        for user in [&a, &a, &b] {
            live.push(write(strategy, user).await);
        }
        let gone = write(strategy, &a).await;
        let gone_id = run.session_id(&gone).await;
        Strategy::<User>::destroy_token(strategy, &gone, &a)
            .await
            .unwrap();
        // A refresh session of b, rotated once through the store: a retired digest.
        let store = RedisSessionStore::connect(&run.url)
            .await
            .unwrap()
            .prefix(run.prefix.as_str());
        let (first, second) = ("first refresh token", "second refresh token");
        let refresh = Session::open(
            b.id,
            SessionKind::Refresh,
            digest(first),
            &LoginContext::internal("refresh"),
            axum_users::session::now() + chrono::TimeDelta::hours(1),
            axum_users::auth::Binding::fingerprint(&b),
        )
        .unwrap();
        store.create_session(refresh.clone()).await.unwrap();
        let new_digest = digest(second);
        let rotation = Rotation::new(
            &refresh.id,
            &refresh.token_digest,
            &new_digest,
            refresh.last_used_at,
            refresh.expires_at,
        );
        assert!(
            SessionStore::<uuid::Uuid>::rotate_session_token(&store, rotation)
                .await
                .unwrap()
        );

        let mut current: Vec<String> = live.iter().map(|token| digest(token)).collect();
        current.push(digest(second));
        let tokens = [
            live.clone(),
            vec![gone.clone(), first.into(), second.into()],
        ]
        .concat();
        let mut raw = run.raw.clone();
        let (mut hashes, mut id_keys, mut indexes, mut retired) =
            (Vec::new(), HashMap::new(), Vec::new(), Vec::new());
        for key in run.keys().await {
            assert!(
                tokens.iter().all(|token| !key.contains(token.as_str())),
                "a token is in the key {key}"
            );
            let rest = key.strip_prefix(run.prefix.as_str()).unwrap();
            let kind = key_type(&mut raw, &key).await;
            if let Some(id) = rest.strip_prefix("sid:") {
                assert_eq!(kind, "string", "{key}");
                let held: String = raw.get(&key).await.unwrap();
                assert!(
                    current.contains(&held),
                    "{key} holds {held}, no current digest"
                );
                id_keys.insert(id.to_owned(), held);
            } else if let Some(user) = rest.strip_prefix("user:") {
                assert_eq!(kind, "set", "{key}");
                let user: uuid::Uuid = user.parse().unwrap();
                assert!(user == a.id || user == b.id, "{key}");
                indexes.push(user);
            } else if let Some(old) = rest.strip_prefix("retired:") {
                assert_eq!(kind, "string", "{key}");
                let held: String = raw.get(&key).await.unwrap();
                assert_eq!(held, refresh.id, "{key} names its session");
                retired.push(old.to_owned());
            } else {
                assert!(
                    rest.len() == 64
                        && rest.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
                    "a key outside the layout: {key}"
                );
                assert_eq!(kind, "hash", "{key}");
                let hash: HashMap<String, String> = raw.hgetall(&key).await.unwrap();
                for field in hash.keys() {
                    assert!(
                        HASH_FIELDS.contains(&field.as_str()),
                        "{key} has a field {field}"
                    );
                }
                // Its id's key holds this very digest.
                let held: Option<String> = raw.get(run.id_key(&hash["id"])).await.unwrap();
                assert_eq!(held.as_deref(), Some(rest), "{key}: its id's key");
                hashes.push(rest.to_owned());
            }
        }
        assert_eq!(
            sorted(hashes),
            sorted(current.clone()),
            "a hash per live session"
        );
        assert_eq!(
            sorted(id_keys.values().cloned().collect()),
            sorted(current),
            "an id key per live session"
        );
        assert_eq!(sorted(indexes), sorted(vec![a.id, b.id]));
        assert_eq!(retired, vec![digest(first)], "the rotated token only");
        // The retired digest lives as long as its session then did.
        assert_ttl(&mut raw, &run.retired_key(&digest(first)), 3600).await;

        // The index lists the ids of the user's live sessions, the logged-out
        // one no more.
        let a_ids = sorted(vec![
            run.session_id(&live[0]).await,
            run.session_id(&live[1]).await,
        ]);
        assert_eq!(
            run.index(&a).await,
            a_ids,
            "logout removed its entry from the index"
        );
        assert!(!id_keys.contains_key(&gone_id), "logout removed its id key");
        let b_ids = sorted(vec![run.session_id(&live[2]).await, refresh.id.clone()]);
        assert_eq!(run.index(&b).await, b_ids);
        run.clean_up().await;
    }

    #[tokio::test]
    async fn redis_index_is_pruned_of_dead_session_ids_when_it_reaches_64_entries() {
        let Some(run) = Run::connect().await else {
            return;
        };
        let short = run.strategy.clone().lifetime(Duration::from_secs(1));
        let long = run.strategy.clone();
        let [a, _] = users().await;
        for _ in 0..62 {
            write(&short, &a).await;
        }
        let kept = write(&long, &a).await;
        let kept_id = run.session_id(&kept).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // 63 entries, 62 of them dead: not pruned yet (pruning is amortised,
        // at powers of two).
        let listed: usize = run.raw.clone().scard(run.index_key(&a)).await.unwrap();
        assert_eq!(listed, 63);
        // The 64th entry prunes the 62 dead ones.
        let newest = write(&long, &a).await;
        let newest_id = run.session_id(&newest).await;
        assert_eq!(run.index(&a).await, sorted(vec![kept_id, newest_id]));
        run.clean_up().await;
    }

    #[tokio::test]
    async fn redis_log_out_everywhere_deletes_the_tokens_and_the_index() {
        let Some(run) = Run::connect().await else {
            return;
        };
        let strategy = &run.strategy;
        let [a, b] = users().await;
        let a1 = write(strategy, &a).await;
        let a2 = write(strategy, &a).await;
        let b1 = write(strategy, &b).await;
        Strategy::<User>::destroy_all_tokens(strategy, &a)
            .await
            .unwrap();
        let mut raw = run.raw.clone();
        for key in [run.token_key(&a1), run.token_key(&a2), run.index_key(&a)] {
            let exists: bool = raw.exists(&key).await.unwrap();
            assert!(!exists, "{key} is gone");
        }
        let b1_id = run.session_id(&b1).await;
        assert_eq!(
            run.keys().await,
            sorted(vec![
                run.token_key(&b1),
                run.id_key(&b1_id),
                run.index_key(&b)
            ]),
            "only the other user's session is left"
        );
        assert_eq!(read(strategy, &b1).await.unwrap(), Some(b.id));
        // Nothing to end is not an error.
        Strategy::<User>::destroy_all_tokens(strategy, &a)
            .await
            .unwrap();
        run.clean_up().await;
    }

    /// A token of the right shape, issued by no one.
    fn well_formed_token() -> String {
        "A".repeat(43)
    }

    fn assert_unavailable<T: std::fmt::Debug>(result: axum_users::Result<T>, what: &str) {
        match result {
            // Both answer 503.
            Err(Error::ServiceUnavailable(_))
            | Err(Error::Store(axum_users::store::StoreError::Unavailable(_))) => {}
            other => panic!("{what}: expected ServiceUnavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unreachable_redis_is_unavailable_not_logged_out() {
        let timeout = Duration::from_secs(2);
        let strategy = RedisStrategy::connect_lazy("redis://127.0.0.1:1")
            .unwrap()
            .timeout(timeout);
        let [a, _] = users().await;
        let started = Instant::now();
        assert_unavailable(read(&strategy, &well_formed_token()).await, "read_token");
        assert_unavailable(
            Strategy::<User>::write_token(
                &strategy,
                &a,
                &axum_users::session::LoginContext::internal("test"),
            )
            .await
            .map(|t| t.access_token),
            "write_token",
        );
        assert_unavailable(
            Strategy::<User>::destroy_token(&strategy, &well_formed_token(), &a).await,
            "destroy_token",
        );
        assert_unavailable(
            Strategy::<User>::destroy_all_tokens(&strategy, &a).await,
            "destroy_all_tokens",
        );
        assert!(
            started.elapsed() < 4 * timeout,
            "each call within the timeout: {:?}",
            started.elapsed()
        );
        // Tokens that cannot be ours are refused without asking Redis.
        assert_eq!(read(&strategy, "a.b.c").await.unwrap(), None);

        let started = Instant::now();
        assert_unavailable(
            RedisStrategy::connect("redis://127.0.0.1:1").await,
            "connect",
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(matches!(
            RedisStrategy::connect_lazy("not a url"),
            Err(Error::Config(_))
        ));
        // Debug shows neither the URL's password nor a token.
        let shown = format!(
            "{:?}",
            RedisStrategy::connect_lazy("redis://:hunter2-secret@127.0.0.1:1").unwrap()
        );
        assert!(shown.contains("fastapi_users_token:"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[tokio::test]
    async fn hung_redis_is_unavailable_within_the_timeout() {
        // Accepts connections and never answers: a stopped (SIGSTOP) server.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut sockets = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                sockets.push(socket);
            }
        });
        let timeout = Duration::from_millis(800);
        let strategy = RedisStrategy::connect_lazy(&format!("redis://{addr}"))
            .unwrap()
            .timeout(timeout);
        let [a, _] = users().await;
        for _ in 0..2 {
            let started = Instant::now();
            assert_unavailable(read(&strategy, &well_formed_token()).await, "read_token");
            assert_unavailable(
                Strategy::<User>::write_token(
                    &strategy,
                    &a,
                    &axum_users::session::LoginContext::internal("test"),
                )
                .await
                .map(|t| t.access_token),
                "write_token",
            );
            assert!(
                started.elapsed() < 2 * timeout + Duration::from_millis(500),
                "{:?}",
                started.elapsed()
            );
        }
        held.abort();
    }

    /// A TCP proxy in front of the real Redis that can stop forwarding (a
    /// hung server) or go away entirely (a stopped one) and come back.
    struct Proxy {
        addr: SocketAddr,
        upstream: SocketAddr,
        paused: Arc<AtomicBool>,
        tasks: Arc<Mutex<Vec<AbortHandle>>>,
    }

    impl Proxy {
        async fn start(upstream: SocketAddr) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let proxy = Self {
                addr: listener.local_addr().unwrap(),
                upstream,
                paused: Arc::new(AtomicBool::new(false)),
                tasks: Arc::new(Mutex::new(Vec::new())),
            };
            proxy.serve(listener);
            proxy
        }

        fn serve(&self, listener: TcpListener) {
            let (upstream, paused, tasks) =
                (self.upstream, self.paused.clone(), self.tasks.clone());
            let accept = tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        continue;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    for task in [
                        tokio::spawn(pump(client_read, server_write, paused.clone())),
                        tokio::spawn(pump(server_read, client_write, paused.clone())),
                    ] {
                        tasks.lock().unwrap().push(task.abort_handle());
                    }
                }
            });
            self.tasks.lock().unwrap().push(accept.abort_handle());
        }

        /// Stops the listener and drops every connection: connections are refused.
        fn stop(&self) {
            for task in self.tasks.lock().unwrap().drain(..) {
                task.abort();
            }
        }

        /// Listens again on the same port.
        async fn restart(&self) {
            let deadline = Instant::now() + Duration::from_secs(5);
            let listener = loop {
                match TcpListener::bind(self.addr).await {
                    Ok(listener) => break listener,
                    Err(e) if Instant::now() < deadline => {
                        eprintln!("rebinding {}: {e}", self.addr);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("rebinding {}: {e}", self.addr),
                }
            };
            self.serve(listener);
        }
    }

    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        paused: Arc<AtomicBool>,
    ) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while paused.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            while paused.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }

    /// Polls `read_token` until it gives `expected`, for at most 5 s.
    async fn eventually_reads(strategy: &RedisStrategy, token: &str, expected: Option<uuid::Uuid>) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match read(strategy, token).await {
                Ok(id) if id == expected => return,
                Ok(other) => panic!("read {other:?}, expected {expected:?}"),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("not yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("Redis did not come back within 5 s: {e}"),
            }
        }
    }

    #[tokio::test]
    async fn service_resumes_by_itself_after_redis_hangs_or_goes_away() {
        let Some(run) = Run::connect().await else {
            return;
        };
        let upstream = {
            let info = redis::Client::open(run.url.as_str()).unwrap();
            let redis::ConnectionAddr::Tcp(host, port) = info.get_connection_info().addr().clone()
            else {
                return skip(&format!(
                    "the proxy test needs Redis over TCP (a redis:// URL in {REDIS_URL}), not {}",
                    info.get_connection_info().addr()
                ));
            };
            tokio::net::lookup_host((host.as_str(), port))
                .await
                .unwrap()
                .next()
                .unwrap()
        };
        let proxy = Proxy::start(upstream).await;
        let timeout = Duration::from_millis(800);
        let strategy = RedisStrategy::connect(&format!("redis://{}", proxy.addr))
            .await
            .unwrap()
            .prefix(run.prefix.as_str())
            .timeout(timeout);
        let [a, _] = users().await;
        let token = write(&strategy, &a).await;
        assert_eq!(read(&strategy, &token).await.unwrap(), Some(a.id));

        // Hung: requests fail within the timeout; the same token works again after.
        proxy.paused.store(true, Ordering::SeqCst);
        let started = Instant::now();
        assert_unavailable(read(&strategy, &token).await, "hung read_token");
        assert!(started.elapsed() < timeout + Duration::from_millis(500));
        proxy.paused.store(false, Ordering::SeqCst);
        eventually_reads(&strategy, &token, Some(a.id)).await;

        // Gone: connections dropped and refused; back: the manager reconnects.
        proxy.stop();
        let started = Instant::now();
        assert_unavailable(read(&strategy, &token).await, "stopped read_token");
        assert!(started.elapsed() < timeout + Duration::from_millis(500));
        proxy.restart().await;
        eventually_reads(&strategy, &token, Some(a.id)).await;
        let fresh = write(&strategy, &a).await;
        assert_eq!(read(&strategy, &fresh).await.unwrap(), Some(a.id));

        proxy.stop();
        run.clean_up().await;
    }
}
