//! The example server as a process, for the tests that run it as a client
//! would (`tests/it/example_server.rs`, `tests/it/example_mail.rs`) or
//! against real services (`tests/it/faults.rs`, `tests/it/two_instances.rs`):
//! its binary (built first when the test runs under cargo), a guard that
//! kills it on drop, and a tiny HTTP/1.1 client over `TcpStream` (one request
//! per connection).

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the server may take to answer its first request.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`ExampleServer::call`] waits for an answer before failing the test.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`ExampleServer::terminate`] waits for the exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The admin that [`ExampleServer::start_sqlite`] gives the server.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The password of [`ADMIN_EMAIL`].
pub const ADMIN_PASSWORD: &str = "admin-password-0";
/// The SQLite file of [`ExampleServer::start_sqlite`], in [`ExampleServer::dir`].
pub const SQLITE_DB: &str = "test.db";

/// The example server's settings that a test gets only when it gives them.
const CLEARED_ENV: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET",
    "ALLOW_SHORT_SECRET",
    "SMTP_URL",
    "MAIL_FROM",
    "FRONTEND_URL",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "LOGIN_THROTTLE",
    "MAIL_CAP",
    "TRUSTED_ORIGINS",
    "USERNAMES",
    "INVITE_ONLY",
];

/// `target/<profile>` of the running test binary (`…/target/debug/deps/NAME-HASH`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The example server's binary, built once per test process when it runs under
/// cargo (`cargo test --test NAME` does not build examples).
pub fn example_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let profile_dir = profile_dir();
        if let Ok(cargo) = std::env::var("CARGO") {
            let target_dir = profile_dir.parent().expect("target/ above the profile");
            let mut build = Command::new(cargo);
            build
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "server",
                    // The outer `cargo test --all-features` built the crate
                    // so: the same features reuse it.
                    "--all-features",
                ])
                .arg("--manifest-path")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .arg("--target-dir")
                .arg(target_dir);
            // The variables cargo sets for the test process (CARGO_MANIFEST_DIR,
            // CARGO_PKG_*, …) would look like a changed environment to build
            // scripts (ring's), which would then rebuild on every run.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if [
                    "CARGO_MANIFEST_",
                    "CARGO_PKG_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                    "CARGO_PRIMARY_",
                    "CARGO_TARGET_TMPDIR",
                ]
                .iter()
                .any(|prefix| name.starts_with(prefix))
                {
                    build.env_remove(name.as_ref());
                }
            }
            match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => {}
                Some(profile) => {
                    build.args(["--profile", profile]);
                }
            }
            let output = build.output().expect("cargo runs");
            assert!(
                output.status.success(),
                "building the example failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let binary = profile_dir
            .join("examples")
            .join(format!("server{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.exists(),
            "{} is missing: run `cargo build --example server`",
            binary.display()
        );
        binary
    })
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A running example server; killed on drop, even when the test panics (its
/// log is printed then).
pub struct ExampleServer {
    child: Child,
    addr: SocketAddr,
    name: String,
    log: PathBuf,
    settings: Vec<(String, String)>,
    dir: TempDir,
}

impl ExampleServer {
    /// Starts the example server (called `name` in messages) on a free port
    /// with `env` and no other setting of its own ([`CLEARED_ENV`]; `RUST_LOG`
    /// is `warn` unless given), without waiting for it: see
    /// [`ExampleServer::wait_ready`].
    pub fn spawn(name: &str, env: &[(&str, &str)]) -> ExampleServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        ExampleServer::spawn_in(name, dir, env)
    }

    /// [`ExampleServer::spawn`] in `dir` (its working directory, kept until
    /// the server is dropped), for settings that name files in it.
    pub fn spawn_in(name: &str, dir: TempDir, env: &[(&str, &str)]) -> ExampleServer {
        let binary = example_binary();
        let log = dir.path().join("server.log");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log_file = File::create(&log).expect("the server's log file");
        let mut command = Command::new(binary);
        for var in CLEARED_ENV {
            command.env_remove(var);
        }
        command
            .env("BIND", addr.to_string())
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("the log file"))
            .stderr(log_file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        ExampleServer {
            child,
            addr,
            name: name.to_owned(),
            log,
            settings: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            dir,
        }
    }

    /// [`ExampleServer::spawn`], then [`ExampleServer::wait_ready`].
    pub async fn start(name: &str, env: &[(&str, &str)]) -> ExampleServer {
        let mut server = ExampleServer::spawn(name, env);
        server.wait_ready().await;
        server
    }

    /// The example server as CONTRACT.md §1 launches it on SQLite, started
    /// like [`ExampleServer::start`]: `DATABASE_URL` a new file [`SQLITE_DB`] in
    /// [`ExampleServer::dir`], a random `SECRET` (48 bytes, 64 characters), the
    /// admin [`ADMIN_EMAIL`] / [`ADMIN_PASSWORD`], then `env`.
    pub async fn start_sqlite(name: &str, env: &[(&str, &str)]) -> ExampleServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = format!("sqlite://{}", dir.path().join(SQLITE_DB).display());
        let secret = axum_users::tokens::random_token(48).expect("random bytes");
        let mut settings = vec![
            ("DATABASE_URL", database_url.as_str()),
            ("SECRET", secret.as_str()),
            ("ADMIN_EMAIL", ADMIN_EMAIL),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
        ];
        settings.extend_from_slice(env);
        let mut server = ExampleServer::spawn_in(name, dir, &settings);
        server.wait_ready().await;
        server
    }

    /// Polls `GET /openapi.json` until any HTTP answer comes; fails the test
    /// when the server exits or stays silent for [`START_TIMEOUT`].
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                panic!(
                    "server {} exited early ({status}):\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if self
                .send(&Req::get("/openapi.json"), Duration::from_secs(5))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server {} did not answer within {START_TIMEOUT:?}:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The value the server was given for the setting `name` (the last one).
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// What the server printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `timeout` for the log (stdout and stderr) to satisfy
    /// `found`; fails the test (with the log) when it does not.
    pub async fn wait_log<T>(
        &self,
        what: &str,
        timeout: Duration,
        found: impl Fn(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = found(&self.log_text()) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{what} not in the log of server {} within {timeout:?}:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `timeout` for the server to exit by itself (it refused its
    /// settings, say): its exit status; fails the test when it keeps running.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server {} still runs after {timeout:?}:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits (up to [`STOP_TIMEOUT`], as a conformance run
    /// does) for the exit; fails the test when the server ignores it.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server {} ignored SIGTERM for {STOP_TIMEOUT:?}:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `request`'s answer, or why none came within `timeout`.
    pub async fn send(&self, request: &Req, timeout: Duration) -> Result<Resp, String> {
        match tokio::time::timeout(timeout, http(self.addr, request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(format!("{request} on {}: {e}", self.name)),
            Err(_) => Err(format!(
                "{request} on {}: no answer within {timeout:?}",
                self.name
            )),
        }
    }

    /// `request`'s answer; fails the test (with the server's log) when none
    /// comes within [`REQUEST_TIMEOUT`].
    pub async fn call(&self, request: &Req) -> Resp {
        match self.send(request, REQUEST_TIMEOUT).await {
            Ok(response) => response,
            Err(e) => panic!("{e}\n{}", self.log_text()),
        }
    }

    /// `POST /auth/register`.
    pub async fn register(&self, email: &str, password: &str) -> Resp {
        let body = serde_json::json!({ "email": email, "password": password });
        self.call(&Req::json("POST", "/auth/register", &body)).await
    }

    /// `POST /auth/{backend}/login` (form).
    pub async fn login(&self, backend: &str, email: &str, password: &str) -> Resp {
        self.call(&Req::login(backend, email, password)).await
    }

    /// A login through `backend` that must succeed: its bearer token or cookie.
    pub async fn sign_in(&self, backend: &str, email: &str, password: &str) -> Credential {
        let response = self.login(backend, email, password).await;
        Credential::from_login(&response).unwrap_or_else(|| {
            panic!(
                "login of {email} through /auth/{backend} on {} gave no token: {}",
                self.name,
                response.describe()
            )
        })
    }

    /// `GET /users/me`.
    pub async fn me(&self, credential: &Credential) -> Resp {
        self.call(&Req::me(credential)).await
    }

    /// `POST /auth/{backend}/logout`.
    pub async fn logout(&self, backend: &str, credential: &Credential) -> Resp {
        self.call(&Req::logout(backend, credential)).await
    }

    /// `PATCH /users/me` with `body`.
    pub async fn patch_me(&self, credential: &Credential, body: &Value) -> Resp {
        self.call(&Req::json("PATCH", "/users/me", body).with(credential))
            .await
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "----- log of server {} -----\n{}----- end of log -----",
                self.name,
                self.log_text()
            );
        }
    }
}

/// What proves a login: a bearer token or a cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Bearer(String),
    Cookie { name: String, value: String },
}

impl Credential {
    /// The token of a successful login: `access_token` of a 200, or the cookie
    /// set by a 204. `None` for any other answer.
    pub fn from_login(response: &Resp) -> Option<Credential> {
        match response.status {
            200 => response.json()["access_token"]
                .as_str()
                .map(|token| Credential::Bearer(token.to_owned())),
            204 => response
                .headers_named("set-cookie")
                .iter()
                .find_map(|cookie| {
                    let pair = cookie.split(';').next()?.trim();
                    let (name, value) = pair.split_once('=')?;
                    (!value.is_empty()).then(|| Credential::Cookie {
                        name: name.to_owned(),
                        value: value.to_owned(),
                    })
                }),
            _ => None,
        }
    }

    /// The request header that carries it.
    pub fn header(&self) -> (String, String) {
        match self {
            Credential::Bearer(token) => ("Authorization".into(), format!("Bearer {token}")),
            Credential::Cookie { name, value } => ("Cookie".into(), format!("{name}={value}")),
        }
    }
}

/// A request to send: method, path, headers and body.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Req {
        Req {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Req {
        Req::new("GET", path)
    }

    /// A request with a JSON body.
    pub fn json(method: &str, path: &str, body: &Value) -> Req {
        let mut request = Req::new(method, path).header("Content-Type", "application/json");
        request.body = body.to_string().into_bytes();
        request
    }

    /// `POST /auth/{backend}/login` with the form of OAuth2's password flow.
    pub fn login(backend: &str, email: &str, password: &str) -> Req {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", email)
            .append_pair("password", password)
            .finish();
        let mut request = Req::new("POST", &format!("/auth/{backend}/login"))
            .header("Content-Type", "application/x-www-form-urlencoded");
        request.body = form.into_bytes();
        request
    }

    /// `POST /auth/{backend}/logout` with `credential`.
    pub fn logout(backend: &str, credential: &Credential) -> Req {
        Req::new("POST", &format!("/auth/{backend}/logout")).with(credential)
    }

    /// `GET /users/me` with `credential`.
    pub fn me(credential: &Credential) -> Req {
        Req::get("/users/me").with(credential)
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The request carrying `credential`.
    pub fn with(mut self, credential: &Credential) -> Req {
        self.headers.push(credential.header());
        self
    }
}

impl std::fmt::Display for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// An answer: status, headers (in order) and body (de-chunked).
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether `Content-Type` is `application/json`.
    pub fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json"))
    }

    /// The body as JSON; fails the test when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.describe()))
    }

    /// `status body`, for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.status, self.text())
    }

    /// Fails the test unless the answer is `status` with the body
    /// `{"detail": detail}`.
    #[track_caller]
    pub fn assert_detail(&self, status: u16, detail: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.json(), serde_json::json!({ "detail": detail }));
    }
}

/// Sends `request` over a new connection (`Connection: close`) and reads the
/// whole answer.
async fn http(addr: SocketAddr, request: &Req) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method,
        request.path,
        request.body.len()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&request.body).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::other(format!(
            "not an HTTP answer: {:?}",
            String::from_utf8_lossy(&raw)
        ))
    })
}

fn parse_response(raw: &[u8]) -> Option<Resp> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut status_line = lines.next()?.splitn(3, ' ');
    if !status_line.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = status_line.next()?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
