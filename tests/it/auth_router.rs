//! The auth router (`/auth/jwt/*`, `/auth/cookie/*`): login and logout over the
//! bearer and cookie transports, the login form's validation, the
//! `requires_verification` option and the body limit.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::common::*;

/// The decoded header and payload of a JWT (signature not checked).
fn jwt_parts(token: &str) -> (Value, Value) {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "a JWT has three segments: {token}");
    let decode = |s: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("base64url")).expect("JSON")
    };
    (decode(segments[0]), decode(segments[1]))
}

fn form_request(uri: &str, body: &str) -> Request<Body> {
    raw_request(
        "POST",
        uri,
        None,
        Some("application/x-www-form-urlencoded"),
        body.to_owned(),
    )
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

fn with_cookie(method: &str, uri: &str, cookie: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

async fn body_bytes(response: Response) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The cookie's `name=value` and its attributes (`Name` or `Name=value`), trimmed.
fn parse_set_cookie(header: &str) -> (String, String, Vec<String>) {
    let mut parts = header.split(';').map(str::trim);
    let (name, value) = parts.next().unwrap().split_once('=').expect("name=value");
    (
        name.to_owned(),
        value.to_owned(),
        parts.map(str::to_owned).collect(),
    )
}

fn has_attribute(attributes: &[String], expected: &str) -> bool {
    attributes.iter().any(|a| a.eq_ignore_ascii_case(expected))
}

// ---- bearer login --------------------------------------------------------

#[tokio::test]
async fn bearer_login_answers_exactly_access_token_and_token_type() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let response = app
        .send(login_request("/auth/jwt/login", "a@example.com", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .expect("a Content-Type")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type: {content_type}"
    );
    let body: Value = serde_json::from_slice(&body_bytes(response).await).unwrap();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "token_type"], "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn bearer_login_token_has_fastapi_users_claims() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let (header, claims) = jwt_parts(&token);
    assert_eq!(header["alg"], "HS256", "{header}");
    assert_eq!(claims["sub"], user.id.to_string(), "{claims}");
    assert_eq!(claims["aud"], json!(["fastapi-users:auth"]), "{claims}");
    let exp = claims["exp"].as_i64().expect("a numeric exp");
    let expected = unix_now() + 3600;
    assert!(
        (exp - expected).abs() <= 60,
        "exp {exp} should be about now + 3600 = {expected}"
    );
}

#[tokio::test]
async fn bearer_login_token_authenticates_users_me() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    assert_eq!(body["email"], "a@example.com");
}

async fn assert_bad_credentials(
    app: &TestApp<axum_users::store::MemoryStore<axum_users::User>>,
    uri: &str,
    username: &str,
    password: &str,
) {
    let (status, body) = app.call(login_request(uri, username, password)).await;
    assert_eq!(
        (status, &body),
        (
            StatusCode::BAD_REQUEST,
            &json!({"detail": "LOGIN_BAD_CREDENTIALS"})
        ),
        "login {username:?} / {password:?} on {uri}"
    );
}

#[tokio::test]
async fn login_with_unknown_email_is_bad_credentials() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    assert_bad_credentials(&app, "/auth/jwt/login", "nobody@example.com", PASSWORD).await;
}

#[tokio::test]
async fn login_with_wrong_password_is_bad_credentials() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    assert_bad_credentials(
        &app,
        "/auth/jwt/login",
        "a@example.com",
        "wrong-password-123",
    )
    .await;
}

#[tokio::test]
async fn login_with_wrong_case_password_is_bad_credentials() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let upper = PASSWORD.to_uppercase();
    assert_ne!(upper, PASSWORD);
    assert_bad_credentials(&app, "/auth/jwt/login", "a@example.com", &upper).await;
}

#[tokio::test]
async fn login_of_inactive_user_is_bad_credentials() {
    let app = app();
    app.create_user("a@example.com", false, true, false).await;
    assert_bad_credentials(&app, "/auth/jwt/login", "a@example.com", PASSWORD).await;
    assert_bad_credentials(&app, "/auth/cookie/login", "a@example.com", PASSWORD).await;
}

