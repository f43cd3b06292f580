//! The example server's mail, end to end: the server runs as a process, launched
//! as CONTRACT.md §1 says with `SMTP_URL` pointing at an in-process SMTP sink
//! (`tests/smtp`), and the reset and verify flows (§6–§9) are followed from the
//! mail's `token: …` line (§7), as a client does.

mod smtp;

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smtp::{ReceivedMail, SmtpSink};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "admin-password-0";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "first-password-1";
const NEW_PASSWORD: &str = "second-password-2";

// ---------------------------------------------------------------------------
// The process (as in tests/example_server.rs)

/// `target/<profile>` of this test binary (`…/target/debug/deps/example_mail-HASH`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The example binary, built once per test process when it runs under cargo (a
/// plain `cargo test --test example_mail` does not build examples).
fn example_binary() -> &'static Path {
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
                    "--features",
                    "sqlite",
                ])
                .arg("--manifest-path")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .arg("--target-dir")
                .arg(target_dir);
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The running server; killed on drop, even when the test panics.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: TempDir,
}

impl Server {
    /// The example server with CONTRACT.md §1's environment, plus `env`
    /// (`SMTP_URL`, `FRONTEND_URL`, `MAIL_FROM` are removed unless given there).
    async fn start(env: &[(&str, &str)]) -> Server {
        let binary = example_binary();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("test.db");
        let log = dir.path().join("server.log");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let secret = axum_users::tokens::random_token(48).expect("random bytes");
        let log_file = File::create(&log).expect("the log file");
        let mut command = Command::new(binary);
        command
            .env("BIND", addr.to_string())
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("SECRET", &secret)
            .env("ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .env_remove("SMTP_URL")
            .env_remove("FRONTEND_URL")
            .env_remove("MAIL_FROM")
            .env_remove("REDIS_URL");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("the log file again"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Server {
            child,
            addr,
            log,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }

    /// Polls `GET /openapi.json` until any HTTP response comes.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited early ({status}):\n{}", self.log_text());
            }
            if let Ok(Ok(_)) = tokio::time::timeout(
                Duration::from_secs(5),
                http(self.addr, "GET", "/openapi.json", &[], b""),
            )
            .await
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not answer within {START_TIMEOUT:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to 10 s for the log (stdout and stderr) to satisfy `found`.
    async fn wait_log<T>(&self, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + smtp::MAIL_TIMEOUT;
        loop {
            if let Some(value) = found(&self.log_text()) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{what} not in the log within {:?}:\n{}",
                smtp::MAIL_TIMEOUT,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        match tokio::time::timeout(
            REQUEST_TIMEOUT,
            http(self.addr, method, path, headers, body),
        )
        .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => panic!("{method} {path}: {e}\n{}", self.log_text()),
            Err(_) => panic!("{method} {path}: no answer in {REQUEST_TIMEOUT:?}"),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }

    /// Registers `email` with [`PASSWORD`]; the address as stored.
    async fn register(&self, email: &str) -> String {
        let response = self
            .post(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            response.status,
            201,
            "register {email}: {}",
            response.text()
        );
        response.json()["email"]
            .as_str()
            .expect("the user's email")
            .to_owned()
    }

    /// `POST path {"email": email}` and checks the 202 (CONTRACT.md §6).
    async fn ask_for_mail(&self, path: &str, email: &str) {
        let response = self.post(path, &json!({ "email": email })).await;
        assert_eq!(response.status, 202, "{path} {email}: {}", response.text());
    }

    async fn login_status(&self, email: &str, password: &str) -> Resp {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", email)
            .append_pair("password", password)
            .finish();
        self.call(
            "POST",
            "/auth/jwt/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// A tiny HTTP/1.1 client: one request per connection (`Connection: close`).

struct Resp {
    status: u16,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw).ok_or_else(|| std::io::Error::other(format!("bad response: {:?}", raw)))
}

fn parse_response(raw: &[u8]) -> Option<Resp> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status_line = head.split("\r\n").next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let chunked = head.split("\r\n").skip(1).any(|line| {
        line.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Resp { status, body })
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

// ---------------------------------------------------------------------------
// Checks

/// A mail as CONTRACT.md §7 wants it: one recipient, the stored address, a
/// `text/plain` body with a `token: …` line. Returns the token.
fn assert_token_mail(mail: &ReceivedMail, stored: &str) -> String {
    assert_eq!(mail.recipients, [stored], "envelope recipients");
    let content_type = mail.header("content-type").unwrap_or_default();
    assert!(
        content_type.to_ascii_lowercase().starts_with("text/plain"),
        "Content-Type {content_type:?}"
    );
    mail.token()
        .unwrap_or_else(|| panic!("no `token: …` line in:\n{}", mail.text_body()))
}

fn assert_detail(response: &Resp, status: u16, detail: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json(), json!({ "detail": detail }));
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_mails_one_token_to_the_stored_address_that_resets_the_password() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    let stored = server.register("Reset.Walker@example.com").await;
    assert_eq!(stored, "Reset.Walker@example.com");

    // Asked in another case: the mail goes to the stored address (§4, §7).
    server
        .ask_for_mail("/auth/forgot-password", "RESET.WALKER@EXAMPLE.COM")
        .await;
    let mail = sink.expect_mail("forgot-password").await;
    let token = assert_token_mail(&mail, &stored);
    assert_eq!(mail.from, "noreply@axum-users.invalid", "default sender");
    let raw = String::from_utf8_lossy(&mail.data);
    assert!(
        raw.contains(&format!("\r\ntoken: {token}\r\n")),
        "the token line is not intact on the wire:\n{raw}"
    );
    assert!(!mail.smtputf8, "SMTPUTF8 asked for an ASCII envelope");
    assert!(
        !mail.text_body().contains("?token="),
        "a link without FRONTEND_URL:\n{}",
        mail.text_body()
    );
    sink.assert_no_mail("after the one reset mail").await;

    // The token resets the password; the new one logs in, the old one no more.
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let response = server.login_status(&stored, NEW_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.json()["access_token"].is_string());
    let response = server.login_status(&stored, PASSWORD).await;
    assert_detail(&response, 400, "LOGIN_BAD_CREDENTIALS");
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": token, "password": "third-password-3"}),
        )
        .await;
    assert_detail(&response, 400, "RESET_PASSWORD_BAD_TOKEN");

    // An unknown address: the same 202, and no mail.
    server
        .ask_for_mail("/auth/forgot-password", "nobody-here@example.com")
        .await;
    sink.assert_no_mail("forgot-password for an unknown address")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_verify_token_mails_a_token_that_verifies_and_links_to_frontend_url() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[
        ("SMTP_URL", &sink.url()),
        ("FRONTEND_URL", "http://localhost:3000/app/"),
        ("MAIL_FROM", "Example App <app@example.com>"),
    ])
    .await;
    let stored = server.register("verify.me@example.com").await;

    server
        .ask_for_mail("/auth/request-verify-token", &stored)
        .await;
    let mail = sink.expect_mail("request-verify-token").await;
    let token = assert_token_mail(&mail, &stored);
    assert_eq!(mail.from, "app@example.com", "MAIL_FROM is the sender");
    let link = format!("http://localhost:3000/app/verify?token={token}");
    assert!(
        mail.text_body().lines().any(|line| line.trim() == link),
        "no line {link:?} in:\n{}",
        mail.text_body()
    );
    sink.assert_no_mail("after the one verify mail").await;

    let response = server
        .post("/auth/verify", &json!({ "token": token }))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let user = response.json();
    assert_eq!(user["email"], stored.as_str());
    assert_eq!(user["is_verified"], true, "{user}");

    // Verified now, or unknown: 202 and no mail.
    server
        .ask_for_mail("/auth/request-verify-token", &stored)
        .await;
    sink.assert_no_mail("request-verify-token for a verified user")
        .await;
    server
        .ask_for_mail("/auth/request-verify-token", "nobody-here@example.com")
        .await;
    sink.assert_no_mail("request-verify-token for an unknown address")
        .await;

    // The reset mail links to the frontend's reset page.
    server.ask_for_mail("/auth/forgot-password", &stored).await;
    let mail = sink.expect_mail("forgot-password").await;
    let token = assert_token_mail(&mail, &stored);
    let link = format!("http://localhost:3000/app/reset-password?token={token}");
    assert!(
        mail.text_body().lines().any(|line| line.trim() == link),
        "no line {link:?} in:\n{}",
        mail.text_body()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_addresses_get_their_mail_through_smtputf8() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    for email in [
        "jürgen-mail@example.com",
        "δοκιμή-mail@παράδειγμα.δοκιμή",
        "ascii-local@bücher.example.com",
    ] {
        let stored = server.register(email).await;
        assert_eq!(stored, email, "stored as given (NFC, lowercase)");

        server
            .ask_for_mail("/auth/request-verify-token", email)
            .await;
        let mail = sink.expect_mail(email).await;
        let token = assert_token_mail(&mail, &stored);
        assert!(mail.smtputf8, "{email}: MAIL FROM without SMTPUTF8");
        let to = mail.header("to").unwrap_or_default();
        assert!(to.contains(email), "{email}: To: {to:?}");
        let response = server
            .post("/auth/verify", &json!({ "token": token }))
            .await;
        assert_eq!(response.status, 200, "{email}: {}", response.text());
        assert_eq!(response.json()["is_verified"], true);

        server.ask_for_mail("/auth/forgot-password", email).await;
        let mail = sink.expect_mail(email).await;
        assert_token_mail(&mail, &stored);
        assert!(mail.smtputf8, "{email}: MAIL FROM without SMTPUTF8");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_url_the_development_mailer_prints_the_token_after_a_startup_warning() {
    let server = Server::start(&[]).await;
    let log = server.log_text();
    assert!(
        log.contains("SMTP_URL is not set") && log.contains("TOKENS INCLUDED"),
        "no startup warning about printed tokens:\n{log}"
    );
    let stored = server.register("console.mail@example.com").await;

    server.ask_for_mail("/auth/forgot-password", &stored).await;
    let token = server
        .wait_log("the printed mail's token line", |log| {
            // Only a mail printed to its end: the file may be read mid-write.
            let (mail, _) = log.split_once("----- end of mail -----")?;
            mail.lines()
                .find_map(|line| line.strip_prefix("token: "))
                .map(|token| token.trim().to_owned())
        })
        .await;
    let log = server.log_text();
    assert!(
        log.contains(&format!("To: {stored}")),
        "the printed mail has no To: {stored}:\n{log}"
    );
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let response = server.login_status(&stored, NEW_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_refuses_connections_is_logged_and_the_client_still_gets_202() {
    let closed = format!("smtp://127.0.0.1:{}", free_port());
    let server = Server::start(&[("SMTP_URL", &closed)]).await;
    let stored = server.register("unlucky@example.com").await;

    server.ask_for_mail("/auth/forgot-password", &stored).await;
    server
        .wait_log("the failed hook", |log| {
            log.lines()
                .find(|line| {
                    line.contains("user hook failed") && line.contains("on_after_forgot_password")
                })
                .map(str::to_owned)
        })
        .await;
    server
        .ask_for_mail("/auth/request-verify-token", &stored)
        .await;
    server
        .wait_log("the failed hook", |log| {
            log.lines()
                .find(|line| {
                    line.contains("user hook failed") && line.contains("on_after_request_verify")
                })
                .map(str::to_owned)
        })
        .await;
    // The server keeps serving.
    let response = server.login_status(&stored, PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
}
