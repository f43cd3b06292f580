//! The login throttle over HTTP (CONTRACT-accounts.md §C, issue 15 item 1):
//! after N failed attempts for one address every login of that address
//! answers 429 `LOGIN_TOO_MANY_ATTEMPTS` with `Retry-After`, even with the
//! right password; unknown addresses are locked the same way; a success
//! clears the count; every login route and every current-password check
//! counts; a per-client-address limit counts one client's failures across
//! addresses (IPv6 by /64, IPv4-mapped as IPv4, forwarding headers only from
//! trusted proxies); hooks and audit events report failures and lockouts;
//! counters in Redis are shared by instances and a dead Redis fails open.
//!
//! Every app here is the library's routers over `oneshot`, with users and
//! sessions in a `MemoryStore`. The Redis tests are skipped without
//! `AXUM_USERS_TEST_REDIS_URL` unless `AXUM_USERS_REQUIRE_SERVICES` is set.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RefreshStrategy,
};
use axum_users::client::TrustedProxies;
use axum_users::http::request::Parts;
use axum_users::store::{MemoryStore, RedisSessionStore};
use axum_users::throttle::{Limit, LoginThrottle, MemoryThrottle, RedisThrottle};
use axum_users::{AxumUsers, Email, NoHooks, Password, User, UserCreate, UserHooks, UserManager};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::common::audit::Capture;
use crate::common::services::{service_url, unreachable_service};
use crate::common::{PASSWORD, SECRET, body_json, fast_hasher, json_request, login_request};

/// A wrong password no test ever stores.
const WRONG: &str = "wrong-password-5f0c9a";
/// The window of most tests: longer than any test.
const WINDOW: Duration = Duration::from_secs(300);
const JWT_LOGIN: &str = "/auth/jwt/login";
const LOCKED: &str = "LOGIN_TOO_MANY_ATTEMPTS";

/// Every login route of the app and what a successful login answers.
const LOGIN_ROUTES: [(&str, StatusCode); 4] = [
    ("/auth/jwt/login", StatusCode::OK),
    ("/auth/cookie/login", StatusCode::NO_CONTENT),
    ("/auth/session/login", StatusCode::NO_CONTENT),
    ("/auth/token/login", StatusCode::OK),
];

// ---------------------------------------------------------------------------
// The app under test.

/// The routers of the example server, with four login routes: `/auth/jwt`
/// (bearer JWT), `/auth/cookie` (cookie JWT), `/auth/session` (database
/// sessions behind a cookie) and `/auth/token` (refresh tokens).
struct App<H = NoHooks> {
    router: Router,
    manager: UserManager<MemoryStore<User>, H>,
}

/// How an app is built.
struct Setup<H> {
    store: MemoryStore<User>,
    throttle: Option<LoginThrottle>,
    proxies: TrustedProxies,
    hooks: H,
    current_password_on_update: bool,
}

impl Setup<NoHooks> {
    fn new(throttle: Option<LoginThrottle>) -> Self {
        Self {
            store: MemoryStore::new(),
            throttle,
            proxies: TrustedProxies::none(),
            hooks: NoHooks,
            current_password_on_update: false,
        }
    }
}

impl<H: UserHooks<User>> Setup<H> {
    fn store(mut self, store: MemoryStore<User>) -> Self {
        self.store = store;
        self
    }

    fn proxies(mut self, proxies: &str) -> Self {
        self.proxies = TrustedProxies::parse(proxies).unwrap();
        self
    }

    fn hooks<H2: UserHooks<User>>(self, hooks: H2) -> Setup<H2> {
        Setup {
            store: self.store,
            throttle: self.throttle,
            proxies: self.proxies,
            hooks,
            current_password_on_update: self.current_password_on_update,
        }
    }

    fn current_password_on_update(mut self) -> Self {
        self.current_password_on_update = true;
        self
    }

    fn build(self) -> App<H> {
        let mut builder = UserManager::builder(self.store.clone())
            .hasher(fast_hasher())
            .token_secret(SECRET)
            .current_password_on_update(self.current_password_on_update)
            .hooks(self.hooks);
        if let Some(throttle) = self.throttle {
            builder = builder.login_throttle(throttle);
        }
        let manager = builder.build();
        let jwt = JwtStrategy::hs256(SECRET).unwrap();
        let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
        let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt.clone());
        let session = AuthBackend::new(
            "session",
            CookieTransport::new().name("fastapiuserssession"),
            DatabaseStrategy::new(self.store.clone()),
        );
        let refresh = RefreshStrategy::new(jwt.lifetime(Duration::from_secs(900)), self.store);
        let token = AuthBackend::new("token", BearerTransport::new("auth/token/login"), refresh);
        let users = AxumUsers::new(
            manager.clone(),
            vec![
                bearer.clone(),
                cookie.clone(),
                session.clone(),
                token.clone(),
            ],
        )
        .trusted_proxies(self.proxies);
        let router = users
            .routes()
            .auth("/auth/jwt", &bearer)
            .auth("/auth/cookie", &cookie)
            .auth("/auth/session", &session)
            .auth("/auth/token", &token)
            .register("/auth")
            .users("/users")
            .into_router()
            .layer(users.layer());
        App { router, manager }
    }
}

/// A response: status, headers and JSON body (`Null` when empty).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    /// The names of its headers, sorted.
    fn header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.headers.keys().map(|n| n.to_string()).collect();
        names.sort();
        names.dedup();
        names
    }
}

