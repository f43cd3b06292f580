//! Changes of credentials by the user (CONTRACT-accounts.md §C, issue 15
//! items 2, 3 and 5): `POST /users/me/change-password` with the current
//! password (every other session ends, the request's stays), `POST
//! /users/me/change-email` then `POST /auth/confirm-email-change` (nothing
//! changes before the confirmation; the confirmation moves the account to the
//! new, verified address and kills outstanding reset tokens), the hooks each
//! fires, the manager's `current_password_on_update` for `PATCH /users/me`,
//! and the audit events (`axum_users::audit`) they leave.
//!
//! The app is the example server's routes over a memory store, with three
//! backends: `/auth/jwt` (plain JWTs), `/auth/token` (refresh-token sessions)
//! and `/auth/session` (database sessions behind a cookie).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RefreshStrategy,
};
use axum_users::http::request::Parts;
use axum_users::store::MemoryStore;
use axum_users::{AxumUsers, Email, User, UserCreate, UserHooks, UserManager, UserUpdate};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tower::ServiceExt;

use crate::common::audit::Capture;
use crate::common::{
    MAIL_TIMEOUT, PASSWORD, SECRET, Shared, body_json, fast_hasher, jwt_payload, login_request,
    sign_hs256, tamper_signature, unix_now,
};

const NEW_PASSWORD: &str = "a brand new password";
const SESSION_COOKIE: &str = "fastapiuserssession";
const EMAIL_CHANGE_AUDIENCE: &str = "axum-users:change-email";
const BAD_CHANGE_TOKEN: &str = "CHANGE_EMAIL_BAD_TOKEN";
const BAD_CURRENT: &str = "INVALID_CURRENT_PASSWORD";
const EMAIL_EXISTS: &str = "UPDATE_USER_EMAIL_ALREADY_EXISTS";

// ---------------------------------------------------------------------------
// Hooks that record what the account flows fire.

/// A call of `on_after_request_email_change`.
#[derive(Debug, Clone)]
struct ChangeRequest {
    user_id: uuid::Uuid,
    /// The user's address when the hook ran.
    user_email: String,
    new_email: String,
    token: String,
    with_request: bool,
}

/// Records `on_password_changed`, `on_failed_login` and `on_email_changed` as
/// lines of text, the e-mail change requests in full, and passes reset and
/// verify tokens into channels (their hooks run in tasks of their own).
#[derive(Clone)]
struct Recorder {
    events: Shared<Vec<String>>,
    changes: Shared<Vec<ChangeRequest>>,
    reset_tx: UnboundedSender<String>,
    verify_tx: UnboundedSender<String>,
}

fn parts_note(request: Option<&Parts>) -> &'static str {
    match request {
        Some(_) => "request=yes",
        None => "request=no",
    }
}

impl Recorder {
    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }

    /// The events whose first word is `kind`.
    fn of(&self, kind: &str) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.split(' ').next() == Some(kind))
            .cloned()
            .collect()
    }

    fn change_requests(&self) -> Vec<ChangeRequest> {
        self.changes.lock().unwrap().clone()
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for Recorder {
    async fn on_password_changed(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "password_changed {} {}",
            user.data.email,
            parts_note(request)
        ));
        Ok(())
    }

    async fn on_failed_login(
        &self,
        email: &str,
        user: Option<&User>,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let user = user.map_or("none".to_owned(), |u| u.id.to_string());
        self.push(format!(
            "failed_login {email} user={user} {}",
            parts_note(request)
        ));
        Ok(())
    }

    async fn on_after_request_email_change(
        &self,
        user: &User,
        new_email: &str,
        token: &str,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.changes.lock().unwrap().push(ChangeRequest {
            user_id: user.id,
            user_email: user.data.email.clone(),
            new_email: new_email.to_owned(),
            token: token.to_owned(),
            with_request: request.is_some(),
        });
        Ok(())
    }

    async fn on_email_changed(
        &self,
        user: &User,
        old_email: &str,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "email_changed {} old={old_email} verified={} {}",
            user.data.email,
            user.data.is_verified,
            parts_note(request)
        ));
        Ok(())
    }

    async fn on_after_forgot_password(
        &self,
        _user: &User,
        token: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let _ = self.reset_tx.send(token.to_owned());
        Ok(())
    }

    async fn on_after_request_verify(
        &self,
        _user: &User,
        token: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let _ = self.verify_tx.send(token.to_owned());
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The app under test.

/// How a request authenticates.
#[derive(Debug, Clone)]
enum Auth {
    Bearer(String),
    Cookie(String),
}

/// What `/auth/token/login` hands out.
#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

impl Tokens {
    fn auth(&self) -> Auth {
        Auth::Bearer(self.access.clone())
    }
}

struct App {
    router: Router,
    manager: UserManager<MemoryStore<User>, Recorder>,
    hooks: Recorder,
    reset_rx: tokio::sync::Mutex<UnboundedReceiver<String>>,
    verify_rx: tokio::sync::Mutex<UnboundedReceiver<String>>,
}

/// The example server's routes plus `/auth/token` and `/auth/session`, with
/// `current_password_on_update` as given.
fn app_with(current_password_on_update: bool) -> App {
    let (reset_tx, reset_rx) = unbounded_channel();
    let (verify_tx, verify_rx) = unbounded_channel();
    let hooks = Recorder {
        events: Shared::default(),
        changes: Shared::default(),
        reset_tx,
        verify_tx,
    };
    let store = MemoryStore::<User>::new();
    let manager = UserManager::builder(store.clone())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .current_password_on_update(current_password_on_update)
        .hooks(hooks.clone())
        .build();
    let jwt = AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(SECRET).unwrap(),
    );
    let access = JwtStrategy::hs256(SECRET)
        .unwrap()
        .lifetime(Duration::from_secs(15 * 60));
    let token = AuthBackend::new(
        "token",
        BearerTransport::new("auth/token/login"),
        RefreshStrategy::new(access, store.clone()),
    );
    let session = AuthBackend::new(
        "session",
        CookieTransport::new().name(SESSION_COOKIE),
        DatabaseStrategy::new(store),
    );
    let users = AxumUsers::new(
        manager.clone(),
        vec![jwt.clone(), token.clone(), session.clone()],
    );
    let router = users
        .routes()
        .auth("/auth/jwt", &jwt)
        .auth("/auth/token", &token)
        .auth("/auth/session", &session)
        .register("/auth")
        .reset_password("/auth")
        .verify("/auth")
        .users("/users")
        .into_router()
        .layer(users.layer());
    App {
        router,
        manager,
        hooks,
        reset_rx: tokio::sync::Mutex::new(reset_rx),
        verify_rx: tokio::sync::Mutex::new(verify_rx),
    }
}