#[tokio::test]
async fn login_email_is_ascii_case_insensitive() {
    let app = app();
    let user = app
        .create_user("Alice.Smith@example.com", true, false, false)
        .await;
    for username in [
        "alice.smith@example.com",
        "ALICE.SMITH@EXAMPLE.COM",
        "Alice.Smith@Example.Com",
    ] {
        let (status, body) = app
            .call(login_request("/auth/jwt/login", username, PASSWORD))
            .await;
        assert_eq!(status, StatusCode::OK, "login as {username}: {body}");
        let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
        assert_eq!(claims["sub"], user.id.to_string(), "login as {username}");
    }
}

// ---- login form validation ------------------------------------------------

async fn assert_422(
    app: &TestApp<axum_users::store::MemoryStore<axum_users::User>>,
    request: Request<Body>,
    what: &str,
) {
    let (status, body) = app.call(request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
}

#[tokio::test]
async fn login_without_username_is_422() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    for uri in ["/auth/jwt/login", "/auth/cookie/login"] {
        let body = form(&[("password", PASSWORD)]);
        assert_422(&app, form_request(uri, &body), "missing username").await;
    }
}

#[tokio::test]
async fn login_without_password_is_422() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    for uri in ["/auth/jwt/login", "/auth/cookie/login"] {
        let body = form(&[("username", "a@example.com")]);
        assert_422(&app, form_request(uri, &body), "missing password").await;
    }
}

#[tokio::test]
async fn login_with_empty_values_is_422() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    for (what, body) in [
        (
            "empty username",
            form(&[("username", ""), ("password", PASSWORD)]),
        ),
        (
            "empty password",
            form(&[("username", "a@example.com"), ("password", "")]),
        ),
        ("both empty", form(&[("username", ""), ("password", "")])),
        ("empty body", String::new()),
    ] {
        assert_422(&app, form_request("/auth/jwt/login", &body), what).await;
    }
}

#[tokio::test]
async fn login_with_json_body_is_422() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let request = json_request(
        "POST",
        "/auth/jwt/login",
        None,
        &json!({"username": "a@example.com", "password": PASSWORD}),
    );
    assert_422(&app, request, "JSON body").await;
}

#[tokio::test]
async fn login_without_content_type_is_422() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let body = form(&[("username", "a@example.com"), ("password", PASSWORD)]);
    let request = raw_request("POST", "/auth/jwt/login", None, None, body);
    assert_422(&app, request, "no content type").await;
}

#[tokio::test]
async fn login_with_grant_type_other_than_password_is_422() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let body = form(&[
        ("grant_type", "foo"),
        ("username", "a@example.com"),
        ("password", PASSWORD),
    ]);
    assert_422(
        &app,
        form_request("/auth/jwt/login", &body),
        "grant_type=foo",
    )
    .await;
}