impl<H: UserHooks<User>> App<H> {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        Answer {
            status,
            headers,
            body: body_json(response).await,
        }
    }

    /// A login on `route` with no client address known.
    async fn login(&self, route: &str, email: &str, password: &str) -> Answer {
        self.send(login_request(route, email, password)).await
    }

    /// A login on `/auth/jwt/login` from the socket peer `peer`.
    async fn login_from(&self, peer: &str, email: &str, password: &str) -> Answer {
        self.send(from_peer(peer, login_request(JWT_LOGIN, email, password)))
            .await
    }

    async fn create(&self, email: &str) -> User {
        let create = UserCreate::new(Email::parse(email).unwrap(), PASSWORD);
        self.manager.create(create, false, None).await.unwrap()
    }
}

/// `request` as the server sees it from the socket peer `peer` (what
/// `into_make_service_with_connect_info::<SocketAddr>()` puts there).
fn from_peer(peer: &str, mut request: Request<Body>) -> Request<Body> {
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

/// `request` with one more header line.
fn with_header(name: &'static str, value: &str, mut request: Request<Body>) -> Request<Body> {
    request.headers_mut().append(name, value.parse().unwrap());
    request
}

fn per_address(max: u32, window: Duration) -> LoginThrottle {
    LoginThrottle::new(MemoryThrottle::new()).per_address(Some(Limit::new(max, window)))
}

fn per_client(max: u32) -> LoginThrottle {
    LoginThrottle::new(MemoryThrottle::new()).per_client(Some(Limit::new(max, WINDOW)))
}

/// A failed login: 400 `LOGIN_BAD_CREDENTIALS`.
#[track_caller]
fn assert_bad_credentials(answer: &Answer, context: &str) {
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "{context}: {answer:?}"
    );
    assert_eq!(
        answer.body,
        json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
        "{context}"
    );
}

/// A locked login: 429 `{"detail": "LOGIN_TOO_MANY_ATTEMPTS"}` and
/// `Retry-After` in whole seconds within (0, window]; the seconds.
#[track_caller]
fn assert_locked(answer: &Answer, window: Duration, context: &str) -> u64 {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{context}: {answer:?}"
    );
    assert_eq!(answer.body, json!({"detail": LOCKED}), "{context}");
    let values: Vec<_> = answer.headers.get_all("retry-after").iter().collect();
    assert_eq!(values.len(), 1, "{context}: one Retry-After: {answer:?}");
    let text = values[0].to_str().unwrap();
    assert!(
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        "{context}: Retry-After is whole seconds, not {text:?}"
    );
    let seconds: u64 = text.parse().unwrap();
    assert!(
        seconds > 0 && seconds <= window.as_secs(),
        "{context}: Retry-After {seconds} is within (0, {}]",
        window.as_secs()
    );
    seconds
}

/// A successful login on `route`.
#[track_caller]
fn assert_logged_in(answer: &Answer, expected: StatusCode, context: &str) {
    assert_eq!(answer.status, expected, "{context}: {answer:?}");
}

// ---------------------------------------------------------------------------
// Per address.

#[tokio::test]
async fn the_right_password_logs_in_until_the_limit_is_reached() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("before@example.org").await;
    for i in 0..2 {
        let answer = app.login(JWT_LOGIN, "before@example.org", WRONG).await;
        assert_bad_credentials(&answer, &format!("failure {}", i + 1));
    }
    let answer = app.login(JWT_LOGIN, "before@example.org", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(answer.body["access_token"].is_string(), "{answer:?}");
    assert!(answer.headers.get("retry-after").is_none());
}

#[tokio::test]
async fn after_n_failures_the_address_is_locked_even_with_the_right_password() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("locked@example.org").await;
    for i in 0..3 {
        let answer = app.login(JWT_LOGIN, "locked@example.org", WRONG).await;
        assert_bad_credentials(&answer, &format!("failure {}", i + 1));
    }
    let right = app.login(JWT_LOGIN, "locked@example.org", PASSWORD).await;
    assert_locked(&right, WINDOW, "the right password after the limit");
    assert!(right.headers.get("set-cookie").is_none());
    let wrong = app.login(JWT_LOGIN, "locked@example.org", WRONG).await;
    assert_locked(&wrong, WINDOW, "a wrong password after the limit");
    // Still locked: the 429s did not open it again.
    let again = app.login(JWT_LOGIN, "locked@example.org", PASSWORD).await;
    assert_locked(&again, WINDOW, "the right password once more");
}

#[tokio::test]
async fn the_lock_ends_when_the_window_has_passed() {
    let window = Duration::from_secs(1);
    let app = Setup::new(Some(per_address(2, window))).build();
    app.create("window@example.org").await;
    for _ in 0..2 {
        assert_bad_credentials(
            &app.login(JWT_LOGIN, "window@example.org", WRONG).await,
            "failure",
        );
    }
    let locked = app.login(JWT_LOGIN, "window@example.org", PASSWORD).await;
    assert_eq!(assert_locked(&locked, window, "locked"), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let answer = app.login(JWT_LOGIN, "window@example.org", PASSWORD).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "after the window: {answer:?}"
    );
}

