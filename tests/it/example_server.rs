//! The example server as a process, launched as the HTTP contract §1 says and walked
//! through §2–§6 over plain HTTP/1.1 (the client of `tests/it/common/process.rs`).

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::common;
use crate::common::process::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Credential, ExampleServer, Req, Resp, SQLITE_DB,
};

// ---------------------------------------------------------------------------
// The process

/// The running server (`tests/it/common/process.rs`) with its database file and
/// `SECRET`; killed on drop, even when the test panics.
struct Server {
    process: ExampleServer,
    db: PathBuf,
    secret: String,
}

impl Deref for Server {
    type Target = ExampleServer;

    fn deref(&self) -> &ExampleServer {
        &self.process
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut ExampleServer {
        &mut self.process
    }
}

impl Server {
    async fn start() -> Server {
        let process = ExampleServer::start_sqlite("example", &[]).await;
        let secret = process.setting("SECRET").expect("a SECRET").to_owned();
        assert_eq!(secret.len(), 64);
        let db = process.dir().join(SQLITE_DB);
        Server {
            process,
            db,
            secret,
        }
    }

    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut request = Req::new(method, path);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.body = body.to_vec();
        self.process.call(&request).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.process.call(&bearer(Req::get(path), token)).await
    }

    async fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
        let request = bearer(Req::json(method, path, body), token);
        self.process.call(&request).await
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

/// `request` with `Authorization: Bearer {token}` when there is a token.
fn bearer(request: Req, token: Option<&str>) -> Req {
    match token {
        Some(token) => request.with(&Credential::Bearer(token.to_owned())),
        None => request,
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

fn assert_empty_204(response: &Resp) {
    assert_eq!(response.status, 204, "{}", response.text());
    assert!(response.body.is_empty(), "{}", response.text());
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
    response.assert_detail(400, "REGISTER_USER_ALREADY_EXISTS");

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
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(exp.abs_diff(common::unix_now() + 3600) <= 60, "exp {exp}");
    let response = server.login("jwt", email, "wrong-password").await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");

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
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
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
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
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
    response.assert_detail(400, "UPDATE_USER_EMAIL_ALREADY_EXISTS");

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
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
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

// ---------------------------------------------------------------------------
// SECRET: refused when short (unless opted in), random when unset.

/// The public constant earlier versions signed with when `SECRET` was unset.
const OLD_DEVELOPMENT_SECRET: &str = "axum-users-development-secret-do-not-use-in-production";

#[tokio::test]
async fn the_example_server_exits_at_start_when_secret_is_shorter_than_32_bytes() {
    let secret = "x".repeat(31);
    let mut server = ExampleServer::spawn(
        "short-secret",
        &[("DATABASE_URL", "memory://"), ("SECRET", &secret)],
    );
    let status = server.wait_exit(std::time::Duration::from_secs(30)).await;
    assert!(!status.success(), "exit status {status}");
    let log = server.log_text();
    assert!(log.contains("at least 32"), "{log}");
    assert!(
        log.contains("ALLOW_SHORT_SECRET"),
        "the opt-in is named: {log}"
    );
    assert!(!log.contains(&secret), "the secret is not logged: {log}");
}

#[tokio::test]
async fn allow_short_secret_lets_a_migrated_short_secret_sign_and_verify() {
    let secret = "fastapi-users-secret";
    let server = ExampleServer::start(
        "allowed-short-secret",
        &[
            ("DATABASE_URL", "memory://"),
            ("SECRET", secret),
            ("ALLOW_SHORT_SECRET", "1"),
        ],
    )
    .await;
    assert!(server.log_text().contains("shorter than 32 bytes"));
    let registered = server
        .register("short@example.com", "a good password")
        .await;
    assert_eq!(registered.status, 201, "{}", registered.describe());
    let id = registered.json()["id"].as_str().unwrap().to_owned();
    // A token FastAPI Users minted with the old secret is accepted…
    let now = common::unix_now();
    let minted = common::sign_hs256(
        &json!({"sub": id, "aud": ["fastapi-users:auth"], "exp": now + 600}),
        secret,
    );
    let me = server
        .call(&Req::get("/users/me").header("authorization", &format!("Bearer {minted}")))
        .await;
    assert_eq!(me.status, 200, "{}", me.describe());
    // …and ours verify with it.
    let login = server
        .login("jwt", "short@example.com", "a good password")
        .await;
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["fastapi-users:auth"]);
    jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("signed with the short secret");
}

#[tokio::test]
async fn without_secret_the_example_server_signs_with_a_random_secret_and_says_so() {
    let server = ExampleServer::start("no-secret", &[("DATABASE_URL", "memory://")]).await;
    let log = server.log_text();
    assert!(log.contains("SECRET is not set"), "{log}");
    assert!(
        log.contains("restart"),
        "says that tokens die at restart: {log}"
    );
    let registered = server
        .register("nosecret@example.com", "a good password")
        .await;
    let id = registered.json()["id"].as_str().unwrap().to_owned();
    // Nobody can mint a token with a known secret: the old public constant
    // (or any other) is refused.
    let now = common::unix_now();
    let forged = common::sign_hs256(
        &json!({"sub": id, "aud": ["fastapi-users:auth"], "exp": now + 600}),
        OLD_DEVELOPMENT_SECRET,
    );
    let me = server
        .call(&Req::get("/users/me").header("authorization", &format!("Bearer {forged}")))
        .await;
    assert_eq!(me.status, 401, "{}", me.describe());
    // The server's own tokens work.
    let credential = server
        .sign_in("jwt", "nosecret@example.com", "a good password")
        .await;
    assert_eq!(server.me(&credential).await.status, 200);
}
