//! The dependencies failing under the example server (issue 5, the HTTP contract
//! §11): each test owns a `redis-server` and a PostgreSQL cluster (`initdb` +
//! `pg_ctl`, as the `postgres` user when run as root) on spare ports, runs the
//! example server against them, makes one of them hang (SIGSTOP of every one of
//! its processes) or stop, and brings it back. Every answer is timed:
//!
//! - a request that needs the failed dependency answers 503
//!   `{"detail": "SERVICE_UNAVAILABLE"}` within 10 s, for `/users/me` and for
//!   login; one that does not need it is served as usual;
//! - a hung dependency that resumes serves the same tokens again within 5 s;
//! - a Redis restarted without persistence allows a fresh login within 5 s,
//!   while the tokens it lost answer 401;
//! - a restarted PostgreSQL accepts the same session and logins within 5 s.
//!
//! Without `redis-server` or PostgreSQL's server binaries (Debian's packages
//! `redis-server` and `postgresql`) the tests print that they were skipped and
//! pass, unless `AXUM_USERS_REQUIRE_SERVICES=1`.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use serde_json::json;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::process::{Credential, ExampleServer, Req, Resp, free_port};
use crate::common::services::{REQUIRE_SERVICES, services_required};

const PASSWORD: &str = "fault-password-1";
/// A request that needs a failed dependency must answer 503 within this.
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(10);
/// Once the dependency is back, service must resume within this.
const RECOVERY_WITHIN: Duration = Duration::from_secs(5);
/// A request that does not need the failed dependency must not wait for it (the
/// Redis strategy gives Redis 2 s a call).
const UNAFFECTED_WITHIN: Duration = Duration::from_secs(2);
/// How long a check keeps waiting, to tell how late a late answer is.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------
// The tests

