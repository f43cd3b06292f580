//! A real OpenID Connect provider on loopback for the OAuth tests:
//! `tests/oidc/provider.mjs` (oidc-provider 8 under node) as a child process,
//! its test-control endpoints, and a browser that goes through its
//! authorization endpoint.
//!
//! Without `node` on PATH or without `tests/oidc/node_modules` (installed by
//! `npm ci --prefix tests/oidc`), [`OidcProvider::start`] prints that the test
//! was skipped and returns `None`; with `AXUM_USERS_REQUIRE_SERVICES=1` it
//! fails the test instead.
//!
//! ```ignore
//! let Some(idp) = OidcProvider::start("app", "secret", &[redirect_uri.clone()]).await else { return };
//! idp.set_account("alice", Some("alice@example.com"), true).await;
//! let callback = idp.authorize(&authorization_url, "alice").await;
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::services::{REQUIRE_SERVICES, services_required};

/// How long the provider may take to print its issuer.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a request to the provider may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How many redirects [`OidcProvider::authorize`] follows.
pub const MAX_HOPS: usize = 10;

/// The provider's directory (`tests/oidc`).
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oidc")
}

/// Whether `name` is an executable file in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let file = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        file.is_file()
    })
}

/// Why the provider cannot run on this machine, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if !on_path("node") {
        return Some("node is not on PATH".to_owned());
    }
    let package = provider_dir().join("node_modules").join("oidc-provider");
    if !package.join("package.json").is_file() {
        return Some(format!("{} is missing", package.display()));
    }
    None
}

/// The counters of `GET /__test/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Stats {
    /// Requests that reached the token endpoint (whatever their outcome).
    pub token_requests: u64,
    /// Requests that reached the userinfo endpoint (whatever their outcome).
    pub userinfo_requests: u64,
}

/// Where the provider sent the browser back to the client: a redirect URI
/// with the authorization response in its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl {
    /// The whole URL, as the provider's `Location` gave it.
    pub url: String,
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207's `iss` parameter.
    pub iss: Option<String>,
    pub error: Option<String>,
}

