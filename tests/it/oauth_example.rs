//! The example server's OAuth wiring (the OAuth contract (docs/oauth.md) §1–§2): the server
//! as a process with `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID`,
//! `OIDC_CLIENT_SECRET` and `OAUTH_REDIRECT_BASE` pointing at the loopback
//! OpenID Connect provider (`tests/it/common/oidc.rs`), driven over real HTTP
//! with reqwest: one login, one association; and without the `OIDC_*`
//! variables, no OAuth routes.
//!
//! Without node or `tests/oidc/node_modules` the provider tests print that
//! they were skipped and pass, unless `AXUM_USERS_REQUIRE_SERVICES=1`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::oidc::OidcProvider as Idp;
use crate::common::process::{ExampleServer, START_TIMEOUT, free_port};

const CLIENT_ID: &str = "axum-users-example";
const CLIENT_SECRET: &str = "example-client-secret-0123456789";
const CSRF_COOKIE: &str = "fastapiusersoauthcsrf";
const PASSWORD: &str = "correct-horse-battery";

/// The example server on `base` (`http://127.0.0.1:<port>`), bound there
/// itself: the callback URLs registered at the provider must name it before
/// it starts.
struct Server {
    process: ExampleServer,
    base: String,
    http: reqwest::Client,
}

/// The reply to a request: status, JSON body (`Null` when none), `Set-Cookie`s.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: Value,
    set_cookies: Vec<String>,
}