/// Redis hangs, then is killed and restarted empty: the Redis backend answers
/// 503 meanwhile and recovers by itself; JWTs and database sessions never
/// notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_or_stopped_redis_gives_503_for_its_sessions_only_and_service_resumes_by_itself() {
    let Some(mut stack) = Stack::start("redis-faults").await else {
        return;
    };
    let timings = Timings::default();
    let server = &stack.server;
    let email = "redis-faults@example.com";
    let user = User::register(server, email).await;

    // Step 1: Redis hangs (SIGSTOP): its sessions and its logins answer 503
    // within 10 s; JWTs and database sessions are served as usual.
    stack.redis.pause();
    tokio::join!(
        unavailable(
            server,
            &timings,
            "redis hung: GET /users/me, Redis token",
            Req::me(&user.redis),
        ),
        unavailable(
            server,
            &timings,
            "redis hung: POST /auth/redis/login",
            Req::login("redis", email, PASSWORD),
        ),
        unaffected(
            server,
            &timings,
            "redis hung: GET /users/me, JWT",
            Req::me(&user.jwt),
            200,
        ),
        unaffected(
            server,
            &timings,
            "redis hung: POST /auth/jwt/login",
            Req::login("jwt", email, PASSWORD),
            200,
        ),
        unaffected(
            server,
            &timings,
            "redis hung: GET /users/me, database session",
            Req::me(&user.session),
            200,
        ),
    );

    // Step 2: Redis resumes (SIGCONT): the same token works again within 5 s,
    // and so do logins.
    stack.redis.resume();
    let since = Instant::now();
    let (_, resumed_login) = tokio::join!(
        recovers(
            server,
            &timings,
            "redis resumed: GET /users/me, the same Redis token",
            since,
            Req::me(&user.redis),
            200,
        ),
        recovers(
            server,
            &timings,
            "redis resumed: POST /auth/redis/login",
            since,
            Req::login("redis", email, PASSWORD),
            200,
        ),
    );
    let second_token = Credential::from_login(&resumed_login).expect("a Redis token");

    // Step 3: Redis stops (killed): the same 503s, the same service for the rest.
    stack.redis.kill();
    tokio::join!(
        unavailable(
            server,
            &timings,
            "redis stopped: GET /users/me, Redis token",
            Req::me(&user.redis),
        ),
        unavailable(
            server,
            &timings,
            "redis stopped: POST /auth/redis/login",
            Req::login("redis", email, PASSWORD),
        ),
        unaffected(
            server,
            &timings,
            "redis stopped: GET /users/me, JWT",
            Req::me(&user.jwt),
            200,
        ),
        unaffected(
            server,
            &timings,
            "redis stopped: POST /auth/jwt/login",
            Req::login("jwt", email, PASSWORD),
            200,
        ),
        unaffected(
            server,
            &timings,
            "redis stopped: GET /users/me, database session",
            Req::me(&user.session),
            200,
        ),
        unaffected(
            server,
            &timings,
            "redis stopped: POST /auth/session/login",
            Req::login("session", email, PASSWORD),
            204,
        ),
    );

    // Step 4: an empty Redis comes up on the same port: a fresh login works
    // within 5 s, and the tokens it lost answer 401 (no longer 503).
    stack.redis.run().await;
    let since = Instant::now();
    let (fresh_login, _, _) = tokio::join!(
        recovers(
            server,
            &timings,
            "redis restarted empty: POST /auth/redis/login",
            since,
            Req::login("redis", email, PASSWORD),
            200,
        ),
        recovers(
            server,
            &timings,
            "redis restarted empty: GET /users/me, a lost Redis token (1st)",
            since,
            Req::me(&user.redis),
            401,
        ),
        recovers(
            server,
            &timings,
            "redis restarted empty: GET /users/me, a lost Redis token (2nd)",
            since,
            Req::me(&second_token),
            401,
        ),
    );
    let fresh = Credential::from_login(&fresh_login).expect("a Redis token");
    assert_ne!(fresh, user.redis, "a fresh login gives a new token");
    let me = server.me(&fresh).await;
    assert_eq!(
        me.status,
        200,
        "the fresh Redis token after the restart: {}",
        me.describe()
    );
    assert_eq!(me.json()["id"], user.id, "the fresh token's user");
    let lost = server.me(&user.redis).await;
    assert_eq!(
        lost.json(),
        json!({"detail": "Unauthorized"}),
        "a token lost with Redis"
    );

    timings.print_summary("Redis faults");
}

/// PostgreSQL hangs, then is stopped and started again: every request that
/// needs the database answers 503 meanwhile, and the same session, the same
/// tokens and logins work again by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_or_stopped_postgres_gives_503_and_the_same_sessions_work_again_when_it_returns() {
    let Some(stack) = Stack::start("postgres-faults").await else {
        return;
    };
    let timings = Timings::default();
    let server = &stack.server;
    let email = "postgres-faults@example.com";
    let user = User::register(server, email).await;

    // Step 1: PostgreSQL hangs: SIGSTOP to the postmaster and every process
    // below it (the backends the server is connected to included).
    let paused = stack.postgres.pause();
    let backends: Vec<String> = paused
        .iter()
        .map(|&pid| process_title(pid))
        .filter(|title| title.contains("127.0.0.1("))
        .collect();
    assert!(
        !backends.is_empty(),
        "the server's connections (client backends) must hang too; stopped: {:?}",
        paused
            .iter()
            .map(|&pid| process_title(pid))
            .collect::<Vec<_>>()
    );
    println!(
        "postgres hung: {} processes stopped, {} of them the server's backends",
        paused.len(),
        backends.len()
    );
    every_request_is_unavailable(server, &timings, "postgres hung", &user, email).await;

    // Step 2: PostgreSQL resumes: the same session and tokens, and logins, are
    // served again within 5 s.
    stack.postgres.resume();
    let since = Instant::now();
    everything_recovers(server, &timings, "postgres resumed", since, &user, email).await;

    // Step 3: PostgreSQL stops (`pg_ctl stop -m immediate`): the same 503s.
    stack.postgres.stop();
    every_request_is_unavailable(server, &timings, "postgres stopped", &user, email).await;

    // Step 4: PostgreSQL starts again: the same session and logins within 5 s.
    stack.postgres.start();
    let since = Instant::now();
    everything_recovers(server, &timings, "postgres restarted", since, &user, email).await;

    timings.print_summary("PostgreSQL faults");
}