impl CallbackUrl {
    fn parse(url: &Url) -> CallbackUrl {
        let param = |name: &str| {
            url.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        CallbackUrl {
            url: url.to_string(),
            code: param("code"),
            state: param("state"),
            iss: param("iss"),
            error: param("error"),
        }
    }

    /// The URL's path and query (`/auth/callback?code=…`), to send to a router.
    pub fn path_and_query(&self) -> String {
        let url = Url::parse(&self.url).expect("the callback URL parses");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }
}

/// A running `tests/oidc/provider.mjs` with one confidential client; killed
/// on drop (what it printed is shown when the test panics).
pub struct OidcProvider {
    child: Child,
    issuer: String,
    discovery: Value,
    redirect_uris: Vec<String>,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    log: Arc<Mutex<String>>,
}

impl OidcProvider {
    /// Starts the provider with the client `client_id` / `client_secret`
    /// (`client_secret_basic`) and its `redirect_uris`, and reads its
    /// discovery document. `None` (after printing `SKIPPED: …`) when node or
    /// the npm packages are missing, unless services are required; a provider
    /// that fails to start always fails the test, with what it printed.
    pub async fn start(
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[String],
    ) -> Option<OidcProvider> {
        if let Some(reason) = missing_prerequisite() {
            if services_required() {
                panic!(
                    "the OpenID Connect provider is required ({REQUIRE_SERVICES} is set) \
                     but cannot run: {reason}; run npm ci --prefix tests/oidc"
                );
            }
            eprintln!(
                "SKIPPED: the OpenID Connect tests need node and tests/oidc/node_modules \
                 ({reason}; run npm ci --prefix tests/oidc)"
            );
            return None;
        }

        let script = provider_dir().join("provider.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("OIDC_CLIENT_ID", client_id)
            .env("OIDC_CLIENT_SECRET", client_secret)
            .env("OIDC_REDIRECT_URIS", redirect_uris.join(" "))
            .env("OIDC_EXIT_ON_STDIN_EOF", "1")
            .env_remove("NODE_ENV")
            .env_remove("NODE_OPTIONS")
            .current_dir(provider_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {}: {e}", script.display()));

        let log = Arc::new(Mutex::new(String::new()));
        let stderr = tokio::spawn(collect(
            child.stderr.take().expect("piped stderr"),
            Arc::clone(&log),
        ));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();

        let issuer = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = stdout.next_line().await.ok().flatten() {
                if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&line)
                    && let Some(Value::String(issuer)) = object.get("issuer")
                {
                    return Some(issuer.clone());
                }
                append(&log, &line);
            }
            None
        })
        .await;
        let issuer = match issuer {
            Ok(Some(issuer)) => issuer,
            failure => {
                let what = match failure {
                    Err(_) => format!("printed no issuer within {START_TIMEOUT:?}"),
                    _ => "exited without printing its issuer".to_owned(),
                };
                let _ = child.start_kill();
                let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await
                {
                    Ok(Ok(status)) => status.to_string(),
                    Ok(Err(e)) => format!("no exit status: {e}"),
                    Err(_) => "still running after SIGKILL".to_owned(),
                };
                // What it printed to stderr, up to the end.
                let _ = tokio::time::timeout(Duration::from_secs(2), stderr).await;
                panic!(
                    "the OpenID Connect provider (node {}) {what} ({status}):\n{}",
                    script.display(),
                    log.lock().unwrap()
                );
            }
        };
        // Keep reading stdout so that the child never blocks on a full pipe.
        tokio::spawn(collect(stdout.into_inner(), Arc::clone(&log)));

        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client");
        let mut provider = OidcProvider {
            child,
            issuer,
            discovery: Value::Null,
            redirect_uris: redirect_uris.to_vec(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            http,
            log,
        };
        let url = format!("{}/.well-known/openid-configuration", provider.issuer);
        let (status, discovery) = provider.get_json(&url, None).await;
        assert_eq!(status, 200, "GET {url}: {discovery}");
        provider.discovery = discovery;
        Some(provider)
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The discovery document (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> &Value {
        &self.discovery
    }

    /// An endpoint of the discovery document, such as `"token_endpoint"`.
    pub fn endpoint(&self, name: &str) -> &str {
        self.discovery[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in the discovery document: {}", self.discovery))
    }

    /// What the provider printed so far (stderr, and stdout after the issuer).
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sets the claims of the account `sub`: `email: None` leaves the `email`
    /// claim out. Accounts never set are `<sub>@example.com`, verified.
    pub async fn set_account(&self, sub: &str, email: Option<&str>, email_verified: bool) {
        let body = json!({ "sub": sub, "email": email, "email_verified": email_verified });
        self.control("/__test/accounts", &body).await;
    }

    /// The requests that reached the token and userinfo endpoints so far.
    pub async fn stats(&self) -> Stats {
        let url = format!("{}/__test/stats", self.issuer);
        let (status, body) = self.get_json(&url, None).await;
        assert_eq!(status, 200, "GET {url}: {body}");
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("stats {body}: {e}"))
    }

    /// Sets the counters of [`OidcProvider::stats`] to zero.
    pub async fn reset_stats(&self) {
        self.control("/__test/reset-stats", &json!({})).await;
    }

    /// While set, the token / userinfo endpoint answers 503 (still counted).
    pub async fn fail(&self, token: bool, userinfo: bool) {
        self.control(
            "/__test/fail",
            &json!({ "token": token, "userinfo": userinfo }),
        )
        .await;
    }

    /// Goes through the provider as the user's browser would (a new cookie
    /// jar each time): `authorization_url` (the provider's authorization
    /// endpoint with the client's parameters) plus `login_hint`, the account
    /// to sign in (`"deny"` to refuse), then its redirects until one goes to a
    /// redirect URI of the client, which is returned, not requested.
    pub async fn authorize(&self, authorization_url: &str, login_hint: &str) -> CallbackUrl {
        let mut url = Url::parse(authorization_url)
            .unwrap_or_else(|e| panic!("authorization URL {authorization_url:?}: {e}"));
        url.query_pairs_mut().append_pair("login_hint", login_hint);
        let browser = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client");
        let mut chain = vec![url.to_string()];
        for _ in 0..MAX_HOPS {
            let response = browser
                .get(url.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}\nchain: {chain:#?}"));
            let status = response.status();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|value| value.to_str().unwrap_or("").to_owned());
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                let body = response.text().await.unwrap_or_default();
                panic!(
                    "GET {url} answered {status}, not a redirect: {body}\nchain: {chain:#?}\n{}",
                    self.log_text()
                );
            };
            url = url
                .join(&location)
                .unwrap_or_else(|e| panic!("Location {location:?} from {url}: {e}"));
            chain.push(url.to_string());
            if self
                .redirect_uris
                .iter()
                .any(|uri| url.as_str().starts_with(uri.as_str()) || location.starts_with(uri))
            {
                return CallbackUrl::parse(&url);
            }
        }
        panic!(
            "no redirect to the client's redirect URIs {:?} within {MAX_HOPS} hops; chain: {chain:#?}",
            self.redirect_uris
        );
    }

    /// A token request (`authorization_code`, `client_secret_basic`) as is:
    /// its status and JSON body (`Value::Null` when not JSON).
    pub async fn exchange_raw(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> (u16, Value) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ];
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let url = self.endpoint("token_endpoint");
        let response = self
            .http
            .post(url)
            .basic_auth(encode(&self.client_id), Some(encode(&self.client_secret)))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        status_and_json(response).await
    }

    /// `GET` of the userinfo endpoint with `access_token` as a bearer token:
    /// its status and JSON body (`Value::Null` when not JSON).
    pub async fn userinfo_raw(&self, access_token: &str) -> (u16, Value) {
        self.get_json(self.endpoint("userinfo_endpoint"), Some(access_token))
            .await
    }

    async fn get_json(&self, url: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log_text()));
        status_and_json(response).await
    }

    async fn control(&self, path: &str, body: &Value) {
        let url = format!("{}{path}", self.issuer);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}\n{}", self.log_text()));
        let (status, answer) = status_and_json(response).await;
        assert_eq!(status, 200, "POST {url} {body}: {answer}");
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!(
                "----- log of the OpenID Connect provider {} -----\n{}----- end of log -----",
                self.issuer,
                self.log_text()
            );
        }
    }
}

async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn append(log: &Mutex<String>, line: &str) {
    let mut log = log.lock().unwrap();
    log.push_str(line);
    log.push('\n');
}

/// Appends the lines of `stream` to `log` until it ends.
async fn collect(stream: impl AsyncRead + Unpin, log: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        append(&log, &line);
    }
}