#[tokio::test]
async fn an_unknown_address_is_locked_like_a_known_one_and_the_lock_reveals_nothing() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("known@example.org").await;
    let known = "known@example.org";
    let unknown = "nobody@example.org";
    for i in 0..3 {
        let a = app.login(JWT_LOGIN, known, WRONG).await;
        let b = app.login(JWT_LOGIN, unknown, WRONG).await;
        let context = format!("failure {}", i + 1);
        assert_bad_credentials(&a, &context);
        assert_bad_credentials(&b, &context);
        assert_eq!(a.body, b.body, "{context}");
        assert_eq!(a.header_names(), b.header_names(), "{context}");
    }
    // The right password of the known address, any password of the unknown.
    let a = app.login(JWT_LOGIN, known, PASSWORD).await;
    let b = app.login(JWT_LOGIN, unknown, PASSWORD).await;
    assert_locked(&a, WINDOW, "the known address");
    assert_locked(&b, WINDOW, "the unknown address");
    assert_eq!(a.status, b.status);
    assert_eq!(a.body, b.body);
    assert_eq!(a.header_names(), b.header_names());
    for answer in [&a, &b] {
        assert!(answer.headers.get("set-cookie").is_none(), "{answer:?}");
    }
    // The unknown address stays locked with a wrong password too.
    let c = app.login(JWT_LOGIN, unknown, WRONG).await;
    assert_locked(&c, WINDOW, "the unknown address again");
}

#[tokio::test]
async fn a_success_before_the_limit_clears_the_count() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("clears@example.org").await;
    for round in 0..3 {
        for i in 0..2 {
            let answer = app.login(JWT_LOGIN, "clears@example.org", WRONG).await;
            assert_bad_credentials(&answer, &format!("round {round}, failure {}", i + 1));
        }
        let answer = app.login(JWT_LOGIN, "clears@example.org", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "round {round}: {answer:?}");
    }
    // The count starts from nothing: three more failures are needed to lock.
    for i in 0..3 {
        let answer = app.login(JWT_LOGIN, "clears@example.org", WRONG).await;
        assert_bad_credentials(&answer, &format!("after the success, failure {}", i + 1));
    }
    let answer = app.login(JWT_LOGIN, "clears@example.org", PASSWORD).await;
    assert_locked(&answer, WINDOW, "three failures after the last success");
}

#[tokio::test]
async fn other_addresses_are_not_affected_by_one_address_lock() {
    let app = Setup::new(Some(per_address(2, WINDOW))).build();
    app.create("victim@example.org").await;
    app.create("bystander@example.org").await;
    for _ in 0..2 {
        assert_bad_credentials(
            &app.login(JWT_LOGIN, "victim@example.org", WRONG).await,
            "failure",
        );
    }
    assert_locked(
        &app.login(JWT_LOGIN, "victim@example.org", PASSWORD).await,
        WINDOW,
        "the locked address",
    );
    let answer = app
        .login(JWT_LOGIN, "bystander@example.org", PASSWORD)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // And another address's count starts from nothing.
    assert_bad_credentials(
        &app.login(JWT_LOGIN, "bystander@example.org", WRONG).await,
        "bystander's first failure",
    );
    let answer = app
        .login(JWT_LOGIN, "bystander@example.org", PASSWORD)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

#[tokio::test]
async fn addresses_are_counted_case_insensitively() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("case@example.org").await;
    for spelling in ["Case@example.org", "CASE@EXAMPLE.ORG", "case@Example.Org"] {
        assert_bad_credentials(&app.login(JWT_LOGIN, spelling, WRONG).await, spelling);
    }
    for spelling in ["case@example.org", "CaSe@eXample.org"] {
        assert_locked(
            &app.login(JWT_LOGIN, spelling, PASSWORD).await,
            WINDOW,
            spelling,
        );
    }
    // An unknown address too.
    for spelling in ["A@x.org", "a@X.ORG", "A@X.org"] {
        assert_bad_credentials(&app.login(JWT_LOGIN, spelling, WRONG).await, spelling);
    }
    assert_locked(
        &app.login(JWT_LOGIN, "a@x.org", WRONG).await,
        WINDOW,
        "a@x.org after A@x.org's failures",
    );
}

// ---------------------------------------------------------------------------
// Every login route, and the current-password checks.

#[tokio::test]
async fn each_login_route_locks_an_address_after_its_own_failures() {
    for (route, success) in LOGIN_ROUTES {
        let app = Setup::new(Some(per_address(2, WINDOW))).build();
        app.create("route@example.org").await;
        // The right password works on the route before any failure.
        assert_logged_in(
            &app.login(route, "route@example.org", PASSWORD).await,
            success,
            route,
        );
        for _ in 0..2 {
            assert_bad_credentials(&app.login(route, "route@example.org", WRONG).await, route);
            assert_bad_credentials(&app.login(route, "ghost@example.org", WRONG).await, route);
        }
        let known = app.login(route, "route@example.org", PASSWORD).await;
        assert_locked(&known, WINDOW, route);
        assert!(
            known.headers.get("set-cookie").is_none(),
            "{route}: {known:?}"
        );
        assert_locked(
            &app.login(route, "ghost@example.org", PASSWORD).await,
            WINDOW,
            route,
        );
    }
}

#[tokio::test]
async fn failures_spread_over_every_login_route_add_up_for_one_address() {
    let app = Setup::new(Some(per_address(4, WINDOW))).build();
    app.create("spread@example.org").await;
    for (route, _) in LOGIN_ROUTES {
        assert_bad_credentials(&app.login(route, "spread@example.org", WRONG).await, route);
    }
    // Four failures, one per route: every route is locked now.
    for (route, _) in LOGIN_ROUTES {
        assert_locked(
            &app.login(route, "spread@example.org", PASSWORD).await,
            WINDOW,
            route,
        );
    }
}