/// With the database gone, `/users/me` answers 503 whatever the credential
/// (every backend loads the user from the database), and so does every login.
async fn every_request_is_unavailable(
    server: &ExampleServer,
    timings: &Timings,
    phase: &str,
    user: &User,
    email: &str,
) {
    tokio::join!(
        unavailable(
            server,
            timings,
            format!("{phase}: GET /users/me, database session"),
            Req::me(&user.session),
        ),
        unavailable(
            server,
            timings,
            format!("{phase}: GET /users/me, JWT"),
            Req::me(&user.jwt),
        ),
        unavailable(
            server,
            timings,
            format!("{phase}: GET /users/me, Redis token"),
            Req::me(&user.redis),
        ),
        unavailable(
            server,
            timings,
            format!("{phase}: POST /auth/session/login"),
            Req::login("session", email, PASSWORD),
        ),
        unavailable(
            server,
            timings,
            format!("{phase}: POST /auth/jwt/login"),
            Req::login("jwt", email, PASSWORD),
        ),
        unavailable(
            server,
            timings,
            format!("{phase}: POST /auth/redis/login"),
            Req::login("redis", email, PASSWORD),
        ),
    );
}

/// The database is back: the same session cookie and tokens, and logins, are
/// served again within [`RECOVERY_WITHIN`] of `since`.
async fn everything_recovers(
    server: &ExampleServer,
    timings: &Timings,
    phase: &str,
    since: Instant,
    user: &User,
    email: &str,
) {
    let (me, ..) = tokio::join!(
        recovers(
            server,
            timings,
            format!("{phase}: GET /users/me, the same database session"),
            since,
            Req::me(&user.session),
            200,
        ),
        recovers(
            server,
            timings,
            format!("{phase}: GET /users/me, the same JWT"),
            since,
            Req::me(&user.jwt),
            200,
        ),
        recovers(
            server,
            timings,
            format!("{phase}: GET /users/me, the same Redis token"),
            since,
            Req::me(&user.redis),
            200,
        ),
        recovers(
            server,
            timings,
            format!("{phase}: POST /auth/session/login"),
            since,
            Req::login("session", email, PASSWORD),
            204,
        ),
        recovers(
            server,
            timings,
            format!("{phase}: POST /auth/jwt/login"),
            since,
            Req::login("jwt", email, PASSWORD),
            200,
        ),
    );
    assert_eq!(me.json()["id"], user.id, "{phase}: the session's user");
}

// ---------------------------------------------------------------------------
// Checks, timed

/// The user of a test and one login through each kind of backend.
struct User {
    id: serde_json::Value,
    jwt: Credential,
    session: Credential,
    redis: Credential,
}

impl User {
    /// Registers `email` with [`PASSWORD`], logs in through `/auth/jwt`,
    /// `/auth/session` and `/auth/redis`, and checks each login on `/users/me`.
    async fn register(server: &ExampleServer, email: &str) -> User {
        let registered = server.register(email, PASSWORD).await;
        assert_eq!(
            registered.status,
            201,
            "registering {email}: {}",
            registered.describe()
        );
        let id = registered.json()["id"].clone();
        let user = User {
            id,
            jwt: server.sign_in("jwt", email, PASSWORD).await,
            session: server.sign_in("session", email, PASSWORD).await,
            redis: server.sign_in("redis", email, PASSWORD).await,
        };
        for credential in [&user.jwt, &user.session, &user.redis] {
            let me = server.me(credential).await;
            assert_eq!(me.status, 200, "{credential:?}: {}", me.describe());
            assert_eq!(me.json()["id"], user.id, "{credential:?}");
        }
        user
    }
}

