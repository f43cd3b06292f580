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
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use axum_users::User;
    use axum_users::auth::strategy::suite;
    use axum_users::auth::{RedisStrategy, Strategy};
    use axum_users::error::Error;
    use axum_users::redis::{self, AsyncCommands, aio::MultiplexedConnection};
    use axum_users::store::MemoryStore;
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
    }

    fn digest(token: &str) -> String {
        format!("{:x}", Sha256::digest(token.as_bytes()))
    }

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

    #[tokio::test]
    async fn redis_stores_the_binding_and_hyphenated_id_under_the_digest_with_the_lifetime_as_ttl()
    {
        let Some(run) = Run::connect().await else {
            return;
        };
        let strategy = run.strategy.clone().lifetime(Duration::from_secs(3600));
        let [a, _] = users().await;
        let token = write(&strategy, &a).await;
        let mut raw = run.raw.clone();

        let key = run.token_key(&token);
        let value: Option<String> = raw.get(&key).await.unwrap();
        // The fingerprint of the credentials the session is bound to, then the id.
        assert_eq!(
            value,
            Some(format!(
                "{} {}",
                axum_users::auth::Binding::fingerprint(&a),
                a.id.hyphenated()
            ))
        );
        let ttl: i64 = raw.ttl(&key).await.unwrap();
        assert!((3590..=3600).contains(&ttl), "TTL {ttl}");
        let exists: bool = raw.exists(format!("{}{token}", run.prefix)).await.unwrap();
        assert!(!exists, "the token itself is never a key");

        let index = run.index_key(&a);
        let kind: String = redis::cmd("TYPE")
            .arg(&index)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(kind, "set", "the per-user index is a set");
        let members: Vec<String> = raw.smembers(&index).await.unwrap();
        assert_eq!(members, vec![digest(&token)]);
        let ttl: i64 = raw.ttl(&index).await.unwrap();
        assert!((3590..=3600).contains(&ttl), "index TTL {ttl}");
        run.clean_up().await;
    }

    #[tokio::test]
    async fn redis_has_no_string_key_holding_a_user_id_but_the_token_keys() {
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
        Strategy::<User>::destroy_token(strategy, &gone, &a)
            .await
            .unwrap();

        let token_keys: Vec<String> = live.iter().map(|t| run.token_key(t)).collect();
        let mut raw = run.raw.clone();
        let mut strings = Vec::new();
        for key in run.keys().await {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut raw)
                .await
                .unwrap();
            match kind.as_str() {
                "string" => strings.push(key),
                "set" => assert!(
                    key == run.index_key(&a) || key == run.index_key(&b),
                    "unexpected set {key}"
                ),
                other => panic!("unexpected key {key} of type {other}"),
            }
        }
        strings.sort();
        let mut expected = token_keys.clone();
        expected.sort();
        assert_eq!(
            strings, expected,
            "the only string keys are live token keys"
        );

        let a_index: Vec<String> = raw.smembers(run.index_key(&a)).await.unwrap();
        let mut a_expected = vec![digest(&live[0]), digest(&live[1])];
        let mut a_index = a_index;
        a_index.sort();
        a_expected.sort();
        assert_eq!(
            a_index, a_expected,
            "logout removed its digest from the index"
        );
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
        assert_eq!(read(strategy, &b1).await.unwrap(), Some(b.id));
        // Nothing to end is not an error.
        Strategy::<User>::destroy_all_tokens(strategy, &a)
            .await
            .unwrap();
        run.clean_up().await;
    }

    #[tokio::test]
    async fn redis_index_sheds_expired_tokens_as_it_grows() {
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
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // The 64th entry triggers the pruning of the 62 expired ones.
        let newest = write(&long, &a).await;
        let mut members: Vec<String> = run.raw.clone().smembers(run.index_key(&a)).await.unwrap();
        members.sort();
        let mut expected = vec![digest(&kept), digest(&newest)];
        expected.sort();
        assert_eq!(members, expected);
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