#[tokio::test]
async fn a_success_on_one_route_clears_the_count_of_every_route() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("mixed@example.org").await;
    assert_bad_credentials(
        &app.login("/auth/cookie/login", "mixed@example.org", WRONG)
            .await,
        "cookie",
    );
    assert_bad_credentials(
        &app.login("/auth/token/login", "mixed@example.org", WRONG)
            .await,
        "token",
    );
    assert_logged_in(
        &app.login("/auth/session/login", "mixed@example.org", PASSWORD)
            .await,
        StatusCode::NO_CONTENT,
        "session",
    );
    assert_bad_credentials(
        &app.login("/auth/jwt/login", "mixed@example.org", WRONG)
            .await,
        "jwt",
    );
    assert_bad_credentials(
        &app.login("/auth/cookie/login", "mixed@example.org", WRONG)
            .await,
        "cookie",
    );
    assert_logged_in(
        &app.login("/auth/token/login", "mixed@example.org", PASSWORD)
            .await,
        StatusCode::OK,
        "token",
    );
}

fn change_password(token: &str, current: &str) -> Request<Body> {
    json_request(
        "POST",
        "/users/me/change-password",
        Some(token),
        &json!({"current_password": current, "new_password": "a brand new password 42"}),
    )
}

fn change_email(token: &str, current: &str) -> Request<Body> {
    json_request(
        "POST",
        "/users/me/change-email",
        Some(token),
        &json!({"email": "elsewhere@example.org", "current_password": current}),
    )
}