/// The measured durations, printed as they come and summed up at the end.
#[derive(Default)]
struct Timings(Mutex<Vec<(String, Duration)>>);

impl Timings {
    fn record(&self, label: &str, took: Duration) {
        println!("{label}: {took:.2?}");
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((label.to_owned(), took));
    }

    fn print_summary(&self, title: &str) {
        let timings = self.0.lock().unwrap_or_else(|e| e.into_inner());
        println!("----- {title}: timings -----");
        for (label, took) in timings.iter() {
            println!("{took:>9.2?}  {label}");
        }
    }
}

/// Whether `response` is exactly the 503 of an unavailable dependency.
fn is_service_unavailable(response: &Resp) -> bool {
    response.status == 503
        && serde_json::from_slice::<serde_json::Value>(&response.body).ok()
            == Some(json!({"detail": "SERVICE_UNAVAILABLE"}))
}

/// `request` needs the failed dependency: it must answer 503
/// `{"detail": "SERVICE_UNAVAILABLE"}` within [`UNAVAILABLE_WITHIN`].
async fn unavailable(
    server: &ExampleServer,
    timings: &Timings,
    label: impl AsRef<str>,
    request: Req,
) {
    let label = label.as_ref();
    let started = Instant::now();
    let answer = server.send(&request, GIVE_UP_AFTER).await;
    let took = started.elapsed();
    let response = answer.unwrap_or_else(|e| {
        panic!("{label}: must answer 503 within {UNAVAILABLE_WITHIN:?}, but: {e}")
    });
    assert!(
        is_service_unavailable(&response),
        "{label}: must answer 503 {{\"detail\": \"SERVICE_UNAVAILABLE\"}}, answered {} after {took:.2?}",
        response.describe()
    );
    assert!(
        took <= UNAVAILABLE_WITHIN,
        "{label}: the 503 came after {took:.2?}, later than {UNAVAILABLE_WITHIN:?}"
    );
    timings.record(&format!("{label} -> 503"), took);
}

/// `request` does not need the failed dependency: it must answer `status`, not
/// held up by the failed one (within [`UNAFFECTED_WITHIN`]).
async fn unaffected(
    server: &ExampleServer,
    timings: &Timings,
    label: impl AsRef<str>,
    request: Req,
    status: u16,
) {
    let label = label.as_ref();
    let started = Instant::now();
    let answer = server.send(&request, GIVE_UP_AFTER).await;
    let took = started.elapsed();
    let response = answer.unwrap_or_else(|e| panic!("{label}: must answer {status}, but: {e}"));
    assert_eq!(
        response.status,
        status,
        "{label}: must be served as usual, answered {} after {took:.2?}",
        response.describe()
    );
    assert!(
        took <= UNAFFECTED_WITHIN,
        "{label}: answered after {took:.2?}: held up by the failed dependency?"
    );
    timings.record(&format!("{label} -> {status}"), took);
}