#[tokio::test]
async fn login_accepts_oauth2_password_grant_fields() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let body = form(&[
        ("grant_type", "password"),
        ("username", "a@example.com"),
        ("password", PASSWORD),
        ("scope", "read write"),
        ("client_id", "my-client"),
        ("client_secret", "my-client-secret"),
    ]);
    let (status, body) = app.call(form_request("/auth/jwt/login", &body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
}

#[tokio::test]
async fn login_form_with_charset_parameter_is_accepted() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let body = form(&[("username", "a@example.com"), ("password", PASSWORD)]);
    let request = raw_request(
        "POST",
        "/auth/jwt/login",
        None,
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        body,
    );
    let (status, body) = app.call(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn login_route_refuses_get_with_405() {
    let app = app();
    let (status, _) = app.call(get("/auth/jwt/login", None)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---- cookie login ----------------------------------------------------------

#[tokio::test]
async fn cookie_login_answers_204_with_empty_body_and_auth_cookie() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let response = app
        .send(login_request(
            "/auth/cookie/login",
            "a@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookies = set_cookies(&response);
    assert!(
        body_bytes(response).await.is_empty(),
        "204 body must be empty"
    );
    assert_eq!(cookies.len(), 1, "one Set-Cookie: {cookies:?}");
    let (name, value, attributes) = parse_set_cookie(&cookies[0]);
    assert_eq!(name, "fastapiusersauth", "{}", cookies[0]);
    let (_, claims) = jwt_parts(&value);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["aud"], json!(["fastapi-users:auth"]));
    for attribute in [
        "HttpOnly",
        "Max-Age=3600",
        "Path=/",
        "SameSite=lax",
        "Secure",
    ] {
        assert!(
            has_attribute(&attributes, attribute),
            "Set-Cookie lacks {attribute}: {}",
            cookies[0]
        );
    }
    assert!(
        !attributes
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "no Domain by default: {}",
        cookies[0]
    );
}

#[tokio::test]
async fn cookie_login_cookie_authenticates_users_me() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let response = app
        .send(login_request(
            "/auth/cookie/login",
            "a@example.com",
            PASSWORD,
        ))
        .await;
    let (name, value, _) = parse_set_cookie(&set_cookies(&response)[0]);
    let (status, body) = app
        .call(with_cookie("GET", "/users/me", &format!("{name}={value}")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "a@example.com");
}

#[tokio::test]
async fn cookie_login_with_bad_credentials_is_400_without_cookie() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    for (username, password) in [
        ("a@example.com", "wrong-password-123"),
        ("nobody@example.com", PASSWORD),
    ] {
        let response = app
            .send(login_request("/auth/cookie/login", username, password))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            set_cookies(&response).is_empty(),
            "no Set-Cookie on a failed login: {:?}",
            set_cookies(&response)
        );
        assert_eq!(
            body_json(response).await,
            json!({"detail": "LOGIN_BAD_CREDENTIALS"})
        );
    }
}

#[tokio::test]
async fn cookie_login_with_json_body_is_422_without_cookie() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let response = app
        .send(json_request(
            "POST",
            "/auth/cookie/login",
            None,
            &json!({"username": "a@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(set_cookies(&response).is_empty());
}

// ---- logout --------------------------------------------------------------

#[tokio::test]
async fn bearer_logout_answers_204_with_empty_body() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let response = app
        .send(raw_request(
            "POST",
            "/auth/jwt/logout",
            Some(&token),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(set_cookies(&response).is_empty());
    assert!(body_bytes(response).await.is_empty());
}

#[tokio::test]
async fn bearer_logout_without_token_is_401() {
    let app = app();
    let (status, _) = app
        .call(raw_request(
            "POST",
            "/auth/jwt/logout",
            None,
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(raw_request(
            "POST",
            "/auth/jwt/logout",
            Some("garbage"),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bearer_logout_with_only_the_cookie_is_401() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let cookie = format!("fastapiusersauth={}", app.token_for(&user).await);
    let (status, _) = app
        .call(with_cookie("POST", "/auth/jwt/logout", &cookie))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_logout_answers_204_and_clears_the_cookie() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let login = app
        .send(login_request(
            "/auth/cookie/login",
            "a@example.com",
            PASSWORD,
        ))
        .await;
    let (name, value, _) = parse_set_cookie(&set_cookies(&login)[0]);
    let response = app
        .send(with_cookie(
            "POST",
            "/auth/cookie/logout",
            &format!("{name}={value}"),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookies = set_cookies(&response);
    assert!(
        body_bytes(response).await.is_empty(),
        "204 body must be empty"
    );
    assert_eq!(cookies.len(), 1, "one clearing Set-Cookie: {cookies:?}");
    let (name, value, attributes) = parse_set_cookie(&cookies[0]);
    assert_eq!(name, "fastapiusersauth");
    assert!(
        value.is_empty() || value == "\"\"",
        "cleared value must be empty: {}",
        cookies[0]
    );
    assert!(has_attribute(&attributes, "Max-Age=0"), "{}", cookies[0]);
    assert!(has_attribute(&attributes, "Path=/"), "{}", cookies[0]);
}

#[tokio::test]
async fn cookie_logout_without_cookie_is_401() {
    let app = app();
    let response = app
        .send(raw_request(
            "POST",
            "/auth/cookie/logout",
            None,
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(&response).is_empty());
}

#[tokio::test]
async fn cookie_logout_with_only_a_bearer_header_is_401() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let (status, _) = app
        .call(raw_request(
            "POST",
            "/auth/cookie/logout",
            Some(&token),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_of_inactive_user_is_401() {
    let app = app();
    let user = app.create_user("a@example.com", false, false, false).await;
    let token = app.token_for(&user).await;
    let (status, _) = app
        .call(raw_request(
            "POST",
            "/auth/jwt/logout",
            Some(&token),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn jwt_stays_valid_after_logout() {
    // FastAPI Users' JWT logout is stateless; the contract leaves revocation free,
    // and this crate documents JWTs as not revocable.
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let (status, _) = app
        .call(raw_request(
            "POST",
            "/auth/jwt/logout",
            Some(&token),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
}

// ---- requires_verification ------------------------------------------------

fn verifying_app() -> TestApp<axum_users::store::MemoryStore<axum_users::User>> {
    app_with(
        axum_users::store::MemoryStore::new(),
        axum_users::NoHooks,
        Options {
            requires_verification: true,
            ..Options::default()
        },
    )
}

#[tokio::test]
async fn requires_verification_refuses_login_of_unverified_user() {
    let app = verifying_app();
    app.create_user("a@example.com", true, false, false).await;
    for uri in ["/auth/jwt/login", "/auth/cookie/login"] {
        let response = app
            .send(login_request(uri, "a@example.com", PASSWORD))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(set_cookies(&response).is_empty(), "{uri}: no cookie");
        assert_eq!(
            body_json(response).await,
            json!({"detail": "LOGIN_USER_NOT_VERIFIED"}),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn requires_verification_checks_credentials_first() {
    // A wrong password must not reveal that the account exists unverified.
    let app = verifying_app();
    app.create_user("a@example.com", true, false, false).await;
    assert_bad_credentials(
        &app,
        "/auth/jwt/login",
        "a@example.com",
        "wrong-password-123",
    )
    .await;
}

#[tokio::test]
async fn requires_verification_lets_verified_user_log_in() {
    let app = verifying_app();
    app.create_user("a@example.com", true, true, false).await;
    let token = app.login("a@example.com").await;
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "a@example.com");
}

#[tokio::test]
async fn requires_verification_forbids_users_me_to_unverified_user() {
    let app = verifying_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.token_for(&user).await;
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Without verification required, the same token works.
    let plain = app_with(
        axum_users::store::MemoryStore::new(),
        axum_users::NoHooks,
        Options::default(),
    );
    let user = plain.create_user("a@example.com", true, false, false).await;
    let token = plain.token_for(&user).await;
    let (status, _) = plain.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
}

// ---- body limit ------------------------------------------------------------

#[tokio::test]
async fn huge_login_form_is_413_and_the_app_keeps_serving() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let huge = "x".repeat(2 * 1000 * 1000);
    let body = form(&[("username", "a@example.com"), ("password", &huge)]);
    let (status, _) = app.call(form_request("/auth/jwt/login", &body)).await;
    assert!(status.is_client_error(), "a 4xx, got {status}");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = app.call(form_request("/auth/cookie/login", &body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "cookie login");

    let token = app.login("a@example.com").await;
    let (status, _) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn body_limit_is_configurable() {
    let app = app_with(
        axum_users::store::MemoryStore::new(),
        axum_users::NoHooks,
        Options {
            body_limit: Some(64),
            ..Options::default()
        },
    );
    app.create_user("a@example.com", true, false, false).await;
    let padded = form(&[
        ("username", "a@example.com"),
        ("password", PASSWORD),
        ("scope", &"s".repeat(100)),
    ]);
    let (status, _) = app.call(form_request("/auth/jwt/login", &padded)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = app
        .call(login_request("/auth/jwt/login", "a@example.com", PASSWORD))
        .await;
    assert_eq!(status, StatusCode::OK, "a small login still works: {body}");
}

fn multipart_login(fields: &[(&str, &str)]) -> axum::http::Request<axum::body::Body> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--XyZ--\r\n");
    raw_request(
        "POST",
        "/auth/jwt/login",
        None,
        Some("multipart/form-data; boundary=XyZ"),
        body,
    )
}

#[tokio::test]
async fn login_accepts_a_multipart_form_as_fastapi_does() {
    let app = app();
    app.create_user("multi@example.com", true, false, false)
        .await;
    let (status, body) = app
        .call(multipart_login(&[
            ("username", "multi@example.com"),
            ("password", PASSWORD),
        ]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
    let (status, body) = app
        .call(multipart_login(&[
            ("username", "multi@example.com"),
            ("password", "wrong-password"),
        ]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["detail"], "LOGIN_BAD_CREDENTIALS");
    let (status, _) = app
        .call(multipart_login(&[("username", "multi@example.com")]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "missing password");
    let (status, _) = app
        .call(raw_request(
            "POST",
            "/auth/jwt/login",
            None,
            Some("multipart/form-data; boundary=XyZ"),
            "--XyZ\r\ngarbage",
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "truncated multipart"
    );
}

// ---- every cookie option, over HTTP, parsed with the `cookie` crate --------

mod cookie_options {
    use std::time::Duration;

    use axum::Router;
    use axum_users::auth::{AuthBackend, CookieTransport, JwtStrategy, SameSite};
    use axum_users::store::MemoryStore;
    use axum_users::{AxumUsers, User, UserManager};
    use cookie::Cookie;

    use super::*;

    /// A cookie login and logout at `/auth/cookie` with `transport`.
    async fn login_and_logout(transport: CookieTransport) -> (Cookie<'static>, Cookie<'static>) {
        let name = transport.cookie_name().to_owned();
        let backend = AuthBackend::new("cookie", transport, JwtStrategy::hs256(SECRET).unwrap());
        let manager = UserManager::builder(MemoryStore::<User>::new())
            .hasher(fast_hasher())
            .build();
        let users = AxumUsers::new(manager, vec![backend.clone()]);
        let app = TestApp {
            router: Router::new()
                .nest("/auth/cookie", users.auth_router(&backend))
                .nest("/users", users.users_router())
                .layer(users.layer()),
            users,
        };
        app.create_user("a@example.com", true, false, false).await;
        let response = app
            .send(login_request(
                "/auth/cookie/login",
                "a@example.com",
                PASSWORD,
            ))
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let login = only_cookie(&response);
        assert_eq!(login.name(), name);
        // The cookie authenticates (the transport reads it back).
        let (status, body) = app
            .call(with_cookie(
                "GET",
                "/users/me",
                &format!("{name}={}", login.value()),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let response = app
            .send(with_cookie(
                "POST",
                "/auth/cookie/logout",
                &format!("{name}={}", login.value()),
            ))
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        (login, only_cookie(&response))
    }

    fn only_cookie(response: &Response) -> Cookie<'static> {
        let values: Vec<_> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .collect();
        assert_eq!(values.len(), 1, "one Set-Cookie: {values:?}");
        Cookie::parse(values[0].to_str().unwrap().to_owned()).expect("a valid Set-Cookie")
    }

    /// The logout cookie clears the login cookie: same name and attributes,
    /// empty value, `Max-Age=0`.
    #[track_caller]
    fn assert_clears(login: &Cookie<'_>, logout: &Cookie<'_>) {
        assert_eq!(logout.name(), login.name());
        assert_eq!(logout.value_trimmed(), "", "{logout}");
        assert_eq!(
            logout.max_age(),
            Some(cookie::time::Duration::ZERO),
            "{logout}"
        );
        assert_eq!(logout.path(), login.path(), "{logout}");
        assert_eq!(logout.domain(), login.domain(), "{logout}");
        assert_eq!(logout.secure(), login.secure(), "{logout}");
        assert_eq!(logout.http_only(), login.http_only(), "{logout}");
        assert_eq!(logout.same_site(), login.same_site(), "{logout}");
    }

    #[tokio::test]
    async fn the_default_cookie_is_secure_http_only_lax_for_an_hour_on_every_path() {
        let (login, logout) = login_and_logout(CookieTransport::new()).await;
        assert_eq!(login.name(), "fastapiusersauth");
        assert_eq!(login.secure(), Some(true));
        assert_eq!(login.http_only(), Some(true));
        assert_eq!(login.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(login.path(), Some("/"));
        assert_eq!(login.domain(), None);
        assert_eq!(login.max_age(), Some(cookie::time::Duration::seconds(3600)));
        assert_eq!(login.value().split('.').count(), 3, "a JWT");
        assert_clears(&login, &logout);
    }

    #[tokio::test]
    async fn secure_false_and_http_only_false_drop_those_attributes() {
        let transport = CookieTransport::new().secure(false).http_only(false);
        let (login, logout) = login_and_logout(transport).await;
        assert_eq!(login.secure(), None, "{login}");
        assert_eq!(login.http_only(), None, "{login}");
        assert!(!login.to_string().contains("Secure"), "{login}");
        assert!(!login.to_string().contains("HttpOnly"), "{login}");
        assert_clears(&login, &logout);
    }

    #[tokio::test]
    async fn same_site_strict_and_none_are_sent_as_configured() {
        let (login, logout) =
            login_and_logout(CookieTransport::new().same_site(SameSite::Strict)).await;
        assert_eq!(login.same_site(), Some(cookie::SameSite::Strict));
        assert_clears(&login, &logout);
        let (login, logout) =
            login_and_logout(CookieTransport::new().same_site(SameSite::None)).await;
        assert_eq!(login.same_site(), Some(cookie::SameSite::None));
        assert_eq!(login.secure(), Some(true), "SameSite=None needs Secure");
        assert_clears(&login, &logout);
    }

    #[tokio::test]
    async fn domain_path_and_name_are_sent_as_configured() {
        let transport = CookieTransport::new()
            .name("session")
            .domain(Some("example.com".into()))
            .path("/app");
        let (login, logout) = login_and_logout(transport).await;
        assert_eq!(login.name(), "session");
        assert_eq!(login.domain(), Some("example.com"));
        assert_eq!(login.path(), Some("/app"));
        assert_clears(&login, &logout);
    }

    #[tokio::test]
    async fn a_session_cookie_has_no_max_age_and_a_max_age_is_sent_in_seconds() {
        let (login, logout) = login_and_logout(CookieTransport::new().max_age(None)).await;
        assert_eq!(login.max_age(), None, "{login}");
        assert_eq!(login.expires(), None, "{login}");
        assert_clears(&login, &logout);
        let week = Duration::from_secs(7 * 24 * 3600);
        let (login, _) = login_and_logout(CookieTransport::new().max_age(Some(week))).await;
        assert_eq!(
            login.max_age(),
            Some(cookie::time::Duration::seconds(7 * 24 * 3600))
        );
    }

    #[tokio::test]
    async fn the_last_cookie_of_the_name_wins_and_quotes_are_trimmed() {
        let app = app();
        app.create_user("a@example.com", true, false, false).await;
        let response = app
            .send(login_request(
                "/auth/cookie/login",
                "a@example.com",
                PASSWORD,
            ))
            .await;
        let token = only_cookie(&response).value().to_owned();
        for header in [
            format!("fastapiusersauth=garbage; other=1; fastapiusersauth={token}"),
            format!("fastapiusersauth=\"{token}\""),
            format!("a=b;fastapiusersauth={token};c=d"),
        ] {
            let (status, body) = app.call(with_cookie("GET", "/users/me", &header)).await;
            assert_eq!(status, StatusCode::OK, "{header}: {body}");
        }
        for header in [
            format!("fastapiusersauth={token}; fastapiusersauth=garbage"),
            "fastapiusersauth=".to_owned(),
            format!("fastapiusersauthx={token}"),
        ] {
            let (status, _) = app.call(with_cookie("GET", "/users/me", &header)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}");
        }
    }
}