#[tokio::test]
async fn wrong_current_passwords_count_and_lock_change_password_and_login() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("current@example.org").await;
    let login = app.login(JWT_LOGIN, "current@example.org", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    for i in 0..3 {
        let answer = app.send(change_password(&token, WRONG)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{i}: {answer:?}");
        assert_eq!(answer.body, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    }
    // Locked: the right current password is refused, and so is a login.
    let answer = app.send(change_password(&token, PASSWORD)).await;
    assert_locked(&answer, WINDOW, "change-password with the right password");
    let answer = app.send(change_email(&token, PASSWORD)).await;
    assert_locked(&answer, WINDOW, "change-email with the right password");
    for (route, _) in LOGIN_ROUTES {
        assert_locked(
            &app.login(route, "current@example.org", PASSWORD).await,
            WINDOW,
            route,
        );
    }
    // Nothing changed: the password is still the old one (checked through
    // the manager, which the throttle does not guard).
    let user = app
        .manager
        .authenticate("current@example.org", &Password::new(PASSWORD))
        .await
        .unwrap();
    assert!(user.is_some(), "the password was not changed");
}

#[tokio::test]
async fn failed_logins_and_wrong_current_passwords_add_up() {
    let app = Setup::new(Some(per_address(3, WINDOW))).build();
    app.create("adds@example.org").await;
    let login = app.login(JWT_LOGIN, "adds@example.org", PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_bad_credentials(
        &app.login("/auth/cookie/login", "adds@example.org", WRONG)
            .await,
        "login",
    );
    let answer = app.send(change_password(&token, WRONG)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    assert_eq!(answer.body, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    let answer = app.send(change_email(&token, WRONG)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    assert_eq!(answer.body, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    assert_locked(
        &app.login(JWT_LOGIN, "adds@example.org", PASSWORD).await,
        WINDOW,
        "login after one failed login and two wrong current passwords",
    );
    assert_locked(
        &app.send(change_password(&token, PASSWORD)).await,
        WINDOW,
        "change-password",
    );
}

// ---------------------------------------------------------------------------
// Per client address.

#[tokio::test]
async fn a_client_is_locked_across_addresses_while_another_client_is_not() {
    let app = Setup::new(Some(per_client(3))).build();
    app.create("one@example.org").await;
    app.create("two@example.org").await;
    let attacker = "198.51.100.4:40000";
    for email in ["one@example.org", "nobody@example.org", "two@example.org"] {
        assert_bad_credentials(&app.login_from(attacker, email, WRONG).await, email);
    }
    // Another port of the same address is the same client.
    for email in ["one@example.org", "two@example.org", "fresh@example.org"] {
        assert_locked(
            &app.login_from("198.51.100.4:40001", email, PASSWORD).await,
            WINDOW,
            email,
        );
    }
    // Another client logs in to the same accounts (no per-address limit here).
    for email in ["one@example.org", "two@example.org"] {
        let answer = app.login_from("198.51.100.5:40000", email, PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "{email}: {answer:?}");
    }
    let answer = app
        .login_from("198.51.100.5:40000", "nobody@example.org", WRONG)
        .await;
    assert_bad_credentials(&answer, "another client's failure");
}

#[tokio::test]
async fn wrong_current_passwords_of_patch_me_count_toward_the_client_limit() {
    let app = Setup::new(Some(per_client(3)))
        .current_password_on_update()
        .build();
    app.create("patcher@example.org").await;
    app.create("other@example.org").await;
    let peer = "198.51.100.77:4000";
    let login = app
        .send(from_peer(
            peer,
            login_request(JWT_LOGIN, "patcher@example.org", PASSWORD),
        ))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    for i in 0..3 {
        let patch = json_request(
            "PATCH",
            "/users/me",
            Some(&token),
            &json!({"email": format!("moved{i}@example.org"), "current_password": WRONG}),
        );
        let answer = app.send(from_peer(peer, patch)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{i}: {answer:?}");
        assert_eq!(answer.body, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    }
    // The client is locked, for another account too; another client is not.
    let answer = app.login_from(peer, "other@example.org", PASSWORD).await;
    assert_locked(
        &answer,
        WINDOW,
        "a login from the client after three wrong PATCHes",
    );
    let answer = app
        .login_from("198.51.100.78:4000", "other@example.org", PASSWORD)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

#[tokio::test]
async fn every_login_route_counts_toward_the_client_limit() {
    let app = Setup::new(Some(per_client(4))).build();
    app.create("client@example.org").await;
    let peer = "203.0.113.50:1234";
    for (i, (route, _)) in LOGIN_ROUTES.into_iter().enumerate() {
        let email = format!("nobody{i}@example.org");
        let request = from_peer(peer, login_request(route, &email, WRONG));
        assert_bad_credentials(&app.send(request).await, route);
    }
    for (route, _) in LOGIN_ROUTES {
        let request = from_peer(peer, login_request(route, "client@example.org", PASSWORD));
        assert_locked(&app.send(request).await, WINDOW, route);
    }
}

#[tokio::test]
async fn two_ipv6_addresses_of_one_64_share_a_count_and_another_64_does_not() {
    let app = Setup::new(Some(per_client(3))).build();
    app.create("six@example.org").await;
    for peer in [
        "[2001:db8:1:2::a]:5000",
        "[2001:db8:1:2:ffff:ffff:ffff:fffe]:5001",
        "[2001:db8:1:2::a]:5002",
    ] {
        assert_bad_credentials(
            &app.login_from(peer, "nobody@example.org", WRONG).await,
            peer,
        );
    }
    for peer in ["[2001:db8:1:2::1234]:6000", "[2001:db8:1:2:8000::1]:6001"] {
        assert_locked(
            &app.login_from(peer, "six@example.org", PASSWORD).await,
            WINDOW,
            peer,
        );
    }
    // The neighbouring /64s are other clients.
    for peer in ["[2001:db8:1:3::a]:5000", "[2001:db8:1:1::a]:5000"] {
        let answer = app.login_from(peer, "six@example.org", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "{peer}: {answer:?}");
    }
    let answer = app
        .login_from("[2001:db8:1:3::a]:5000", "nobody@example.org", WRONG)
        .await;
    assert_bad_credentials(&answer, "another /64's failure");
}

#[tokio::test]
async fn an_ipv4_mapped_client_is_counted_with_its_ipv4_address() {
    let app = Setup::new(Some(per_client(3))).build();
    app.create("mapped@example.org").await;
    for peer in [
        "[::ffff:192.0.2.7]:1000",
        "192.0.2.7:1001",
        "[::ffff:192.0.2.7]:1002",
    ] {
        assert_bad_credentials(
            &app.login_from(peer, "nobody@example.org", WRONG).await,
            peer,
        );
    }
    for peer in ["192.0.2.7:2000", "[::ffff:192.0.2.7]:2001"] {
        assert_locked(
            &app.login_from(peer, "mapped@example.org", PASSWORD).await,
            WINDOW,
            peer,
        );
    }
    // Its IPv4 neighbour, mapped or not, is another client.
    for peer in ["192.0.2.8:1000", "[::ffff:192.0.2.9]:1000"] {
        let answer = app.login_from(peer, "mapped@example.org", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "{peer}: {answer:?}");
    }
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // Only 10.0.0.0/8 is trusted; the peer is not in it.
    let app = Setup::new(Some(per_client(3)))
        .proxies("10.0.0.0/8")
        .build();
    app.create("spoof@example.org").await;
    let peer = "198.51.100.4:40000";
    for (i, forwarded_for) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .into_iter()
        .enumerate()
    {
        let request = login_request(JWT_LOGIN, &format!("nobody{i}@example.org"), WRONG);
        let request = with_header("x-forwarded-for", forwarded_for, request);
        let request = with_header("forwarded", &format!("for={forwarded_for}"), request);
        assert_bad_credentials(&app.send(from_peer(peer, request)).await, forwarded_for);
    }
    // The peer was counted, whatever it claimed.
    let request = login_request(JWT_LOGIN, "spoof@example.org", PASSWORD);
    let request = with_header("x-forwarded-for", "203.0.113.99", request);
    assert_locked(&app.send(from_peer(peer, request)).await, WINDOW, "peer");
    // And claiming the locked peer's address locks no one else.
    let request = login_request(JWT_LOGIN, "spoof@example.org", PASSWORD);
    let request = with_header("x-forwarded-for", "198.51.100.4", request);
    let answer = app.send(from_peer("198.51.100.5:40000", request)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

#[tokio::test]
async fn a_trusted_proxy_s_forwarded_client_is_counted_not_the_proxy() {
    let app = Setup::new(Some(per_client(2)))
        .proxies("10.0.0.0/8")
        .build();
    app.create("proxied@example.org").await;
    let via = |proxy: &str, header: &'static str, value: &str, email: &str, password: &str| {
        from_peer(
            proxy,
            with_header(header, value, login_request(JWT_LOGIN, email, password)),
        )
    };
    let first = via(
        "10.0.0.1:443",
        "x-forwarded-for",
        "203.0.113.7, 10.0.0.2",
        "nobody@example.org",
        WRONG,
    );
    assert_bad_credentials(&app.send(first).await, "X-Forwarded-For");
    let second = via(
        "10.0.0.2:443",
        "forwarded",
        "for=203.0.113.7",
        "nobody@example.org",
        WRONG,
    );
    assert_bad_credentials(&app.send(second).await, "Forwarded");
    // 203.0.113.7 is locked, through either proxy and either header.
    let locked = via(
        "10.0.0.1:443",
        "x-forwarded-for",
        "203.0.113.7",
        "proxied@example.org",
        PASSWORD,
    );
    assert_locked(&app.send(locked).await, WINDOW, "the forwarded client");
    let locked = via(
        "10.0.0.3:443",
        "forwarded",
        "for=\"[::ffff:203.0.113.7]:4711\"",
        "proxied@example.org",
        PASSWORD,
    );
    assert_locked(
        &app.send(locked).await,
        WINDOW,
        "the forwarded client, mapped",
    );
    // Another client behind the same proxy is not.
    let other = via(
        "10.0.0.1:443",
        "x-forwarded-for",
        "203.0.113.8",
        "proxied@example.org",
        PASSWORD,
    );
    let answer = app.send(other).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

/// The contract counts failures per client ("failures from one IP across
/// addresses"): a success neither clears the client's count nor adds to it.
#[tokio::test]
async fn a_success_does_not_clear_the_per_client_count() {
    let app = Setup::new(Some(per_client(3))).build();
    app.create("success@example.org").await;
    let peer = "198.51.100.20:5000";
    for i in 0..2 {
        assert_bad_credentials(
            &app.login_from(peer, "nobody@example.org", WRONG).await,
            &format!("failure {}", i + 1),
        );
    }
    let answer = app.login_from(peer, "success@example.org", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // The third failure is still allowed (it is the third), and it locks.
    assert_bad_credentials(
        &app.login_from(peer, "nobody@example.org", WRONG).await,
        "failure 3, after a success",
    );
    assert_locked(
        &app.login_from(peer, "success@example.org", PASSWORD).await,
        WINDOW,
        "after three failures and a success",
    );
}

/// The contract counts failures per client, not attempts: an office behind
/// one address whose users log in successfully is never locked out.
#[tokio::test]
async fn successful_logins_do_not_use_up_the_per_client_limit() {
    let app = Setup::new(Some(per_client(3))).build();
    app.create("office@example.org").await;
    let peer = "198.51.100.30:5000";
    for i in 0..6 {
        let answer = app.login_from(peer, "office@example.org", PASSWORD).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "success {}: {answer:?}",
            i + 1
        );
    }
}

#[tokio::test]
async fn without_a_client_address_the_per_client_limit_does_not_apply() {
    let app = Setup::new(Some(per_client(2))).build();
    app.create("noclient@example.org").await;
    for i in 0..10 {
        let email = format!("nobody{i}@example.org");
        assert_bad_credentials(&app.login(JWT_LOGIN, &email, WRONG).await, &email);
    }
    let answer = app.login(JWT_LOGIN, "noclient@example.org", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // Forwarding headers without a peer name no client either.
    for _ in 0..3 {
        let request = with_header(
            "x-forwarded-for",
            "203.0.113.7",
            login_request(JWT_LOGIN, "nobody@example.org", WRONG),
        );
        assert_bad_credentials(&app.send(request).await, "with X-Forwarded-For");
    }
}

#[tokio::test]
async fn both_limits_apply_together() {
    let throttle = LoginThrottle::new(MemoryThrottle::new())
        .per_address(Some(Limit::new(2, WINDOW)))
        .per_client(Some(Limit::new(5, WINDOW)));
    let app = Setup::new(Some(throttle)).build();
    app.create("both@example.org").await;
    let peer = "198.51.100.40:5000";
    // The address locks after 2, from any client.
    for _ in 0..2 {
        assert_bad_credentials(
            &app.login_from(peer, "both@example.org", WRONG).await,
            "address",
        );
    }
    assert_locked(
        &app.login_from("198.51.100.41:5000", "both@example.org", PASSWORD)
            .await,
        WINDOW,
        "the address from another client",
    );
    // The client locks after 5 failures over addresses none of which is locked.
    for i in 0..3 {
        let email = format!("nobody{i}@example.org");
        assert_bad_credentials(&app.login_from(peer, &email, WRONG).await, &email);
    }
    assert_locked(
        &app.login_from(peer, "fresh@example.org", WRONG).await,
        WINDOW,
        "the client",
    );
}

// ---------------------------------------------------------------------------
// Off.

#[tokio::test]
async fn without_a_throttle_failures_never_lock() {
    let app = Setup::new(None).build();
    app.create("unthrottled@example.org").await;
    for i in 0..50 {
        let email = match i % 2 {
            0 => "unthrottled@example.org",
            _ => "nobody@example.org",
        };
        let answer = app.login_from("198.51.100.50:5000", email, WRONG).await;
        assert_bad_credentials(&answer, &format!("failure {}", i + 1));
    }
    let answer = app
        .login_from("198.51.100.50:5000", "unthrottled@example.org", PASSWORD)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let token = answer.body["access_token"].as_str().unwrap().to_owned();
    for _ in 0..10 {
        let answer = app.send(change_password(&token, WRONG)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    }
    assert_eq!(
        app.login(JWT_LOGIN, "unthrottled@example.org", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------
// Hooks.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Failed {
        email: String,
        user: Option<Uuid>,
        with_request: bool,
    },
    Lockout {
        email: String,
        user: Option<Uuid>,
        with_request: bool,
    },
    Login(Uuid),
}

#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for Recorder {
    async fn on_failed_login(
        &self,
        email: &str,
        user: Option<&User>,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.calls.lock().unwrap().push(Call::Failed {
            email: email.to_owned(),
            user: user.map(|u| u.id),
            with_request: request.is_some(),
        });
        Ok(())
    }

    async fn on_lockout(
        &self,
        email: &str,
        user: Option<&User>,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.calls.lock().unwrap().push(Call::Lockout {
            email: email.to_owned(),
            user: user.map(|u| u.id),
            with_request: request.is_some(),
        });
        Ok(())
    }

    async fn on_after_login(
        &self,
        user: &User,
        _request: Option<&Parts>,
        _response: Option<&mut axum::response::Response>,
    ) -> axum_users::Result<()> {
        self.calls.lock().unwrap().push(Call::Login(user.id));
        Ok(())
    }
}

fn failed(email: &str, user: Option<Uuid>) -> Call {
    Call::Failed {
        email: email.to_owned(),
        user,
        with_request: true,
    }
}

fn lockout(email: &str, user: Option<Uuid>) -> Call {
    Call::Lockout {
        email: email.to_owned(),
        user,
        with_request: true,
    }
}

#[tokio::test]
async fn failed_login_hooks_fire_on_each_failure_and_lockout_once_at_the_limit() {
    let recorder = Recorder::default();
    let app = Setup::new(Some(per_address(3, WINDOW)))
        .hooks(recorder.clone())
        .build();
    let user = app.create("hooked@example.org").await;
    let known = "hooked@example.org";
    let unknown = "nobody@example.org";

    // A failure, a success (no failure hook), then three failures: the third locks.
    app.login(JWT_LOGIN, known, WRONG).await;
    let ok = app.login(JWT_LOGIN, known, PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK);
    for _ in 0..3 {
        app.login(JWT_LOGIN, known, WRONG).await;
    }
    assert_eq!(
        recorder.take(),
        vec![
            failed(known, Some(user.id)),
            Call::Login(user.id),
            failed(known, Some(user.id)),
            failed(known, Some(user.id)),
            failed(known, Some(user.id)),
            lockout(known, Some(user.id)),
        ]
    );
    // Locked: no more lockouts, and no login.
    for password in [PASSWORD, WRONG, PASSWORD] {
        assert_locked(&app.login(JWT_LOGIN, known, password).await, WINDOW, known);
    }
    let after = recorder.take();
    assert!(
        !after
            .iter()
            .any(|c| matches!(c, Call::Lockout { .. } | Call::Login(_))),
        "{after:?}"
    );

    // An unknown address: the hooks get no user.
    for _ in 0..3 {
        app.login("/auth/cookie/login", unknown, WRONG).await;
    }
    assert_eq!(
        recorder.take(),
        vec![
            failed(unknown, None),
            failed(unknown, None),
            failed(unknown, None),
            lockout(unknown, None),
        ]
    );
}

#[tokio::test]
async fn a_success_on_the_last_allowed_attempt_fires_no_failure_hook() {
    let recorder = Recorder::default();
    let app = Setup::new(Some(per_address(3, WINDOW)))
        .hooks(recorder.clone())
        .build();
    let user = app.create("last@example.org").await;
    for _ in 0..2 {
        app.login(JWT_LOGIN, "last@example.org", WRONG).await;
    }
    let answer = app.login(JWT_LOGIN, "last@example.org", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        recorder.take(),
        vec![
            failed("last@example.org", Some(user.id)),
            failed("last@example.org", Some(user.id)),
            Call::Login(user.id),
        ]
    );
}

#[tokio::test]
async fn an_inactive_account_s_logins_count_and_the_hooks_get_the_account() {
    let recorder = Recorder::default();
    let app = Setup::new(Some(per_address(2, WINDOW)))
        .hooks(recorder.clone())
        .build();
    let mut create = UserCreate::new(Email::parse("inactive@example.org").unwrap(), PASSWORD);
    create.is_active = Some(false);
    let user = app.manager.create(create, false, None).await.unwrap();
    for _ in 0..2 {
        assert_bad_credentials(
            &app.login(JWT_LOGIN, "inactive@example.org", PASSWORD).await,
            "inactive, right password",
        );
    }
    assert_locked(
        &app.login(JWT_LOGIN, "inactive@example.org", PASSWORD).await,
        WINDOW,
        "inactive",
    );
    let calls = recorder.take();
    assert_eq!(
        calls[..3],
        [
            failed("inactive@example.org", Some(user.id)),
            failed("inactive@example.org", Some(user.id)),
            lockout("inactive@example.org", Some(user.id)),
        ],
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_wrong_current_password_fires_the_failure_hooks() {
    let recorder = Recorder::default();
    let app = Setup::new(Some(per_address(2, WINDOW)))
        .hooks(recorder.clone())
        .build();
    let user = app.create("hookcurrent@example.org").await;
    let login = app
        .login(JWT_LOGIN, "hookcurrent@example.org", PASSWORD)
        .await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    recorder.take();
    for _ in 0..2 {
        app.send(change_password(&token, WRONG)).await;
    }
    assert_eq!(
        recorder.take(),
        vec![
            failed("hookcurrent@example.org", Some(user.id)),
            failed("hookcurrent@example.org", Some(user.id)),
            lockout("hookcurrent@example.org", Some(user.id)),
        ]
    );
}

// ---------------------------------------------------------------------------
// Audit events.

#[tokio::test]
async fn failed_logins_and_the_lockout_are_audited_with_the_user_and_the_client_never_the_password()
{
    let (capture, _capturing) = Capture::start();
    let app = Setup::new(Some(per_address(2, WINDOW))).build();
    let user = app.create("audited@example.org").await;
    let id = user.id.to_string();
    let peer = "198.51.100.60:5000";
    let client = "198.51.100.60";

    for _ in 0..2 {
        assert_bad_credentials(
            &app.login_from(peer, "audited@example.org", WRONG).await,
            "known",
        );
    }
    assert_bad_credentials(
        &app.login_from(peer, "nobody@example.org", WRONG).await,
        "unknown",
    );
    assert_locked(
        &app.login_from(peer, "audited@example.org", PASSWORD).await,
        WINDOW,
        "locked",
    );
    // A wrong current password is audited the same way.
    let other = app.create("audited2@example.org").await;
    let login = app.login_from(peer, "audited2@example.org", PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let request = from_peer(peer, change_password(&token, WRONG));
    assert_eq!(app.send(request).await.status, StatusCode::BAD_REQUEST);

    let failures = capture.audit("login_failed");
    assert_eq!(failures.len(), 4, "{failures:#?}");
    let users: Vec<&str> = failures
        .iter()
        .map(|e| e.fields.get("user").map(String::as_str).unwrap_or(""))
        .collect();
    assert_eq!(users[0], id);
    assert_eq!(users[1], id);
    assert_ne!(users[2], id, "an unknown address names no user");
    assert!(!users[2].is_empty());
    assert_eq!(users[3], other.id.to_string());
    for event in &failures {
        assert_eq!(
            event.fields.get("client").map(String::as_str),
            Some(client),
            "{event:?}"
        );
    }
    let lockouts = capture.audit("lockout");
    assert_eq!(lockouts.len(), 1, "{lockouts:#?}");
    assert_eq!(lockouts[0].fields.get("user"), Some(&id));
    assert_eq!(
        lockouts[0].fields.get("client").map(String::as_str),
        Some(client)
    );

    // No event of any target carries a password.
    let events = capture.all();
    assert!(!events.is_empty());
    for event in &events {
        for (name, value) in &event.fields {
            for secret in [WRONG, PASSWORD] {
                assert!(
                    !value.contains(secret),
                    "{} field {name} carries a password: {value}",
                    event.target
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Redis.

const REDIS_URL: &str = "AXUM_USERS_TEST_REDIS_URL";

/// Two instances of the application (two managers, two throttles, one user
/// store) counting in one Redis under a prefix of this test's own.
#[tokio::test]
async fn redis_counters_are_shared_by_two_instances() {
    let Some(url) = service_url(REDIS_URL, "Redis") else {
        return;
    };
    let window = Duration::from_secs(60);
    let prefix = format!("axum-users-throttle-test-{}:", Uuid::new_v4().simple());
    let mut apps = Vec::new();
    let store = MemoryStore::<User>::new();
    for _ in 0..2 {
        let redis = RedisSessionStore::connect(&url)
            .await
            .unwrap_or_else(|e| unreachable_service("Redis", &e));
        let throttle = LoginThrottle::new(RedisThrottle::new(redis).prefix(prefix.clone()))
            .per_address(Some(Limit::new(3, window)));
        apps.push(Setup::new(Some(throttle)).store(store.clone()).build());
    }
    let (a, b) = (&apps[0], &apps[1]);
    a.create("shared@example.org").await;
    b.create("cleared@example.org").await;

    // Failures on A lock the address on B.
    for _ in 0..3 {
        assert_bad_credentials(&a.login(JWT_LOGIN, "shared@example.org", WRONG).await, "A");
    }
    assert_locked(
        &b.login(JWT_LOGIN, "shared@example.org", PASSWORD).await,
        window,
        "B, after A's failures",
    );
    assert_locked(
        &a.login("/auth/token/login", "shared@example.org", PASSWORD)
            .await,
        window,
        "A",
    );

    // Failures of an unknown address on both add up.
    assert_bad_credentials(&a.login(JWT_LOGIN, "Ghost@example.org", WRONG).await, "A");
    assert_bad_credentials(&b.login(JWT_LOGIN, "ghost@example.org", WRONG).await, "B");
    assert_bad_credentials(&a.login(JWT_LOGIN, "ghost@EXAMPLE.org", WRONG).await, "A");
    assert_locked(
        &b.login(JWT_LOGIN, "ghost@example.org", WRONG).await,
        window,
        "B, unknown address",
    );

    // A success on B clears the count of A's failures.
    for _ in 0..2 {
        assert_bad_credentials(&a.login(JWT_LOGIN, "cleared@example.org", WRONG).await, "A");
    }
    let answer = b.login(JWT_LOGIN, "cleared@example.org", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    for _ in 0..2 {
        assert_bad_credentials(&b.login(JWT_LOGIN, "cleared@example.org", WRONG).await, "B");
    }
    let answer = a.login(JWT_LOGIN, "cleared@example.org", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

/// Redis unreachable: the throttle fails open. Logins answer as without a
/// throttle (200 or 400), never 500 and never 429.
#[tokio::test]
async fn a_redis_throttle_on_a_dead_port_fails_open() {
    let redis = RedisSessionStore::connect_lazy("redis://127.0.0.1:1").unwrap();
    let throttle = LoginThrottle::new(RedisThrottle::new(redis))
        .per_address(Some(Limit::new(2, WINDOW)))
        .per_client(Some(Limit::new(2, WINDOW)));
    let app = Setup::new(Some(throttle)).build();
    app.create("open@example.org").await;
    let peer = "198.51.100.70:5000";
    for i in 0..6 {
        let email = match i % 2 {
            0 => "open@example.org",
            _ => "nobody@example.org",
        };
        let answer = app.login_from(peer, email, WRONG).await;
        assert_bad_credentials(&answer, &format!("failure {}", i + 1));
    }
    for (route, success) in LOGIN_ROUTES {
        let request = from_peer(peer, login_request(route, "open@example.org", PASSWORD));
        assert_logged_in(&app.send(request).await, success, route);
    }
    let login = app.login_from(peer, "open@example.org", PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let answer = app
            .send(from_peer(peer, change_password(&token, WRONG)))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        assert_eq!(answer.body, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    }
    let answer = app
        .send(from_peer(peer, change_password(&token, PASSWORD)))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
}