/// Polls `request` until it answers `status`, which must come within
/// [`RECOVERY_WITHIN`] of `since` (when the dependency came back). In between
/// only 503 `SERVICE_UNAVAILABLE` may come: never a 401 (a user must not be told
/// they are logged out because a dependency blinked) nor a 500.
async fn recovers(
    server: &ExampleServer,
    timings: &Timings,
    label: impl AsRef<str>,
    since: Instant,
    request: Req,
    status: u16,
) -> Resp {
    let label = label.as_ref();
    let mut tries = 0;
    loop {
        tries += 1;
        let left = GIVE_UP_AFTER.saturating_sub(since.elapsed());
        let response = server
            .send(&request, left.max(POLL_EVERY))
            .await
            .unwrap_or_else(|e| panic!("{label}: not served again ({tries} tries): {e}"));
        let took = since.elapsed();
        if response.status == status {
            assert!(
                took <= RECOVERY_WITHIN,
                "{label}: served again only after {took:.2?} ({tries} tries), later than \
                 {RECOVERY_WITHIN:?}"
            );
            timings.record(&format!("{label} -> {status} ({tries} tries)"), took);
            return response;
        }
        assert!(
            is_service_unavailable(&response),
            "{label}: answered {} after {took:.2?} while the service recovers: only 503 \
             SERVICE_UNAVAILABLE may come before {status}",
            response.describe()
        );
        assert!(
            took < GIVE_UP_AFTER,
            "{label}: still 503 after {took:.2?} ({tries} tries)"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

// ---------------------------------------------------------------------------
// The stack: the services and the example server over them

/// The service binaries that the tests run.
struct Tools {
    redis_server: PathBuf,
    /// The directory of `initdb` and `pg_ctl`.
    postgres_bin: PathBuf,
    /// `runuser` and the `postgres` user's uid and gid, when running as root
    /// (PostgreSQL refuses to run as root).
    run_as_postgres: Option<(PathBuf, u32, u32)>,
}

impl Tools {
    /// The binaries, or `None` after printing that the test is skipped (a
    /// panic instead when services are required).
    fn find() -> Option<Tools> {
        let redis_server = on_path("redis-server")
            .or_else(|| Some(PathBuf::from("/usr/bin/redis-server")).filter(|p| p.is_file()));
        let postgres_bin = postgres_bin_dir();
        let mut missing = Vec::new();
        if redis_server.is_none() {
            missing.push("redis-server (Debian package redis-server)");
        }
        if postgres_bin.is_none() {
            missing.push(
                "PostgreSQL's initdb and pg_ctl (Debian package postgresql, in \
                 /usr/lib/postgresql/<version>/bin)",
            );
        }
        let mut run_as_postgres = None;
        if rustix::process::geteuid().is_root() {
            let runuser = on_path("runuser")
                .or_else(|| Some(PathBuf::from("/usr/sbin/runuser")).filter(|p| p.is_file()));
            match (runuser, user_ids("postgres")) {
                (Some(runuser), Some((uid, gid))) => run_as_postgres = Some((runuser, uid, gid)),
                (None, _) => missing.push("runuser (PostgreSQL refuses to run as root)"),
                (_, None) => missing.push("a postgres user (PostgreSQL refuses to run as root)"),
            }
        }
        if !missing.is_empty() {
            let message = format!("the fault tests need {}", missing.join(", "));
            if services_required() {
                panic!("{message} ({REQUIRE_SERVICES} is set)");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        }
        Some(Tools {
            redis_server: redis_server?,
            postgres_bin: postgres_bin?,
            run_as_postgres,
        })
    }
}

/// `name` in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`
/// (Debian keeps them there, off `PATH`), else the directory of `initdb` on `PATH`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let has_tools = |bin: &Path| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file();
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = name
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).or_else(|| {
        on_path("initdb")
            .and_then(|initdb| Some(initdb.parent()?.to_path_buf()))
            .filter(|bin| has_tools(bin))
    })
}

/// The uid and gid of `user`.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, user]).output().ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8(output.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// The example server over a Redis and a PostgreSQL of its own. Dropped in
/// this order: the server, then Redis, then PostgreSQL.
struct Stack {
    server: ExampleServer,
    redis: RedisServer,
    postgres: PgCluster,
}

impl Stack {
    /// `None` when the tools are missing and the test is skipped.
    async fn start(name: &str) -> Option<Stack> {
        let tools = Tools::find()?;
        let redis = RedisServer::start(&tools.redis_server).await;
        let postgres = PgCluster::create(&tools);
        let secret = axum_users::tokens::random_token(48).expect("a random secret");
        let server = ExampleServer::start(
            name,
            &[
                ("DATABASE_URL", &postgres.url()),
                ("REDIS_URL", &redis.url()),
                ("SECRET", &secret),
            ],
        )
        .await;
        Some(Stack {
            server,
            redis,
            postgres,
        })
    }
}

// ---------------------------------------------------------------------------
// Processes, through /proc

/// The state letter and the parent of process `pid` (`None` once it is gone).
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`, where comm may hold spaces and parentheses.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The command line of process `pid`, or the title PostgreSQL gave it
/// (`postgres: user db 127.0.0.1(port) idle` for a client backend).
fn process_title(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// Whether process `pid` is stopped, or has nothing left to stop.
fn is_stopped(pid: i32) -> bool {
    proc_stat(pid).is_none_or(|(state, _)| matches!(state, 'T' | 't' | 'Z' | 'X'))
}

/// `root` and every process below it, parents first.
fn process_tree(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some((_, ppid)) = proc_stat(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut tree = vec![root];
    let mut next = 0;
    while let Some(&pid) = tree.get(next) {
        tree.extend(children.get(&pid).into_iter().flatten());
        next += 1;
    }
    tree
}

fn send_signal(pid: i32, signal: Signal) -> std::io::Result<()> {
    let pid = Pid::from_raw(pid).ok_or_else(|| std::io::Error::other("not a pid"))?;
    Ok(rustix::process::kill_process(pid, signal)?)
}

/// Waits until `pid` is stopped (after a SIGSTOP).
fn wait_stopped(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_stopped(pid) {
        assert!(Instant::now() < deadline, "{what} ({pid}) did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------
// Redis

/// A `redis-server` on a spare port that keeps nothing on disk; killed on drop.
struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    async fn start(binary: &Path) -> RedisServer {
        let mut redis = RedisServer {
            binary: binary.to_owned(),
            port: free_port(),
            dir: tempfile::tempdir().expect("a temporary directory"),
            child: None,
        };
        redis.run().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Starts an empty server on the port and waits until it answers PING.
    async fn run(&mut self) {
        assert!(self.child.is_none(), "Redis is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("Redis's log file");
        let child = Command::new(&self.binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let child = self.child.insert(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("Redis's status") {
                panic!(
                    "redis-server exited ({status}):\n{}",
                    std::fs::read_to_string(self.log_path()).unwrap_or_default()
                );
            }
            if redis_ping(self.port).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn pid(&self) -> i32 {
        let child = self.child.as_ref().expect("Redis is running");
        child.id().try_into().expect("a pid")
    }

    /// Hangs the server: SIGSTOP (all its threads), and waits until it stopped.
    fn pause(&self) {
        send_signal(self.pid(), Signal::STOP).expect("SIGSTOP to redis-server");
        wait_stopped(self.pid(), "redis-server");
    }

    fn resume(&self) {
        send_signal(self.pid(), Signal::CONT).expect("SIGCONT to redis-server");
    }

    /// Stops the server for good (SIGKILL): what it held is lost.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a Redis server on `port` answers PING within 1 s.
async fn redis_ping(port: u16) -> bool {
    let ping = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await?;
        Ok::<bool, std::io::Error>(&reply == b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), ping).await,
        Ok(Ok(true))
    )
}

// ---------------------------------------------------------------------------
// PostgreSQL

/// A PostgreSQL cluster of the test's own (`initdb`, trust authentication) on
/// a spare port, run as the `postgres` user when the test runs as root. On
/// drop it is woken up if paused, stopped, and its directory removed.
struct PgCluster {
    bin: PathBuf,
    run_as_postgres: Option<PathBuf>,
    port: u16,
    /// `data/` (the cluster) and `run/` (its socket and log) are the cluster
    /// user's.
    root: TempDir,
}

impl PgCluster {
    /// `initdb`, then [`PgCluster::start`].
    fn create(tools: &Tools) -> PgCluster {
        let root = tempfile::tempdir().expect("a temporary directory");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod of the cluster's directory");
        for dir in ["data", "run"] {
            let path = root.path().join(dir);
            std::fs::create_dir(&path).expect("the cluster's directories");
            if let Some((_, uid, gid)) = &tools.run_as_postgres {
                std::os::unix::fs::chown(&path, Some(*uid), Some(*gid))
                    .expect("chown to the postgres user");
            }
        }
        let cluster = PgCluster {
            bin: tools.postgres_bin.clone(),
            run_as_postgres: tools
                .run_as_postgres
                .as_ref()
                .map(|(runuser, ..)| runuser.clone()),
            port: free_port(),
            root,
        };
        let mut initdb = cluster.tool("initdb");
        initdb
            .arg("-D")
            .arg(cluster.data())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"])
            .arg("--no-sync");
        cluster.run("initdb", initdb);
        cluster.start();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn run_dir(&self) -> PathBuf {
        self.root.path().join("run")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// One of the cluster's programs, as the cluster's user.
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut command = match &self.run_as_postgres {
            Some(runuser) => {
                let mut command = Command::new(runuser);
                command.args(["-u", "postgres", "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.current_dir(self.root.path()).stdin(Stdio::null());
        command
    }

    /// Runs `command`; fails the test (with the server's log) when it fails.
    fn run(&self, what: &str, mut command: Command) {
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        assert!(
            output.status.success(),
            "{what} failed ({}):\n{}{}\n----- postgres.log -----\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.run_dir().join("postgres.log")).unwrap_or_default()
        );
    }

    /// `pg_ctl start`, waiting until the server accepts connections.
    fn start(&self) {
        let mut pg_ctl = self.tool("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.run_dir().join("postgres.log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.run_dir().display()
            ))
            .args(["-w", "-t", "30", "start"]);
        self.run("pg_ctl start", pg_ctl);
    }

    /// `pg_ctl stop -m immediate`: every process ends at once, connections drop.
    fn stop(&self) {
        let mut pg_ctl = self.tool("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        self.run("pg_ctl stop", pg_ctl);
    }

    /// The postmaster's pid while it runs.
    fn postmaster(&self) -> Option<i32> {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        let pid = pid_file.lines().next()?.trim().parse().ok()?;
        proc_stat(pid).map(|_| pid)
    }

    /// Hangs the whole cluster, as a frozen machine would: SIGSTOP to the
    /// postmaster (which then forks nothing more) and to every process below
    /// it (checkpointer, writers, launchers, each backend), until all of them
    /// are stopped. Returns their pids.
    fn pause(&self) -> Vec<i32> {
        let postmaster = self.postmaster().expect("PostgreSQL is running");
        send_signal(postmaster, Signal::STOP).expect("SIGSTOP to the postmaster");
        wait_stopped(postmaster, "the postmaster");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let tree = process_tree(postmaster);
            let running: Vec<i32> = tree.iter().copied().filter(|&p| !is_stopped(p)).collect();
            if running.is_empty() {
                return tree;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL processes {running:?} did not stop"
            );
            for pid in running {
                // A backend may have just exited.
                let _ = send_signal(pid, Signal::STOP);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGCONT to every process of the cluster.
    fn resume(&self) {
        let postmaster = self.postmaster().expect("PostgreSQL is running");
        for pid in process_tree(postmaster) {
            let _ = send_signal(pid, Signal::CONT);
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let Some(postmaster) = self.postmaster() else {
            return;
        };
        // A paused cluster cannot shut down: wake it first.
        let tree = process_tree(postmaster);
        for &pid in &tree {
            let _ = send_signal(pid, Signal::CONT);
        }
        let stopped = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "10", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !stopped {
            for pid in tree {
                let _ = send_signal(pid, Signal::KILL);
            }
        }
    }
}