fn app() -> App {
    app_with(false)
}

/// A request with `auth` and, when given, a JSON body.
fn request(method: &str, uri: &str, auth: Option<&Auth>, body: Option<&Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    match auth {
        Some(Auth::Bearer(token)) => {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        Some(Auth::Cookie(cookie)) => {
            builder = builder.header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"));
        }
        None => {}
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// A POST with `auth` and a raw JSON-typed body.
fn raw_post(uri: &str, auth: Option<&Auth>, body: &str) -> Request<Body> {
    let mut request = request("POST", uri, auth, None);
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    *request.body_mut() = Body::from(body.to_owned());
    request
}

fn detail(code: &str) -> Value {
    json!({ "detail": code })
}

impl App {
    /// Status and JSON body; never a 500.
    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = body_json(response).await;
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "never a 500 ({what}): {body}"
        );
        (status, body)
    }

    async fn status(&self, request: Request<Body>) -> StatusCode {
        self.call(request).await.0
    }

    /// A new active, unverified user with [`PASSWORD`].
    async fn user(&self, email: &str) -> User {
        self.manager
            .create(
                UserCreate::new(Email::parse(email).unwrap(), PASSWORD),
                false,
                None,
            )
            .await
            .unwrap()
    }

    async fn superuser(&self, email: &str) -> User {
        let mut create = UserCreate::new(Email::parse(email).unwrap(), PASSWORD);
        create.is_superuser = Some(true);
        self.manager.create(create, false, None).await.unwrap()
    }

    async fn reload(&self, user: &User) -> User {
        use axum_users::store::UserStore as _;
        self.manager
            .store()
            .get(&user.id)
            .await
            .unwrap()
            .expect("the user exists")
    }

    /// The status of a login on `/auth/jwt`.
    async fn login_status(&self, email: &str, password: &str) -> StatusCode {
        self.status(login_request("/auth/jwt/login", email, password))
            .await
    }

    /// A plain JWT of `/auth/jwt`.
    async fn jwt_as(&self, email: &str, password: &str) -> Auth {
        let (status, body) = self
            .call(login_request("/auth/jwt/login", email, password))
            .await;
        assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
        Auth::Bearer(body["access_token"].as_str().unwrap().to_owned())
    }

    async fn jwt(&self, email: &str) -> Auth {
        self.jwt_as(email, PASSWORD).await
    }

    /// The tokens of a login on `/auth/token`.
    async fn token_login(&self, email: &str) -> Tokens {
        let (status, body) = self
            .call(login_request("/auth/token/login", email, PASSWORD))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// The cookie of a login on `/auth/session`.
    async fn cookie_login(&self, email: &str) -> Auth {
        let response = self
            .router
            .clone()
            .oneshot(login_request("/auth/session/login", email, PASSWORD))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .expect("a session cookie")
            .to_str()
            .unwrap();
        let value = cookie
            .strip_prefix(&format!("{SESSION_COOKIE}="))
            .and_then(|rest| rest.split(';').next())
            .expect("the session cookie");
        Auth::Cookie(value.to_owned())
    }

    /// The status of `GET /users/me` with `auth`.
    async fn me_status(&self, auth: &Auth) -> StatusCode {
        self.status(request("GET", "/users/me", Some(auth), None))
            .await
    }

    async fn me(&self, auth: &Auth) -> Value {
        let (status, body) = self
            .call(request("GET", "/users/me", Some(auth), None))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn refresh(&self, token: &str) -> (StatusCode, Value) {
        let body = json!({ "refresh_token": token });
        self.call(request("POST", "/auth/token/refresh", None, Some(&body)))
            .await
    }

    async fn change_password(
        &self,
        auth: Option<&Auth>,
        current: &str,
        new: &str,
    ) -> (StatusCode, Value) {
        let body = json!({ "current_password": current, "new_password": new });
        self.call(request(
            "POST",
            "/users/me/change-password",
            auth,
            Some(&body),
        ))
        .await
    }

    async fn change_email(
        &self,
        auth: Option<&Auth>,
        email: &str,
        current: &str,
    ) -> (StatusCode, Value) {
        let body = json!({ "email": email, "current_password": current });
        self.call(request("POST", "/users/me/change-email", auth, Some(&body)))
            .await
    }

    /// Asks to change the address of the caller of `auth` to `email`: the
    /// token handed to the hook.
    async fn change_token(&self, auth: &Auth, email: &str) -> String {
        let before = self.hooks.change_requests().len();
        let (status, body) = self.change_email(Some(auth), email, PASSWORD).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let requests = self.hooks.change_requests();
        assert_eq!(requests.len(), before + 1, "one call of the hook");
        requests.last().unwrap().token.clone()
    }

    async fn confirm(&self, token: &str) -> (StatusCode, Value) {
        let body = json!({ "token": token });
        self.call(request(
            "POST",
            "/auth/confirm-email-change",
            None,
            Some(&body),
        ))
        .await
    }

    async fn assert_bad_change_token(&self, token: &str, what: &str) {
        assert_eq!(
            self.confirm(token).await,
            (StatusCode::BAD_REQUEST, detail(BAD_CHANGE_TOKEN)),
            "{what}"
        );
    }

    /// A reset token for `email`, through `POST /auth/forgot-password`.
    async fn reset_token(&self, email: &str) -> String {
        let body = json!({ "email": email });
        let (status, _) = self
            .call(request("POST", "/auth/forgot-password", None, Some(&body)))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let mut rx = self.reset_rx.lock().await;
        tokio::time::timeout(MAIL_TIMEOUT, rx.recv())
            .await
            .expect("a reset token in time")
            .expect("the hooks live")
    }

    /// A verify token for `email`, through `POST /auth/request-verify-token`.
    async fn verify_token(&self, email: &str) -> String {
        let body = json!({ "email": email });
        let (status, _) = self
            .call(request(
                "POST",
                "/auth/request-verify-token",
                None,
                Some(&body),
            ))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let mut rx = self.verify_rx.lock().await;
        tokio::time::timeout(MAIL_TIMEOUT, rx.recv())
            .await
            .expect("a verify token in time")
            .expect("the hooks live")
    }

    async fn reset_password(&self, token: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({ "token": token, "password": password });
        self.call(request("POST", "/auth/reset-password", None, Some(&body)))
            .await
    }

    async fn verify(&self, token: &str) -> (StatusCode, Value) {
        let body = json!({ "token": token });
        self.call(request("POST", "/auth/verify", None, Some(&body)))
            .await
    }

    async fn patch_me(&self, auth: &Auth, body: Value) -> (StatusCode, Value) {
        self.call(request("PATCH", "/users/me", Some(auth), Some(&body)))
            .await
    }
}

/// The claims of an e-mail change token of `user` from `old` to `new`,
/// expiring at `exp`, for `audience`.
/// The claims of an e-mail change token, as the manager signs them: the
/// user, both addresses, and the user's token generation (`gen`).
fn change_claims(user: &User, old: &str, new: &str, audience: &str, exp: i64) -> Value {
    json!({
        "sub": user.id.to_string(),
        "old": old,
        "new": new,
        "gen": user.data.token_generation,
        "pgen": user.data.password_generation,
        "aud": audience,
        "exp": exp,
    })
}

// ---------------------------------------------------------------------------
// POST /users/me/change-password

#[tokio::test]
async fn a_password_change_from_a_cookie_session_ends_every_other_session_and_keeps_its_own() {
    let app = app();
    app.user("a@example.com").await;
    let current = app.cookie_login("a@example.com").await;
    let other_cookie = app.cookie_login("a@example.com").await;
    let other_tokens = app.token_login("a@example.com").await;
    let reset_token = app.reset_token("a@example.com").await;

    let (status, body) = app
        .change_password(Some(&current), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "an empty body");

    // The new password logs in, the old one no longer does.
    assert_eq!(
        app.login_status("a@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.call(login_request("/auth/jwt/login", "a@example.com", PASSWORD))
            .await,
        (StatusCode::BAD_REQUEST, detail("LOGIN_BAD_CREDENTIALS"))
    );
    // Every other session ended.
    assert_eq!(
        app.me_status(&other_cookie).await,
        StatusCode::UNAUTHORIZED,
        "another database session"
    );
    assert_eq!(
        app.me_status(&other_tokens.auth()).await,
        StatusCode::UNAUTHORIZED,
        "the access token of a refresh-token session"
    );
    assert_eq!(
        app.refresh(&other_tokens.refresh).await,
        (StatusCode::UNAUTHORIZED, detail("REFRESH_TOKEN_INVALID")),
        "the refresh token of that session"
    );
    // A reset token issued before the change is dead.
    assert_eq!(
        app.reset_password(&reset_token, "yet another password")
            .await,
        (StatusCode::BAD_REQUEST, detail("RESET_PASSWORD_BAD_TOKEN"))
    );
    // The session of the request lives, bound to the new password: it may
    // change the password again, with the new one as the current one.
    assert_eq!(app.me_status(&current).await, StatusCode::OK);
    let (status, body) = app
        .call(request("GET", "/users/me/sessions", Some(&current), None))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sessions = body.as_array().expect("a list");
    assert_eq!(sessions.len(), 1, "only the request's session: {body}");
    assert_eq!(sessions[0]["current"], true, "{body}");
    let (status, body) = app
        .change_password(Some(&current), NEW_PASSWORD, "a third password")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.me_status(&current).await, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_from_a_refresh_token_session_keeps_that_session_and_ends_the_others() {
    let app = app();
    app.user("a@example.com").await;
    let current = app.token_login("a@example.com").await;
    let other = app.token_login("a@example.com").await;
    let cookie = app.cookie_login("a@example.com").await;

    let (status, body) = app
        .change_password(Some(&current.auth()), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    assert_eq!(app.me_status(&current.auth()).await, StatusCode::OK);
    let (status, body) = app.refresh(&current.refresh).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the request's session rotates: {body}"
    );
    let rotated = Auth::Bearer(body["access_token"].as_str().unwrap().to_owned());
    assert_eq!(app.me_status(&rotated).await, StatusCode::OK);

    assert_eq!(app.me_status(&other.auth()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&other.refresh).await,
        (StatusCode::UNAUTHORIZED, detail("REFRESH_TOKEN_INVALID"))
    );
    assert_eq!(app.me_status(&cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login_status("a@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_password_change_from_a_plain_jwt_ends_every_session_and_the_jwt_keeps_working() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let tokens = app.token_login("a@example.com").await;
    let cookie = app.cookie_login("a@example.com").await;

    let (status, body) = app
        .change_password(Some(&jwt), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    assert_eq!(
        app.me_status(&jwt).await,
        StatusCode::OK,
        "the request's JWT"
    );
    assert_eq!(
        app.me_status(&tokens.auth()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&tokens.refresh).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.me_status(&cookie).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_needs_authentication() {
    let app = app();
    app.user("a@example.com").await;
    let forged = Auth::Bearer("not-a-token".to_owned());
    for auth in [None, Some(&forged)] {
        assert_eq!(
            app.change_password(auth, PASSWORD, NEW_PASSWORD).await.0,
            StatusCode::UNAUTHORIZED,
            "{auth:?}"
        );
    }
    // Authentication comes before the body.
    assert_eq!(
        app.status(raw_post("/users/me/change-password", None, "{not json"))
            .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::OK
    );
    assert!(app.hooks.of("password_changed").is_empty());
}

#[tokio::test]
async fn a_wrong_empty_or_huge_current_password_is_refused_and_changes_nothing() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let cookie = app.cookie_login("a@example.com").await;
    let huge = "x".repeat(100_000);
    for current in ["wrong password", "", huge.as_str()] {
        assert_eq!(
            app.change_password(Some(&jwt), current, NEW_PASSWORD).await,
            (StatusCode::BAD_REQUEST, detail(BAD_CURRENT)),
            "a current password of {} bytes",
            current.len()
        );
    }
    // The current password is checked before the new one.
    assert_eq!(
        app.change_password(Some(&jwt), "wrong password", "short")
            .await,
        (StatusCode::BAD_REQUEST, detail(BAD_CURRENT))
    );
    // Each wrong current password is a failed login of the account.
    assert_eq!(
        app.hooks.of("failed_login"),
        vec![format!("failed_login a@example.com user={} request=yes", user.id); 4]
    );
    assert!(app.hooks.of("password_changed").is_empty());
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.login_status("a@example.com", NEW_PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.me_status(&cookie).await,
        StatusCode::OK,
        "no session ended"
    );
}

#[tokio::test]
async fn a_password_change_with_a_missing_field_or_a_malformed_body_answers_422() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let bodies = [
        json!({}),
        json!({ "current_password": PASSWORD }),
        json!({ "new_password": NEW_PASSWORD }),
        json!({ "current_password": null, "new_password": NEW_PASSWORD }),
        json!({ "current_password": PASSWORD, "new_password": 12345678 }),
        json!([PASSWORD, NEW_PASSWORD]),
    ];
    for body in &bodies {
        let (status, answer) = app
            .call(request(
                "POST",
                "/users/me/change-password",
                Some(&jwt),
                Some(body),
            ))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    for raw in ["{not json", "", "null"] {
        assert_eq!(
            app.status(raw_post("/users/me/change-password", Some(&jwt), raw))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{raw:?}"
        );
    }
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::OK
    );
    assert!(app.hooks.of("password_changed").is_empty());
}

#[tokio::test]
async fn a_new_password_the_policy_refuses_answers_with_its_reason_and_changes_nothing() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let cookie = app.cookie_login("a@example.com").await;
    let cases = [
        ("short", "Password should be at least 8 characters"),
        (
            "my-A@Example.com-password",
            "Password should not contain e-mail",
        ),
        ("12345678", "Password is too common"),
    ];
    for (new, reason) in cases {
        assert_eq!(
            app.change_password(Some(&jwt), PASSWORD, new).await,
            (
                StatusCode::BAD_REQUEST,
                json!({ "detail": { "code": "CHANGE_PASSWORD_INVALID_PASSWORD", "reason": reason } })
            ),
            "{new}"
        );
    }
    assert!(app.hooks.of("password_changed").is_empty());
    assert!(
        app.hooks.of("failed_login").is_empty(),
        "the current password was right"
    );
    for (new, _) in cases {
        assert_eq!(
            app.login_status("a@example.com", new).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.me_status(&cookie).await,
        StatusCode::OK,
        "no session ended"
    );
}

#[tokio::test]
async fn on_password_changed_fires_once_for_a_change_and_never_for_a_refused_one() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    app.change_password(Some(&jwt), "wrong password", NEW_PASSWORD)
        .await;
    app.change_password(Some(&jwt), PASSWORD, "short").await;
    assert!(app.hooks.of("password_changed").is_empty());
    let (status, _) = app
        .change_password(Some(&jwt), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.hooks.of("password_changed"),
        ["password_changed a@example.com request=yes"]
    );
}

#[tokio::test]
async fn a_password_reset_fires_on_password_changed() {
    let app = app();
    app.user("a@example.com").await;
    let token = app.reset_token("a@example.com").await;
    let (status, body) = app.reset_password(&token, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.hooks.of("password_changed"),
        ["password_changed a@example.com request=yes"]
    );
}

// ---------------------------------------------------------------------------
// POST /users/me/change-email

#[tokio::test]
async fn an_email_change_request_hands_the_token_to_the_hook_and_changes_nothing_yet() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let response = app
        .router
        .clone()
        .oneshot(request(
            "POST",
            "/users/me/change-email",
            Some(&jwt),
            Some(&json!({ "email": "new@example.com", "current_password": PASSWORD })),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&bytes[..], b"null");

    let requests = app.hooks.change_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let sent = &requests[0];
    assert_eq!(sent.user_id, user.id);
    assert_eq!(sent.user_email, "a@example.com", "the user as stored");
    assert_eq!(sent.new_email, "new@example.com");
    assert!(sent.with_request, "the hook gets the request's parts");
    assert!(!sent.token.is_empty());

    // Nothing changed yet.
    let me = app.me(&jwt).await;
    assert_eq!(me["email"], "a@example.com");
    assert_eq!(me["is_verified"], false);
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.login_status("new@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
    assert!(app.hooks.of("email_changed").is_empty());
    // A reset token still works, mailed to the old address.
    let reset = app.reset_token("a@example.com").await;
    assert_eq!(
        app.reset_password(&reset, NEW_PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn confirming_an_email_change_moves_the_account_to_the_verified_new_address() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let token = app.change_token(&jwt, "new@example.com").await;

    let (status, body) = app.confirm(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "id": user.id.to_string(),
            "email": "new@example.com",
            "is_active": true,
            "is_superuser": false,
            "is_verified": true,
        })
    );
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "the old address no longer logs in"
    );
    let fresh = app.jwt("new@example.com").await;
    let me = app.me(&fresh).await;
    assert_eq!(me["email"], "new@example.com");
    assert_eq!(me["is_verified"], true);
    assert_eq!(
        app.hooks.of("email_changed"),
        ["email_changed new@example.com old=a@example.com verified=true request=yes"]
    );
    // The old address is free again.
    let (status, body) = app
        .call(request(
            "POST",
            "/auth/register",
            None,
            Some(&json!({ "email": "a@example.com", "password": PASSWORD })),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn confirming_an_email_change_kills_outstanding_reset_tokens() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let before_request = app.reset_token("a@example.com").await;
    let token = app.change_token(&jwt, "new@example.com").await;
    let before_confirm = app.reset_token("a@example.com").await;
    assert_eq!(app.confirm(&token).await.0, StatusCode::OK);
    for reset in [before_request, before_confirm] {
        assert_eq!(
            app.reset_password(&reset, NEW_PASSWORD).await,
            (StatusCode::BAD_REQUEST, detail("RESET_PASSWORD_BAD_TOKEN"))
        );
    }
    assert_eq!(
        app.login_status("new@example.com", PASSWORD).await,
        StatusCode::OK
    );
    // A reset asked for afterwards works.
    let after = app.reset_token("new@example.com").await;
    assert_eq!(
        app.reset_password(&after, NEW_PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_email_change_request_needs_authentication() {
    let app = app();
    app.user("a@example.com").await;
    let forged = Auth::Bearer("not-a-token".to_owned());
    for auth in [None, Some(&forged)] {
        assert_eq!(
            app.change_email(auth, "new@example.com", PASSWORD).await.0,
            StatusCode::UNAUTHORIZED,
            "{auth:?}"
        );
    }
    assert_eq!(
        app.status(raw_post("/users/me/change-email", None, "{not json"))
            .await,
        StatusCode::UNAUTHORIZED
    );
    assert!(app.hooks.change_requests().is_empty());
}

#[tokio::test]
async fn an_email_change_request_with_a_wrong_empty_or_huge_current_password_is_refused() {
    let app = app();
    let user = app.user("a@example.com").await;
    app.user("b@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let huge = "x".repeat(100_000);
    for current in ["wrong password", "", huge.as_str()] {
        assert_eq!(
            app.change_email(Some(&jwt), "new@example.com", current)
                .await,
            (StatusCode::BAD_REQUEST, detail(BAD_CURRENT)),
            "a current password of {} bytes",
            current.len()
        );
    }
    // Without the password, nothing tells whether an address has an account.
    assert_eq!(
        app.change_email(Some(&jwt), "b@example.com", "wrong password")
            .await,
        (StatusCode::BAD_REQUEST, detail(BAD_CURRENT))
    );
    assert!(app.hooks.change_requests().is_empty());
    assert_eq!(
        app.hooks.of("failed_login"),
        vec![format!("failed_login a@example.com user={} request=yes", user.id); 4]
    );
    assert_eq!(app.me(&jwt).await["email"], "a@example.com");
}

#[tokio::test]
async fn an_email_change_to_an_address_with_an_account_is_refused() {
    let app = app();
    app.user("a@example.com").await;
    app.user("b@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    for taken in [
        "b@example.com",
        "B@example.com",
        "b@EXAMPLE.COM",
        "a@example.com",
        "A@Example.com",
    ] {
        assert_eq!(
            app.change_email(Some(&jwt), taken, PASSWORD).await,
            (StatusCode::BAD_REQUEST, detail(EMAIL_EXISTS)),
            "{taken}"
        );
    }
    assert!(app.hooks.change_requests().is_empty());
    assert!(app.hooks.of("failed_login").is_empty());
}

#[tokio::test]
async fn an_email_change_request_with_an_invalid_address_or_missing_fields_answers_422() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let bodies = [
        json!({ "email": "not-an-address", "current_password": PASSWORD }),
        json!({ "email": "", "current_password": PASSWORD }),
        json!({ "email": "a@", "current_password": PASSWORD }),
        json!({ "email": null, "current_password": PASSWORD }),
        json!({ "current_password": PASSWORD }),
        json!({ "email": "new@example.com" }),
        json!({ "email": "new@example.com", "current_password": 5 }),
        json!({}),
        json!(["new@example.com", PASSWORD]),
    ];
    for body in &bodies {
        let (status, answer) = app
            .call(request(
                "POST",
                "/users/me/change-email",
                Some(&jwt),
                Some(body),
            ))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    for raw in ["{not json", "", "null"] {
        assert_eq!(
            app.status(raw_post("/users/me/change-email", Some(&jwt), raw))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{raw:?}"
        );
    }
    assert!(app.hooks.change_requests().is_empty());
}

// ---------------------------------------------------------------------------
// POST /auth/confirm-email-change

#[tokio::test]
async fn forged_email_change_tokens_are_refused() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let real = app.change_token(&jwt, "new@example.com").await;
    let claims = jwt_payload(&real);
    assert_eq!(claims["aud"], EMAIL_CHANGE_AUDIENCE, "{claims}");
    let exp = unix_now() + 600;
    let other_secret = "another-secret-0123456789abcdef0123456789abcdef";
    let forged = [
        ("a random string", "not-a-token".to_owned()),
        ("an empty token", String::new()),
        (
            "a JWT signed with another secret",
            sign_hs256(
                &change_claims(
                    &user,
                    "a@example.com",
                    "evil@example.com",
                    EMAIL_CHANGE_AUDIENCE,
                    exp,
                ),
                other_secret,
            ),
        ),
        ("a tampered signature", tamper_signature(&real)),
        (
            "the verify audience",
            sign_hs256(
                &change_claims(
                    &user,
                    "a@example.com",
                    "evil@example.com",
                    "fastapi-users:verify",
                    exp,
                ),
                SECRET,
            ),
        ),
        (
            "an unknown user",
            sign_hs256(
                &json!({
                    "sub": uuid::Uuid::new_v4().to_string(),
                    "old": "a@example.com",
                    "new": "evil@example.com",
                    "aud": EMAIL_CHANGE_AUDIENCE,
                    "exp": exp,
                }),
                SECRET,
            ),
        ),
        (
            "a subject that is not an id",
            sign_hs256(
                &json!({
                    "sub": "a@example.com",
                    "old": "a@example.com",
                    "new": "evil@example.com",
                    "aud": EMAIL_CHANGE_AUDIENCE,
                    "exp": exp,
                }),
                SECRET,
            ),
        ),
        (
            "no new address",
            sign_hs256(
                &json!({
                    "sub": user.id.to_string(),
                    "old": "a@example.com",
                    "aud": EMAIL_CHANGE_AUDIENCE,
                    "exp": exp,
                }),
                SECRET,
            ),
        ),
        (
            "no expiry",
            sign_hs256(
                &json!({
                    "sub": user.id.to_string(),
                    "old": "a@example.com",
                    "new": "evil@example.com",
                    "aud": EMAIL_CHANGE_AUDIENCE,
                }),
                SECRET,
            ),
        ),
    ];
    for (what, token) in &forged {
        app.assert_bad_change_token(token, what).await;
    }
    assert_eq!(app.reload(&user).await.data.email, "a@example.com");
    assert!(app.hooks.of("email_changed").is_empty());
    // The real token still works.
    let (status, body) = app.confirm(&real).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "new@example.com");
}

#[tokio::test]
async fn an_expired_email_change_token_is_refused() {
    let app = app();
    let user = app.user("a@example.com").await;
    let expired = sign_hs256(
        &change_claims(
            &user,
            "a@example.com",
            "new@example.com",
            EMAIL_CHANGE_AUDIENCE,
            unix_now() - 10,
        ),
        SECRET,
    );
    app.assert_bad_change_token(&expired, "expired ten seconds ago")
        .await;
    assert_eq!(app.reload(&user).await.data.email, "a@example.com");
    // The same claims with an expiry ahead are accepted: only `exp` differed.
    let live = sign_hs256(
        &change_claims(
            &user,
            "a@example.com",
            "new@example.com",
            EMAIL_CHANGE_AUDIENCE,
            unix_now() + 600,
        ),
        SECRET,
    );
    let (status, body) = app.confirm(&live).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "new@example.com");
}

#[tokio::test]
async fn an_email_change_token_works_once() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let token = app.change_token(&jwt, "new@example.com").await;
    assert_eq!(app.confirm(&token).await.0, StatusCode::OK);
    app.assert_bad_change_token(&token, "the second confirmation")
        .await;
    assert_eq!(app.hooks.of("email_changed").len(), 1);
}

/// A used token must stay used even when the account's address comes back
/// to the one the token was issued from.
#[tokio::test]
async fn an_email_change_token_replayed_after_the_address_came_back_is_refused() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let first = app.change_token(&jwt, "b@example.com").await;
    assert_eq!(app.confirm(&first).await.0, StatusCode::OK);
    let jwt = app.jwt("b@example.com").await;
    let back = app.change_token(&jwt, "a@example.com").await;
    assert_eq!(app.confirm(&back).await.0, StatusCode::OK);
    assert_eq!(app.reload(&user).await.data.email, "a@example.com");

    app.assert_bad_change_token(&first, "the first token, used already")
        .await;
    assert_eq!(app.reload(&user).await.data.email, "a@example.com");
}

#[tokio::test]
async fn an_email_change_token_whose_address_was_taken_meanwhile_is_refused() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let token = app.change_token(&jwt, "new@example.com").await;
    let (status, body) = app
        .call(request(
            "POST",
            "/auth/register",
            None,
            Some(&json!({ "email": "New@example.com", "password": PASSWORD })),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.assert_bad_change_token(&token, "the address has another account")
        .await;
    let user = app.reload(&user).await;
    assert_eq!(user.data.email, "a@example.com");
    assert!(!user.data.is_verified);
    assert_eq!(app.me_status(&jwt).await, StatusCode::OK, "nothing ended");
    assert!(app.hooks.of("email_changed").is_empty());
}

#[tokio::test]
async fn an_email_change_token_of_a_user_who_changed_address_again_is_refused() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    // Two requests; the later one is confirmed first.
    let to_b = app.change_token(&jwt, "b@example.com").await;
    let to_c = app.change_token(&jwt, "c@example.com").await;
    assert_eq!(app.confirm(&to_c).await.0, StatusCode::OK);
    app.assert_bad_change_token(&to_b, "issued for the address before")
        .await;
    assert_eq!(app.reload(&user).await.data.email, "c@example.com");

    // A change of address through PATCH /users/me kills the pending token.
    let jwt = app.jwt("c@example.com").await;
    let to_d = app.change_token(&jwt, "d@example.com").await;
    let (status, body) = app
        .patch_me(&jwt, json!({ "email": "e@example.com" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.assert_bad_change_token(&to_d, "the address moved by PATCH")
        .await;
    assert_eq!(app.reload(&user).await.data.email, "e@example.com");
}

#[tokio::test]
async fn an_email_change_token_of_a_deactivated_user_is_refused() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let token = app.change_token(&jwt, "new@example.com").await;
    let update = UserUpdate {
        is_active: Some(false),
        ..UserUpdate::default()
    };
    app.manager
        .update(user.clone(), update, false, None)
        .await
        .unwrap();
    app.assert_bad_change_token(&token, "the user is inactive")
        .await;
    assert_eq!(app.reload(&user).await.data.email, "a@example.com");
}

#[tokio::test]
async fn a_malformed_confirmation_body_answers_422() {
    let app = app();
    app.user("a@example.com").await;
    let bodies = [
        json!({}),
        json!({ "token": null }),
        json!({ "token": 5 }),
        json!({ "tok": "x" }),
        json!(["x"]),
    ];
    for body in &bodies {
        let (status, answer) = app
            .call(request(
                "POST",
                "/auth/confirm-email-change",
                None,
                Some(body),
            ))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    for raw in ["{not json", "", "null"] {
        assert_eq!(
            app.status(raw_post("/auth/confirm-email-change", None, raw))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{raw:?}"
        );
    }
}

#[tokio::test]
async fn email_change_reset_and_verify_tokens_are_not_interchangeable() {
    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let change = app.change_token(&jwt, "new@example.com").await;
    let reset = app.reset_token("a@example.com").await;
    let verify = app.verify_token("a@example.com").await;
    let Auth::Bearer(access) = &jwt else {
        unreachable!()
    };

    // Others at the confirmation.
    app.assert_bad_change_token(&reset, "a reset token").await;
    app.assert_bad_change_token(&verify, "a verify token").await;
    app.assert_bad_change_token(access, "an access token").await;
    // The change token at the other routes.
    assert_eq!(
        app.reset_password(&change, NEW_PASSWORD).await,
        (StatusCode::BAD_REQUEST, detail("RESET_PASSWORD_BAD_TOKEN"))
    );
    assert_eq!(
        app.verify(&change).await,
        (StatusCode::BAD_REQUEST, detail("VERIFY_USER_BAD_TOKEN"))
    );
    assert_eq!(
        app.me_status(&Auth::Bearer(change.clone())).await,
        StatusCode::UNAUTHORIZED,
        "not an access token"
    );
    let current = app.reload(&user).await;
    assert_eq!(current.data.email, "a@example.com");
    assert!(!current.data.is_verified);
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::OK
    );

    // Nothing was used up: each token still works at its own route (the
    // confirmation last but one: it ends the reset tokens).
    assert_eq!(app.verify(&verify).await.0, StatusCode::OK);
    let (status, body) = app.confirm(&change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "new@example.com");
    let (status, body) = app.reset_password(&reset, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["detail"], "RESET_PASSWORD_BAD_TOKEN");
}

#[tokio::test]
async fn a_password_change_ends_pending_email_change_tokens() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let change = app.change_token(&jwt, "new@example.com").await;
    let (status, body) = app
        .change_password(Some(&jwt), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    app.assert_bad_change_token(&change, "asked before a password change")
        .await;
}

#[tokio::test]
async fn a_password_reset_ends_pending_email_change_tokens() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let change = app.change_token(&jwt, "new@example.com").await;
    let reset = app.reset_token("a@example.com").await;
    assert_eq!(
        app.reset_password(&reset, NEW_PASSWORD).await.0,
        StatusCode::OK
    );
    app.assert_bad_change_token(&change, "asked before a reset")
        .await;
}

// ---------------------------------------------------------------------------
// PATCH /users/me and `current_password_on_update`

#[tokio::test]
async fn with_current_password_on_update_a_new_password_or_address_needs_the_current_password() {
    let app = app_with(true);
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let huge = "x".repeat(100_000);
    let refused = [
        json!({ "password": NEW_PASSWORD }),
        json!({ "password": NEW_PASSWORD, "current_password": "wrong password" }),
        json!({ "password": NEW_PASSWORD, "current_password": "" }),
        json!({ "password": NEW_PASSWORD, "current_password": huge }),
        json!({ "email": "new@example.com" }),
        json!({ "email": "new@example.com", "current_password": "wrong password" }),
        json!({ "email": "new@example.com", "password": NEW_PASSWORD }),
    ];
    for body in &refused {
        assert_eq!(
            app.patch_me(&jwt, body.clone()).await,
            (StatusCode::BAD_REQUEST, detail(BAD_CURRENT)),
            "{}",
            &body.to_string()[..body.to_string().len().min(120)]
        );
    }
    assert_eq!(app.hooks.of("failed_login").len(), refused.len());
    assert!(app.hooks.of("password_changed").is_empty());
    let stored = app.reload(&user).await;
    assert_eq!(stored.data.email, "a@example.com");
    assert_eq!(
        app.login_status("a@example.com", PASSWORD).await,
        StatusCode::OK
    );

    // With the right one.
    let (status, body) = app
        .patch_me(
            &jwt,
            json!({ "password": NEW_PASSWORD, "current_password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.as_object().unwrap().contains_key("current_password"));
    assert_eq!(
        app.login_status("a@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.hooks.of("password_changed"),
        ["password_changed a@example.com request=yes"]
    );
    let (status, body) = app
        .patch_me(
            &jwt,
            json!({ "email": "new@example.com", "current_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "new@example.com");
    assert_eq!(body["is_verified"], false);
    assert_eq!(
        app.login_status("new@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn with_current_password_on_update_other_changes_and_superusers_need_nothing() {
    let app = app_with(true);
    let user = app.user("a@example.com").await;
    app.superuser("admin@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    for body in [
        json!({}),
        json!({ "email": "a@example.com" }),
        json!({ "is_superuser": true }),
    ] {
        let (status, answer) = app.patch_me(&jwt, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {answer}");
        assert_eq!(answer["email"], "a@example.com");
        assert_eq!(answer["is_superuser"], false);
    }
    // A superuser changing another user's credentials gives no password.
    let admin = app.jwt("admin@example.com").await;
    let (status, body) = app
        .call(request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            Some(&json!({ "password": NEW_PASSWORD, "email": "moved@example.com" })),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "moved@example.com");
    assert_eq!(
        app.login_status("moved@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    assert!(app.hooks.of("failed_login").is_empty());
}

#[tokio::test]
async fn without_current_password_on_update_patch_me_works_as_in_fastapi_users() {
    let app = app();
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let (status, body) = app
        .patch_me(&jwt, json!({ "password": NEW_PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.login_status("a@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.hooks.of("password_changed"),
        ["password_changed a@example.com request=yes"]
    );
    let (status, body) = app
        .patch_me(&jwt, json!({ "email": "new@example.com" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "new@example.com");
    // A current password sent anyway is ignored, even a wrong one.
    let (status, body) = app
        .patch_me(
            &jwt,
            json!({ "password": "a third password", "current_password": "wrong password" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.login_status("new@example.com", "a third password")
            .await,
        StatusCode::OK
    );
    assert!(app.hooks.of("failed_login").is_empty());
    // `null` is refused, as for every core field.
    assert_eq!(
        app.patch_me(&jwt, json!({ "current_password": null }))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

// ---------------------------------------------------------------------------
// The audit trail.

#[tokio::test(flavor = "current_thread")]
async fn password_and_email_changes_are_audited_by_user_id_without_secrets() {
    let (capture, _capturing) = Capture::start();

    let app = app();
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    // A refused change leaves no `password_changed`.
    app.change_password(Some(&jwt), "wrong password", NEW_PASSWORD)
        .await;
    assert!(capture.audit("password_changed").is_empty());
    let (status, _) = app
        .change_password(Some(&jwt), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let before = app.hooks.change_requests().len();
    let (status, _) = app
        .change_email(Some(&jwt), "new@example.com", NEW_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(capture.audit("email_changed").is_empty(), "not yet");
    let token = app.hooks.change_requests()[before].token.clone();
    assert_eq!(app.confirm(&token).await.0, StatusCode::OK);

    let id = user.id.to_string();
    for name in [
        "password_changed",
        "email_change_requested",
        "email_changed",
    ] {
        let events = capture.audit(name);
        assert_eq!(events.len(), 1, "one {name} event: {events:?}");
        assert_eq!(
            events[0].fields.get("user"),
            Some(&id),
            "{name} names the user by id: {events:?}"
        );
    }
    let Auth::Bearer(access) = &jwt else {
        unreachable!()
    };
    for event in capture.all() {
        let text = format!("{:?}", event.fields);
        for secret in [PASSWORD, NEW_PASSWORD, token.as_str(), access.as_str()] {
            assert!(
                !text.contains(secret),
                "an event on {} carries a secret: {text}",
                event.target
            );
        }
    }
}
