//! The example server as a process, launched as CONTRACT.md §1 says and walked
//! through §2–§6 over plain HTTP/1.1 (a tiny client over `TcpStream`).

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "admin-password-0";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// The process

/// `target/<profile>` of this test binary (`…/target/debug/deps/example_server-HASH`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The example binary, built first when this test runs under cargo (a plain
/// `cargo test --test example_server` does not build examples).
fn example_binary() -> PathBuf {
    let profile_dir = profile_dir();
    if let Ok(cargo) = std::env::var("CARGO") {
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
            .arg(profile_dir.parent().unwrap());
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
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The running server; killed on drop, even when the test panics.
struct Server {
    child: Child,
    addr: SocketAddr,
    db: PathBuf,
    log: PathBuf,
    secret: String,
    _dir: TempDir,
}

impl Server {
    async fn start() -> Server {
        let binary = example_binary();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("test.db");
        let log = dir.path().join("server.log");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let secret = axum_users::tokens::random_token(48).unwrap();
        assert_eq!(secret.len(), 64);
        let log_file = File::create(&log).unwrap();
        let child = Command::new(&binary)
            .env("BIND", addr.to_string())
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("SECRET", &secret)
            .env("ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .env_remove("SMTP_URL")
            .env_remove("REDIS_URL")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Server {
            child,
            addr,
            db,
            log,
            secret,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }

    /// Polls `GET /openapi.json` until any HTTP response comes.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
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

    /// SIGTERM, then waits (up to 10 s, as a conformance run does) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server ignored SIGTERM for 10 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
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

    async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        self.call("GET", path, &headers, b"").await
    }

    async fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = auth.as_deref() {
            headers.push(("Authorization", auth));
        }
        self.call(method, path, &headers, body.to_string().as_bytes())
            .await
    }

    async fn login(&self, backend: &str, email: &str, password: &str) -> Resp {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", email)
            .append_pair("password", password)
            .finish();
        self.call(
            "POST",
            &format!("/auth/{backend}/login"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .await
    }

    /// A bearer token through `/auth/jwt/login`.
    async fn bearer(&self, email: &str, password: &str) -> String {
        let response = self.login("jwt", email, password).await;
        assert_eq!(
            response.status,
            200,
            "login of {email}: {}",
            response.text()
        );
        response.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The claims of an access token, verified with the server's `SECRET`.
    fn claims(&self, token: &str) -> Value {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&["fastapi-users:auth"]);
        jsonwebtoken::decode::<Value>(
            token,
            &DecodingKey::from_secret(self.secret.as_bytes()),
            &validation,
        )
        .unwrap_or_else(|e| panic!("{token} is not an access token signed with SECRET: {e}"))
        .claims
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
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json"))
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
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
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

// ---------------------------------------------------------------------------
// Checks

fn assert_user_object(response: &Resp, status: u16) -> Value {
    assert_eq!(response.status, status, "{}", response.text());
    assert!(response.is_json(), "{:?}", response.header("content-type"));
    let body = response.json();
    let mut keys: Vec<_> = body
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["email", "id", "is_active", "is_superuser", "is_verified"],
        "{body}"
    );
    let id = body["id"].as_str().expect("id is a string");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    body
}

fn assert_detail(response: &Resp, status: u16, detail: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json(), json!({ "detail": detail }));
}

fn assert_empty_204(response: &Resp) {
    assert_eq!(response.status, 204, "{}", response.text());
    assert!(response.body.is_empty(), "{}", response.text());
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The auth cookie of a login response, with its attributes checked (§5).
fn auth_cookie(response: &Resp) -> String {
    let cookies = response.headers_named("set-cookie");
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("fastapiusersauth="))
        .unwrap_or_else(|| panic!("no fastapiusersauth cookie in {cookies:?}"));
    let mut parts = cookie.split(';').map(str::trim);
    let value = parts.next().unwrap()["fastapiusersauth=".len()..].to_owned();
    let attributes: Vec<String> = parts.map(str::to_ascii_lowercase).collect();
    for wanted in [
        "httponly",
        "secure",
        "max-age=3600",
        "path=/",
        "samesite=lax",
    ] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing in {cookie}"
        );
    }
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_server_walks_the_contract_from_register_to_delete_and_stops_on_sigterm() {
    let mut server = Server::start().await;
    assert!(server.db.exists(), "DATABASE_URL file created");

    // Register (§3, §6).
    let email = "walker@example.com";
    let password = "walker-password-1";
    let response = server
        .json(
            "POST",
            "/auth/register",
            None,
            &json!({"email": email, "password": password, "is_superuser": true}),
        )
        .await;
    let user = assert_user_object(&response, 201);
    assert_eq!(user["email"], email);
    assert_eq!(
        (
            &user["is_active"],
            &user["is_superuser"],
            &user["is_verified"]
        ),
        (&json!(true), &json!(false), &json!(false))
    );
    let user_id = user["id"].as_str().unwrap().to_owned();
    let response = server
        .json(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "WALKER@example.com", "password": password}),
        )
        .await;
    assert_detail(&response, 400, "REGISTER_USER_ALREADY_EXISTS");

    // Bearer login (§5, §6): exactly two keys, a JWT signed with SECRET.
    let response = server.login("jwt", email, password).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.is_json());
    let body = response.json();
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let claims = server.claims(&token);
    assert_eq!(claims["sub"], user_id.as_str());
    let exp = claims["exp"].as_u64().expect("exp");
    assert!(exp.abs_diff(now() + 3600) <= 60, "exp {exp}");
    let response = server.login("jwt", email, "wrong-password").await;
    assert_detail(&response, 400, "LOGIN_BAD_CREDENTIALS");

    // /users/me with the bearer token; 401 without one.
    let me = assert_user_object(&server.get("/users/me", Some(&token)).await, 200);
    assert_eq!(me["id"], user_id.as_str());
    assert_eq!(server.get("/users/me", None).await.status, 401);

    // Cookie login and /users/me with the cookie (§5).
    let response = server.login("cookie", email, password).await;
    assert_empty_204(&response);
    let cookie = auth_cookie(&response);
    assert_eq!(server.claims(&cookie)["sub"], user_id.as_str());
    let cookie_header = format!("fastapiusersauth={cookie}");
    let response = server
        .call("GET", "/users/me", &[("Cookie", &cookie_header)], b"")
        .await;
    assert_eq!(assert_user_object(&response, 200)["id"], user_id.as_str());
    // The cookie-issued token works as a bearer token too.
    assert_user_object(&server.get("/users/me", Some(&cookie)).await, 200);
    let response = server
        .call(
            "POST",
            "/auth/cookie/logout",
            &[("Cookie", &cookie_header)],
            b"",
        )
        .await;
    assert_empty_204(&response);
    let cleared = response
        .headers_named("set-cookie")
        .join("\n")
        .to_ascii_lowercase();
    assert!(
        cleared.contains("fastapiusersauth=") && cleared.contains("max-age=0"),
        "{cleared}"
    );

    // PATCH /users/me: a new password and a new address.
    let new_password = "walker-password-2";
    let new_email = "walker2@example.com";
    let response = server
        .json(
            "PATCH",
            "/users/me",
            Some(&token),
            &json!({"password": new_password, "email": new_email, "is_superuser": true}),
        )
        .await;
    let patched = assert_user_object(&response, 200);
    assert_eq!(patched["email"], new_email);
    assert_eq!(patched["is_superuser"], false, "privileged fields ignored");
    let response = server.login("jwt", new_email, password).await;
    assert_detail(&response, 400, "LOGIN_BAD_CREDENTIALS");
    let token = server.bearer(new_email, new_password).await;
    let response = server
        .json("PATCH", "/users/me", Some(&token), &json!({"email": null}))
        .await;
    assert_eq!(response.status, 422, "{}", response.text());

    // The admin from ADMIN_EMAIL / ADMIN_PASSWORD (§1).
    let admin_token = server.bearer(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let admin = assert_user_object(&server.get("/users/me", Some(&admin_token)).await, 200);
    assert_eq!(admin["email"], ADMIN_EMAIL);
    assert_eq!(
        (
            &admin["is_active"],
            &admin["is_superuser"],
            &admin["is_verified"]
        ),
        (&json!(true), &json!(true), &json!(true))
    );
    let admin_id = admin["id"].as_str().unwrap().to_owned();

    // /users/{id}: 401, 403, 404, 200 (§6).
    let user_path = format!("/users/{user_id}");
    assert_eq!(server.get(&user_path, None).await.status, 401);
    assert_eq!(server.get("/users/not-a-uuid", None).await.status, 401);
    let admin_path = format!("/users/{admin_id}");
    assert_eq!(server.get(&admin_path, Some(&token)).await.status, 403);
    assert_eq!(server.get(&user_path, Some(&token)).await.status, 403);
    for missing in [
        "/users/not-a-uuid",
        "/users/123",
        "/users/3f1c2b4a-1111-4222-8333-944445555666",
    ] {
        let response = server.get(missing, Some(&admin_token)).await;
        assert_eq!(response.status, 404, "{missing}: {}", response.text());
    }
    let got = assert_user_object(&server.get(&user_path, Some(&admin_token)).await, 200);
    assert_eq!(got["email"], new_email);

    // PATCH /users/{id}: deactivate, then reactivate.
    let response = server
        .json(
            "PATCH",
            &user_path,
            Some(&admin_token),
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(assert_user_object(&response, 200)["is_active"], false);
    assert_eq!(server.get("/users/me", Some(&token)).await.status, 401);
    let response = server.login("jwt", new_email, new_password).await;
    assert_detail(&response, 400, "LOGIN_BAD_CREDENTIALS");
    let response = server
        .json(
            "PATCH",
            &user_path,
            Some(&admin_token),
            &json!({"is_active": null}),
        )
        .await;
    assert_eq!(response.status, 422, "{}", response.text());
    let response = server
        .json(
            "PATCH",
            &user_path,
            Some(&admin_token),
            &json!({"is_active": true}),
        )
        .await;
    assert_eq!(assert_user_object(&response, 200)["is_active"], true);
    let token = server.bearer(new_email, new_password).await;
    let response = server
        .json(
            "PATCH",
            &user_path,
            Some(&admin_token),
            &json!({"email": "Admin@example.com"}),
        )
        .await;
    assert_detail(&response, 400, "UPDATE_USER_EMAIL_ALREADY_EXISTS");

    // DELETE /users/{id}.
    let response = server
        .call(
            "DELETE",
            &user_path,
            &[("Authorization", &format!("Bearer {admin_token}"))],
            b"",
        )
        .await;
    assert_empty_204(&response);
    assert_eq!(server.get(&user_path, Some(&admin_token)).await.status, 404);
    let response = server
        .call(
            "DELETE",
            &user_path,
            &[("Authorization", &format!("Bearer {admin_token}"))],
            b"",
        )
        .await;
    assert_eq!(response.status, 404);
    assert_eq!(server.get("/users/me", Some(&token)).await.status, 401);
    let response = server.login("jwt", new_email, new_password).await;
    assert_detail(&response, 400, "LOGIN_BAD_CREDENTIALS");
    let response = server
        .json(
            "POST",
            "/auth/register",
            None,
            &json!({"email": new_email, "password": new_password}),
        )
        .await;
    assert_user_object(&response, 201);

    // Routing (§2).
    assert_eq!(server.get("/nowhere", None).await.status, 404);
    let response = server
        .json("PUT", "/users/me", Some(&admin_token), &json!({}))
        .await;
    assert_eq!(response.status, 405, "{}", response.text());

    // Shutdown on SIGTERM, cleanly.
    let status = server.terminate();
    assert!(status.success(), "exit {status}:\n{}", server.log_text());
}