impl Server {
    /// Starts the example server on `port` with `env` (plus an in-memory
    /// store and a random `SECRET`), and waits until it answers.
    async fn start(port: u16, env: &[(&str, &str)]) -> Server {
        let bind = format!("127.0.0.1:{port}");
        let secret = axum_users::tokens::random_token(48).expect("random bytes");
        let mut settings = vec![
            ("BIND", bind.as_str()),
            ("DATABASE_URL", "memory://"),
            ("SECRET", secret.as_str()),
        ];
        settings.extend_from_slice(env);
        // `spawn` gives its own BIND first; ours, given later, wins.
        let process = ExampleServer::spawn("oauth", &settings);
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let server = Server {
            process,
            base: format!("http://{bind}"),
            http,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let probe = server
                .http
                .get(format!("{}/users/me", server.base))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if probe.is_ok() {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "the example server did not answer on {} within {START_TIMEOUT:?}:\n{}",
                server.base,
                server.process.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `url` (absolute, or a path on the server) with an optional bearer
    /// token and CSRF cookie.
    async fn get(&self, url: &str, token: Option<&str>, csrf: Option<&str>) -> Reply {
        let url = match url.starts_with("http") {
            true => url.to_owned(),
            false => format!("{}{url}", self.base),
        };
        let mut request = self.http.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(csrf) = csrf {
            request = request.header(reqwest::header::COOKIE, format!("{CSRF_COOKIE}={csrf}"));
        }
        reply(request.send().await, &url, &self.process).await
    }

    /// `POST /auth/register`, which must succeed: the user object.
    async fn register(&self, email: &str) -> Value {
        let url = format!("{}/auth/register", self.base);
        let request = self
            .http
            .post(&url)
            .json(&json!({"email": email, "password": PASSWORD}));
        let reply = reply(request.send().await, &url, &self.process).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body
    }

    /// A password login through `/auth/jwt/login`: the bearer token.
    async fn password_login(&self, email: &str) -> String {
        let url = format!("{}/auth/jwt/login", self.base);
        let request = self
            .http
            .post(&url)
            .form(&[("username", email), ("password", PASSWORD)]);
        let reply = reply(request.send().await, &url, &self.process).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// `GET <router>/authorize`, which must succeed: the authorization URL
    /// and the CSRF cookie's value.
    async fn authorize(&self, router: &str, token: Option<&str>) -> (String, String) {
        let reply = self.get(&format!("{router}/authorize"), token, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["authorization_url"], "{reply:?}");
        let url = reply.body["authorization_url"].as_str().unwrap().to_owned();
        let cookie = reply
            .set_cookies
            .iter()
            .find(|cookie| cookie.starts_with(&format!("{CSRF_COOKIE}=")))
            .unwrap_or_else(|| panic!("no CSRF cookie: {reply:?}"));
        let csrf = cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value.to_owned())
            .unwrap();
        (url, csrf)
    }

    /// `GET /users/me`, which must succeed: the user object.
    async fn me(&self, token: &str) -> Value {
        let reply = self.get("/users/me", Some(token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body
    }
}

async fn reply(
    response: reqwest::Result<reqwest::Response>,
    url: &str,
    server: &ExampleServer,
) -> Reply {
    let response = response.unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", server.log_text()));
    let status = response.status();
    let set_cookies = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let bytes = response.bytes().await.unwrap_or_default();
    Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        set_cookies,
    }
}

/// Exactly the user object's keys (the HTTP contract §3).
#[track_caller]
fn assert_user_object(user: &Value) {
    let mut keys: Vec<&String> = user.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["email", "id", "is_active", "is_superuser", "is_verified"],
        "{user}"
    );
}

#[track_caller]
fn assert_clears_csrf(reply: &Reply) {
    let cleared = reply.set_cookies.iter().any(|cookie| {
        let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
        attributes[0] == format!("{CSRF_COOKIE}=\"\"")
            && attributes.contains(&"Max-Age=0")
            && attributes.contains(&"Path=/")
    });
    assert!(cleared, "the CSRF cookie is cleared: {reply:?}");
}

#[tokio::test]
async fn the_example_server_logs_in_and_associates_with_the_oidc_provider() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let login_callback = format!("{base}/auth/oidc/callback");
    let associate_callback = format!("{base}/auth/associate/oidc/callback");
    let Some(idp) = Idp::start(
        CLIENT_ID,
        CLIENT_SECRET,
        &[login_callback.clone(), associate_callback.clone()],
    )
    .await
    else {
        return;
    };
    let server = Server::start(
        port,
        &[
            ("OIDC_ISSUER_URL", idp.issuer()),
            ("OIDC_CLIENT_ID", CLIENT_ID),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("OAUTH_REDIRECT_BASE", &base),
        ],
    )
    .await;

    // Login: authorize, the provider, the callback it redirects to.
    idp.set_account("tess", Some("tess@example.com"), true)
        .await;
    let (url, csrf) = server.authorize("/auth/oidc", None).await;
    let redirect_uri = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "redirect_uri")
        .map(|(_, value)| value.into_owned());
    assert_eq!(redirect_uri.as_deref(), Some(login_callback.as_str()));
    let callback = idp.authorize(&url, "tess").await;
    assert!(callback.url.starts_with(&login_callback), "{callback:?}");
    let reply = server.get(&callback.url, None, Some(&csrf)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["token_type"], "bearer", "{reply:?}");
    assert_eq!(reply.body.as_object().unwrap().len(), 2, "{reply:?}");
    assert_clears_csrf(&reply);
    let tess_token = reply.body["access_token"].as_str().unwrap().to_owned();
    let tess = server.me(&tess_token).await;
    assert_user_object(&tess);
    assert_eq!(tess["email"], "tess@example.com");
    assert_eq!(tess["is_verified"], false);
    assert_eq!(tess["is_active"], true);
    assert_eq!(tess["is_superuser"], false);

    // The associate routes want a token first.
    let reply = server
        .get("/auth/associate/oidc/authorize", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert!(reply.set_cookies.is_empty(), "{reply:?}");

    // Association of another provider account to a registered user.
    let ulla = server.register("ulla@example.com").await;
    let ulla_token = server.password_login("ulla@example.com").await;
    idp.set_account("ulla-idp", Some("ulla@elsewhere.example"), true)
        .await;
    let (url, csrf) = server
        .authorize("/auth/associate/oidc", Some(&ulla_token))
        .await;
    let callback = idp.authorize(&url, "ulla-idp").await;
    assert!(
        callback.url.starts_with(&associate_callback),
        "{callback:?}"
    );
    let reply = server
        .get(&callback.url, Some(&ulla_token), Some(&csrf))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_user_object(&reply.body);
    assert_eq!(reply.body, ulla, "the current user, e-mail kept");
    assert_clears_csrf(&reply);

    // Logging in with the associated account reaches her.
    let (url, csrf) = server.authorize("/auth/oidc", None).await;
    let callback = idp.authorize(&url, "ulla-idp").await;
    let reply = server.get(&callback.url, None, Some(&csrf)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let token = reply.body["access_token"].as_str().unwrap();
    assert_eq!(server.me(token).await, ulla);

    // Her account cannot be taken by tess.
    let (url, csrf) = server
        .authorize("/auth/associate/oidc", Some(&tess_token))
        .await;
    let callback = idp.authorize(&url, "ulla-idp").await;
    let reply = server
        .get(&callback.url, Some(&tess_token), Some(&csrf))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(
        reply.body["detail"], "OAUTH_ACCOUNT_ALREADY_LINKED",
        "{reply:?}"
    );
}

#[tokio::test]
async fn without_the_oidc_variables_the_example_has_no_oauth_routes() {
    let port = free_port();
    // Empty values count as unset (and hide any inherited from the caller).
    let server = Server::start(
        port,
        &[
            ("OIDC_ISSUER_URL", ""),
            ("OIDC_CLIENT_ID", ""),
            ("OIDC_CLIENT_SECRET", ""),
            ("OAUTH_REDIRECT_BASE", ""),
        ],
    )
    .await;
    for path in [
        "/auth/oidc/authorize",
        "/auth/oidc/callback",
        "/auth/associate/oidc/authorize",
        "/auth/associate/oidc/callback",
    ] {
        let reply = server.get(path, None, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {reply:?}");
        assert!(reply.set_cookies.is_empty(), "{path}: {reply:?}");
    }
    // Everything else works.
    server.register("vera@example.com").await;
    let token = server.password_login("vera@example.com").await;
    assert_eq!(server.me(&token).await["email"], "vera@example.com");
}
