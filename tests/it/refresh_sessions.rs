//! Sessions of rotating refresh tokens over HTTP (CONTRACT-accounts.md §B):
//! `/auth/token` (short-lived JWT access tokens naming their session, opaque
//! refresh tokens rotated on every use), `verify-token`, the sessions routes
//! and the events that end sessions, beside `/auth/jwt` (plain JWTs) and
//! `/auth/session` (database sessions behind a cookie).
//!
//! Every scenario runs against the four session stores: memory, SQLite (a
//! file, so reads go through the worker thread), PostgreSQL and Redis (users
//! in memory). The PostgreSQL and Redis variants are skipped without their
//! service unless `AXUM_USERS_REQUIRE_SERVICES` is set. A test is named
//! `<scenario>::on_<store>`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RefreshStrategy,
};
use axum_users::http::request::Parts;
use axum_users::session::{Session, SessionEnd};
use axum_users::store::{MemoryStore, RedisSessionStore, SessionStore, SqliteStore, UserStore};
use axum_users::{AxumUsers, Email, NoHooks, User, UserCreate, UserHooks, UserManager};
use serde_json::{Value, json};
use sha2::Digest as _;
use tempfile::TempDir;
use tower::ServiceExt;
use uuid::Uuid;

use crate::common::pg::PgSchemas;
use crate::common::services::{service_url, unreachable_service};
use crate::common::{
    PASSWORD, SECRET, body_json, fast_hasher, get, json_request, jwt_payload, login_request,
    raw_request,
};

const NEW_PASSWORD: &str = "a brand new password";
const SESSION_COOKIE: &str = "fastapiuserssession";
const INVALID: &str = "REFRESH_TOKEN_INVALID";

// ---------------------------------------------------------------------------
// The app under test, over each store.

/// How long `/auth/token` sessions live.
#[derive(Debug, Clone, Copy)]
struct Lifetimes {
    absolute: Duration,
    idle: Duration,
}

impl Lifetimes {
    /// Longer than any test.
    const HOUR: Self = Self::secs(3600, 3600);

    const fn secs(absolute: u64, idle: u64) -> Self {
        Self {
            absolute: Duration::from_secs(absolute),
            idle: Duration::from_secs(idle),
        }
    }
}

/// Where the sessions (and users) of an app live.
enum Backing {
    Memory,
    /// Each app gets a database file of its own in the directory.
    Sqlite(TempDir),
    /// Each app gets a schema of its own.
    Postgres(PgSchemas),
    /// Sessions in Redis under a random prefix per app, users in memory.
    Redis(String),
}

impl Backing {
    fn memory() -> Self {
        Self::Memory
    }

    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Option<Self> {
        PgSchemas::connect().await.map(Self::Postgres)
    }

    fn redis() -> Option<Self> {
        service_url("AXUM_USERS_TEST_REDIS_URL", "Redis").map(Self::Redis)
    }

    async fn app(&self, lifetimes: Lifetimes) -> TokenApp {
        self.app_with(lifetimes, NoHooks).await
    }

    async fn app_with<H: UserHooks<User>>(&self, lifetimes: Lifetimes, hooks: H) -> TokenApp {
        match self {
            Self::Memory => {
                let store = MemoryStore::<User>::new();
                token_app(store.clone(), store, hooks, lifetimes)
            }
            Self::Sqlite(dir) => {
                let path = dir.path().join(format!("{}.db", Uuid::new_v4().simple()));
                let store = SqliteStore::<User>::open(path).await.unwrap();
                store.migrate().await.unwrap();
                token_app(store.clone(), store, hooks, lifetimes)
            }
            Self::Postgres(schemas) => {
                let store = schemas.store::<User>().await;
                token_app(store.clone(), store, hooks, lifetimes)
            }
            Self::Redis(url) => {
                let sessions = RedisSessionStore::connect(url)
                    .await
                    .unwrap_or_else(|e| unreachable_service("Redis", &e))
                    .prefix(format!("axum-users-refresh-{}:", Uuid::new_v4().simple()));
                token_app(MemoryStore::<User>::new(), sessions, hooks, lifetimes)
            }
        }
    }
}

/// What the tests do through the manager: make users, mint reset tokens.
#[axum_users::async_trait]
trait Accounts: Send + Sync {
    async fn create(&self, email: &str, superuser: bool) -> User;
    fn reset_token(&self, user: &User) -> String;
}

#[axum_users::async_trait]
impl<S: UserStore<User = User>, H: UserHooks<User>> Accounts for UserManager<S, H> {
    async fn create(&self, email: &str, superuser: bool) -> User {
        let mut create = UserCreate::new(Email::parse(email).unwrap(), PASSWORD);
        create.is_superuser = Some(superuser);
        UserManager::create(self, create, false, None)
            .await
            .unwrap()
    }

    fn reset_token(&self, user: &User) -> String {
        self.reset_password_token(user).unwrap()
    }
}

/// The routes of the example server with `/auth/token` added.
struct TokenApp {
    router: Router,
    accounts: Arc<dyn Accounts>,
}

fn token_app<S, T, H>(users: S, sessions: T, hooks: H, lifetimes: Lifetimes) -> TokenApp
where
    S: UserStore<User = User>,
    T: SessionStore<Uuid> + Clone,
    H: UserHooks<User>,
{
    let manager = UserManager::builder(users)
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .hooks(hooks)
        .build();
    let jwt = AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(SECRET).unwrap(),
    );
    let access = JwtStrategy::hs256(SECRET)
        .unwrap()
        .lifetime(Duration::from_secs(15 * 60));
    let refresh = RefreshStrategy::new(access, sessions.clone())
        .absolute_lifetime(lifetimes.absolute)
        .idle_lifetime(lifetimes.idle);
    let token = AuthBackend::new("token", BearerTransport::new("auth/token/login"), refresh);
    let session = AuthBackend::new(
        "session",
        CookieTransport::new().name(SESSION_COOKIE),
        DatabaseStrategy::new(sessions),
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
        .users("/users")
        .into_router()
        .layer(users.layer());
    TokenApp {
        router,
        accounts: Arc::new(manager),
    }
}

/// What `/auth/token/login` and `/auth/token/refresh` hand out.
#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

impl Tokens {
    /// The session the access token names (its `sid` claim).
    fn sid(&self) -> String {
        sid_of(&self.access)
    }
}

fn sid_of(access: &str) -> String {
    jwt_payload(access)["sid"]
        .as_str()
        .expect("an access token of /auth/token names its session")
        .to_owned()
}

/// The tokens of a 200 answer of `/auth/token/login` or `/refresh`, whose
/// shape is checked exactly.
fn token_answer(body: &Value) -> Tokens {
    assert_eq!(
        keys(body),
        ["access_token", "expires_in", "refresh_token", "token_type"],
        "{body}"
    );
    assert_eq!(body["token_type"], "bearer", "{body}");
    assert_eq!(body["expires_in"], 900, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert!(
        refresh.len() >= 43 && !refresh.contains('.'),
        "an opaque refresh token: {refresh}"
    );
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh,
    }
}

fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body
        .as_object()
        .unwrap_or_else(|| panic!("an object: {body}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The lowercase hex SHA-256 of `text`, as stores keep token digests.
fn digest(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A login form for `uri` sent by a client with this `User-Agent` from this
/// socket address.
fn login_from(
    uri: &str,
    email: &str,
    agent: Option<&str>,
    peer: Option<SocketAddr>,
) -> Request<Body> {
    let mut request = login_request(uri, email, PASSWORD);
    if let Some(agent) = agent {
        request
            .headers_mut()
            .insert(header::USER_AGENT, HeaderValue::from_str(agent).unwrap());
    }
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}

fn refresh_request(token: &str) -> Request<Body> {
    json_request(
        "POST",
        "/auth/token/refresh",
        None,
        &json!({ "refresh_token": token }),
    )
}

fn logout_request(access: &str) -> Request<Body> {
    raw_request(
        "POST",
        "/auth/token/logout",
        Some(access),
        None,
        Body::empty(),
    )
}

fn delete_request(uri: &str, token: Option<&str>) -> Request<Body> {
    raw_request("DELETE", uri, token, None, Body::empty())
}

fn with_cookie(method: &str, uri: &str, cookie: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        .body(Body::empty())
        .unwrap()
}

impl TokenApp {
    async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.send(request).await;
        let status = response.status();
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "never a 500: {}",
            body_json(response).await
        );
        (status, body_json(response).await)
    }

    async fn status(&self, request: Request<Body>) -> StatusCode {
        self.call(request).await.0
    }

    /// A new active user with [`PASSWORD`].
    async fn user(&self, email: &str) -> User {
        self.accounts.create(email, false).await
    }

    /// A plain JWT of `/auth/jwt` (no session).
    async fn jwt(&self, email: &str) -> String {
        let (status, body) = self
            .call(login_request("/auth/jwt/login", email, PASSWORD))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The tokens of a login on `/auth/token`.
    async fn login(&self, email: &str) -> Tokens {
        self.login_as(email, None, None).await
    }

    async fn login_as(&self, email: &str, agent: Option<&str>, peer: Option<SocketAddr>) -> Tokens {
        let request = login_from("/auth/token/login", email, agent, peer);
        let (status, body) = self.call(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        token_answer(&body)
    }

    /// The cookie value of a login on `/auth/session`.
    async fn session_cookie(&self, email: &str, agent: Option<&str>) -> String {
        let request = login_from("/auth/session/login", email, agent, None);
        let response = self.send(request).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .expect("a session cookie")
            .to_str()
            .unwrap();
        cookie
            .strip_prefix(&format!("{SESSION_COOKIE}="))
            .and_then(|rest| rest.split(';').next())
            .expect("the session cookie")
            .to_owned()
    }

    async fn refresh(&self, token: &str) -> (StatusCode, Value) {
        self.call(refresh_request(token)).await
    }

    /// Rotates `token`: the new tokens.
    async fn rotate(&self, token: &str) -> Tokens {
        let (status, body) = self.refresh(token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let tokens = token_answer(&body);
        assert_ne!(tokens.refresh, token, "a new refresh token");
        tokens
    }

    /// `token` is refused by `/auth/token/refresh`.
    async fn assert_refused(&self, token: &str, what: &str) {
        let (status, body) = self.refresh(token).await;
        assert_eq!(
            (status, &body),
            (StatusCode::UNAUTHORIZED, &json!({ "detail": INVALID })),
            "{what}"
        );
    }

    async fn me(&self, access: &str) -> StatusCode {
        self.status(get("/users/me", Some(access))).await
    }

    async fn me_by_cookie(&self, cookie: &str) -> StatusCode {
        self.status(with_cookie("GET", "/users/me", cookie)).await
    }

    /// The session of `tokens` has ended: its access and refresh tokens are
    /// refused.
    async fn assert_ended(&self, tokens: &Tokens, what: &str) {
        assert_eq!(
            self.me(&tokens.access).await,
            StatusCode::UNAUTHORIZED,
            "{what}: the access token"
        );
        self.assert_refused(&tokens.refresh, &format!("{what}: the refresh token"))
            .await;
    }

    /// The session of `tokens` lives: its access token works and its refresh
    /// token rotates; the new tokens.
    async fn assert_alive(&self, tokens: &Tokens, what: &str) -> Tokens {
        assert_eq!(self.me(&tokens.access).await, StatusCode::OK, "{what}");
        self.rotate(&tokens.refresh).await
    }

    /// `GET /users/me/sessions` as the caller of `request`.
    async fn sessions_of(&self, request: Request<Body>) -> Vec<Value> {
        let (status, body) = self.call(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().expect("a list").clone()
    }

    async fn sessions(&self, access: &str) -> Vec<Value> {
        self.sessions_of(get("/users/me/sessions", Some(access)))
            .await
    }

    async fn verify(&self, backend: &str, token: &str) -> (StatusCode, Value) {
        let uri = format!("/auth/{backend}/verify-token");
        self.call(json_request("POST", &uri, None, &json!({ "token": token })))
            .await
    }
}

fn ids(sessions: &[Value]) -> Vec<&str> {
    sessions.iter().map(|s| s["id"].as_str().unwrap()).collect()
}

// ---------------------------------------------------------------------------
// The scenarios, each on every store.

/// Runs each scenario `async fn name(Backing)` on the four stores, as the
/// tests `name::on_memory`, `name::on_sqlite`, `name::on_postgres` and
/// `name::on_redis`.
macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::Backing;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_memory() {
                super::$scenario(Backing::memory()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                super::$scenario(Backing::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                if let Some(backing) = Backing::postgres().await {
                    super::$scenario(backing).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_redis() {
                if let Some(backing) = Backing::redis() {
                    super::$scenario(backing).await;
                }
            }
        }
    )*};
}

on_every_store!(
    a_token_login_answers_an_access_and_a_refresh_token,
    a_rotated_refresh_token_presented_again_ends_only_its_session,
    of_concurrent_refreshes_of_one_token_one_wins_and_the_session_ends,
    a_session_unused_for_its_idle_lifetime_ends,
    a_session_ends_at_its_absolute_lifetime_however_recently_refreshed,
    a_logout_ends_the_session_and_both_its_tokens,
    verify_token_accepts_only_live_access_tokens_of_its_backend,
    bad_refresh_requests_are_refused_and_end_nothing,
    sessions_are_listed_newest_first_with_their_client,
    a_session_lists_the_address_of_its_client,
    a_user_ends_one_of_their_sessions_by_id,
    a_user_ends_every_other_session,
    a_superuser_lists_and_ends_the_sessions_of_a_user,
    log_out_everywhere_events_end_refresh_sessions,
    hooks_hear_of_every_refresh_and_every_ended_session,
);

async fn a_token_login_answers_an_access_and_a_refresh_token(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let tokens = app.login("a@example.com").await;
    assert_ne!(tokens.access, tokens.refresh);
    assert_eq!(app.me(&tokens.access).await, StatusCode::OK);
    let claims = jwt_payload(&tokens.access);
    assert!(
        claims["sub"].is_string() && claims["exp"].is_number(),
        "{claims}"
    );
    // The `sid` names the session listed as the current one.
    let listed = app.sessions(&tokens.access).await;
    assert_eq!(ids(&listed), [tokens.sid().as_str()]);
    assert_eq!(listed[0]["backend"], "token");
    assert_eq!(listed[0]["current"], true);

    // `/auth/jwt` answers as it always did, a token without a session.
    let (status, body) = app
        .call(login_request("/auth/jwt/login", "a@example.com", PASSWORD))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(keys(&body), ["access_token", "token_type"]);
    assert_eq!(body["token_type"], "bearer");
    let jwt = body["access_token"].as_str().unwrap();
    assert!(jwt_payload(jwt).get("sid").is_none());
    assert_eq!(app.me(jwt).await, StatusCode::OK);
}

async fn a_rotated_refresh_token_presented_again_ends_only_its_session(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let first = app.login("a@example.com").await;
    let other = app.login("a@example.com").await;

    let second = app.rotate(&first.refresh).await;
    assert_eq!(second.sid(), first.sid(), "one session");
    assert_eq!(app.me(&second.access).await, StatusCode::OK);
    assert_eq!(app.me(&first.access).await, StatusCode::OK, "still live");

    // The rotated token again: reuse, which ends the whole session.
    app.assert_refused(&first.refresh, "the rotated token")
        .await;
    app.assert_ended(&second, "the newest tokens after the reuse")
        .await;
    assert_eq!(app.me(&first.access).await, StatusCode::UNAUTHORIZED);
    app.assert_refused(&first.refresh, "the rotated token, once more")
        .await;

    // The user's other session goes on.
    let other = app.assert_alive(&other, "the other session").await;
    assert_eq!(ids(&app.sessions(&other.access).await), [other.sid()]);
}

async fn of_concurrent_refreshes_of_one_token_one_wins_and_the_session_ends(backing: Backing) {
    const RACERS: usize = 8;
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let tokens = app.login("a@example.com").await;
    let other = app.login("a@example.com").await;

    let start = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let router = app.router.clone();
        let request = refresh_request(&tokens.refresh);
        let start = Arc::clone(&start);
        racers.spawn(async move {
            start.wait().await;
            let response = router.oneshot(request).await.unwrap();
            (response.status(), body_json(response).await)
        });
    }
    let answers = racers.join_all().await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one refresh wins: {answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK
                || (*status == StatusCode::UNAUTHORIZED && *body == json!({ "detail": INVALID })),
            "every loser is REFRESH_TOKEN_INVALID, never a 500: {answers:?}"
        );
    }

    // The losers counted as reuse: the session ended, the winner's new
    // tokens with it, and no token of it refreshes again.
    let winner = token_answer(winners[0]);
    app.assert_ended(&winner, "the winner's tokens").await;
    app.assert_ended(&tokens, "the raced tokens").await;
    let listed = app.sessions(&other.access).await;
    assert_eq!(ids(&listed), [other.sid()], "no state of it remains");
    app.assert_alive(&other, "the other session").await;
}

async fn a_session_unused_for_its_idle_lifetime_ends(backing: Backing) {
    // Times are kept to the second: a session opened at second s with an idle
    // lifetime of 4 s is live until s + 4; refreshed at second r, until r + 4.
    let app = backing.app(Lifetimes::secs(3600, 4)).await;
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let unused = app.login("a@example.com").await;
    let used = app.login("a@example.com").await;
    assert_eq!(app.sessions(&jwt).await.len(), 2);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let used = app.rotate(&used.refresh).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.assert_ended(&unused, "idle for longer than its idle lifetime")
        .await;
    // The refresh moved the other session's end.
    let used = app.assert_alive(&used, "refreshed 2 s ago").await;
    assert_eq!(ids(&app.sessions(&jwt).await), [used.sid()]);
}

async fn a_session_ends_at_its_absolute_lifetime_however_recently_refreshed(backing: Backing) {
    let app = backing.app(Lifetimes::secs(3, 10)).await;
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let tokens = app.login("a@example.com").await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    let refreshed = app.rotate(&tokens.refresh).await;
    // The refresh moved the end by the idle lifetime, but not past the
    // absolute one.
    let listed = app.sessions(&jwt).await;
    assert_eq!(ids(&listed), [tokens.sid()]);
    let time =
        |key: &str| chrono::DateTime::parse_from_rfc3339(listed[0][key].as_str().unwrap()).unwrap();
    assert_eq!(
        (time("expires_at") - time("created_at")).num_seconds(),
        3,
        "{listed:?}"
    );
    assert!(time("last_used_at") > time("created_at"), "{listed:?}");

    tokio::time::sleep(Duration::from_millis(2200)).await;
    app.assert_ended(&refreshed, "past its absolute lifetime, refreshed 2 s ago")
        .await;
}

async fn a_logout_ends_the_session_and_both_its_tokens(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let tokens = app.login("a@example.com").await;
    let other = app.login("a@example.com").await;

    let logout = logout_request(&tokens.access);
    assert_eq!(app.status(logout).await, StatusCode::NO_CONTENT);
    app.assert_ended(&tokens, "after the logout").await;
    let again = logout_request(&tokens.access);
    assert_eq!(app.status(again).await, StatusCode::UNAUTHORIZED);
    app.assert_alive(&other, "the user's other session").await;
}

async fn verify_token_accepts_only_live_access_tokens_of_its_backend(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let tokens = app.login("a@example.com").await;
    let cookie = app.session_cookie("a@example.com", None).await;
    let ended = app.login("a@example.com").await;
    let logout = logout_request(&ended.access);
    assert_eq!(app.status(logout).await, StatusCode::NO_CONTENT);

    let ok = (StatusCode::OK, json!({}));
    assert_eq!(app.verify("jwt", &jwt).await, ok);
    assert_eq!(app.verify("token", &tokens.access).await, ok);
    assert_eq!(
        app.verify("token", &jwt).await.0,
        StatusCode::UNAUTHORIZED,
        "a plain JWT names no session"
    );
    for backend in ["jwt", "token"] {
        for (token, what) in [
            ("garbage", "garbage"),
            ("", "an empty token"),
            (tokens.refresh.as_str(), "a refresh token"),
            (
                ended.access.as_str(),
                "the access token of an ended session",
            ),
            (cookie.as_str(), "a database session's token"),
        ] {
            assert_eq!(
                app.verify(backend, token).await.0,
                StatusCode::UNAUTHORIZED,
                "{backend}: {what}"
            );
        }
        let uri = format!("/auth/{backend}/verify-token");
        for (content_type, body) in [
            (Some("application/json"), "{}"),
            (Some("application/json"), r#"{"token": 5}"#),
            (Some("application/json"), "not json"),
            (None, ""),
        ] {
            let request = raw_request("POST", &uri, None, content_type, body);
            assert_eq!(
                app.status(request).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend}: {body:?}"
            );
        }
    }
    // Verifying changed nothing.
    app.assert_alive(&tokens, "the verified session").await;
}

async fn bad_refresh_requests_are_refused_and_end_nothing(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let tokens = app.login("a@example.com").await;
    let cookie = app.session_cookie("a@example.com", None).await;

    for (content_type, body) in [
        (None, ""),
        (Some("application/json"), ""),
        (Some("application/json"), "not json"),
        (Some("application/json"), "{}"),
        (Some("application/json"), r#"{"refresh_token": null}"#),
        (Some("application/json"), r#"{"token": "x"}"#),
    ] {
        let request = raw_request("POST", "/auth/token/refresh", None, content_type, body);
        assert_eq!(
            app.status(request).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body:?}"
        );
    }

    let mut changed: Vec<char> = tokens.refresh.chars().collect();
    changed[10] = if changed[10] == 'A' { 'B' } else { 'A' };
    let changed: String = changed.into_iter().collect();
    let forged = axum_users::tokens::random_token(32).unwrap();
    assert_eq!(forged.len(), 43);
    for (token, what) in [
        ("garbage!", "garbage"),
        ("", "an empty token"),
        (&tokens.refresh[..20], "a truncated token"),
        (forged.as_str(), "a forged token"),
        (changed.as_str(), "a token with one character changed"),
        (tokens.access.as_str(), "an access token"),
    ] {
        app.assert_refused(token, what).await;
    }
    // A database session's token is no refresh token, and stays a session.
    app.assert_refused(&cookie, "a database session's token")
        .await;
    assert_eq!(app.me_by_cookie(&cookie).await, StatusCode::OK);
    // A refresh token is no access token.
    assert_eq!(app.me(&tokens.refresh).await, StatusCode::UNAUTHORIZED);
    // A huge token: refused or too large, nothing else.
    let (status, body) = app.refresh(&"A".repeat(100_000)).await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::PAYLOAD_TOO_LARGE,
        "{status} {body}"
    );

    // None of it ended the session.
    app.assert_alive(&tokens, "after the bad refreshes").await;
}

async fn sessions_are_listed_newest_first_with_their_client(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let long_agent = "x".repeat(600);
    // Times are kept to the second: a second apart, the order is certain.
    let first = app
        .login_as("a@example.com", Some("agent-one/1.0"), None)
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = app.login_as("a@example.com", Some(&long_agent), None).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cookie = app.session_cookie("a@example.com", Some("browser/3")).await;

    let listed = app.sessions(&first.access).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let field = |key: &str| -> Vec<Value> { listed.iter().map(|s| s[key].clone()).collect() };
    assert_eq!(field("backend"), ["session", "token", "token"]);
    assert_eq!(
        field("user_agent"),
        [
            json!("browser/3"),
            json!("x".repeat(512)),
            json!("agent-one/1.0")
        ],
        "the agent is cut to 512 characters"
    );
    assert_eq!(field("ip"), [Value::Null, Value::Null, Value::Null]);
    assert_eq!(field("current"), [false, false, true]);
    assert_eq!(listed[1]["id"], second.sid());
    assert_eq!(listed[2]["id"], first.sid());
    let mut created = Vec::new();
    for session in &listed {
        assert_eq!(
            keys(session),
            [
                "backend",
                "created_at",
                "current",
                "expires_at",
                "id",
                "ip",
                "last_used_at",
                "user_agent"
            ]
        );
        for key in ["created_at", "last_used_at", "expires_at"] {
            let text = session[key].as_str().unwrap();
            assert!(text.ends_with('Z'), "{key}: {text}");
            chrono::DateTime::parse_from_rfc3339(text).unwrap();
        }
        created.push(session["created_at"].as_str().unwrap().to_owned());
    }
    assert!(
        created.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {created:?}"
    );
    // An id is neither a token nor a token's digest.
    let secrets = [
        &first.access,
        &first.refresh,
        &second.access,
        &second.refresh,
        &cookie,
    ];
    for id in ids(&listed) {
        for secret in secrets {
            assert!(id != secret.as_str() && id != digest(secret), "{id}");
        }
    }

    // The cookie's session is current for a request with the cookie; none
    // for a plain JWT.
    let by_cookie = app
        .sessions_of(with_cookie("GET", "/users/me/sessions", &cookie))
        .await;
    assert_eq!(
        by_cookie
            .iter()
            .map(|s| s["current"].clone())
            .collect::<Vec<_>>(),
        [true, false, false]
    );
    let jwt = app.jwt("a@example.com").await;
    let by_jwt = app.sessions(&jwt).await;
    assert_eq!(ids(&by_jwt), ids(&listed));
    assert!(by_jwt.iter().all(|s| s["current"] == false), "{by_jwt:?}");
    assert_eq!(
        app.status(get("/users/me/sessions", None)).await,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_session_lists_the_address_of_its_client(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:50123".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::7]:443".parse().unwrap();
    let first = app.login_as("a@example.com", None, Some(mapped)).await;
    let second = app.login_as("a@example.com", None, Some(v6)).await;
    let listed = app.sessions(&first.access).await;
    let ip_of = |sid: String| {
        listed
            .iter()
            .find(|s| s["id"] == sid.as_str())
            .map(|s| s["ip"].clone())
    };
    assert_eq!(ip_of(first.sid()), Some(json!("127.0.0.1")), "{listed:?}");
    assert_eq!(
        ip_of(second.sid()),
        Some(json!("2001:db8::7")),
        "{listed:?}"
    );
}

async fn a_user_ends_one_of_their_sessions_by_id(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    app.user("b@example.com").await;
    let mine = app.login("a@example.com").await;
    let doomed = app.login("a@example.com").await;
    let theirs = app.login("b@example.com").await;
    let end = |id: &str| delete_request(&format!("/users/me/sessions/{id}"), Some(&mine.access));

    assert_eq!(app.status(end(&doomed.sid())).await, StatusCode::NO_CONTENT);
    app.assert_ended(&doomed, "the ended session").await;
    assert_eq!(ids(&app.sessions(&mine.access).await), [mine.sid()]);
    assert_eq!(
        app.status(end(&doomed.sid())).await,
        StatusCode::NOT_FOUND,
        "ended already"
    );

    // Another user's session is no session of this user, and lives on.
    assert_eq!(app.status(end(&theirs.sid())).await, StatusCode::NOT_FOUND);
    app.assert_alive(&theirs, "the other user's session").await;

    let unknown = axum_users::session::new_session_id().unwrap();
    let long = "a".repeat(200);
    for id in [unknown.as_str(), "%20", long.as_str(), "..", "a%2Fb"] {
        assert_eq!(app.status(end(id)).await, StatusCode::NOT_FOUND, "{id}");
    }
    let anonymous = delete_request(&format!("/users/me/sessions/{}", mine.sid()), None);
    assert_eq!(app.status(anonymous).await, StatusCode::UNAUTHORIZED);
    app.assert_alive(&mine, "the caller's session").await;
}

async fn a_user_ends_every_other_session(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.user("a@example.com").await;
    app.user("b@example.com").await;
    let current = app.login("a@example.com").await;
    let other = app.login("a@example.com").await;
    let cookie = app.session_cookie("a@example.com", None).await;
    let theirs = app.login("b@example.com").await;

    let end_others = |token: Option<&str>| delete_request("/users/me/sessions", token);
    assert_eq!(app.status(end_others(None)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.status(end_others(Some(&current.access))).await,
        StatusCode::NO_CONTENT
    );
    app.assert_ended(&other, "the user's other token session")
        .await;
    assert_eq!(app.me_by_cookie(&cookie).await, StatusCode::UNAUTHORIZED);
    let current = app.assert_alive(&current, "the current session").await;
    let listed = app.sessions(&current.access).await;
    assert_eq!(ids(&listed), [current.sid()]);
    assert_eq!(listed[0]["current"], true);
    app.assert_alive(&theirs, "the other user's session").await;
}

async fn a_superuser_lists_and_ends_the_sessions_of_a_user(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.accounts.create("admin@example.com", true).await;
    let admin = app.jwt("admin@example.com").await;
    let user = app.user("a@example.com").await;
    let tokens = app.login("a@example.com").await;
    let cookie = app.session_cookie("a@example.com", None).await;
    let uri = format!("/users/{}/sessions", user.id);

    let listed = app.sessions_of(get(&uri, Some(&admin))).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|s| s["id"] == tokens.sid().as_str()));
    assert!(listed.iter().all(|s| s["current"] == false), "{listed:?}");

    // Only a superuser, only a user that exists.
    for token in [Some(tokens.access.as_str()), None] {
        let expected = match token {
            Some(_) => StatusCode::FORBIDDEN,
            None => StatusCode::UNAUTHORIZED,
        };
        assert_eq!(app.status(get(&uri, token)).await, expected);
        assert_eq!(app.status(delete_request(&uri, token)).await, expected);
    }
    let unknown = format!("/users/{}/sessions", Uuid::new_v4());
    assert_eq!(
        app.status(get(&unknown, Some(&admin))).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status(delete_request(&unknown, Some(&admin))).await,
        StatusCode::NOT_FOUND
    );
    app.assert_alive(&tokens, "after the refused requests")
        .await;

    assert_eq!(
        app.status(delete_request(&uri, Some(&admin))).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me(&tokens.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_by_cookie(&cookie).await, StatusCode::UNAUTHORIZED);
    let listed = app.sessions_of(get(&uri, Some(&admin))).await;
    assert_eq!(listed, Vec::<Value>::new());
}

async fn log_out_everywhere_events_end_refresh_sessions(backing: Backing) {
    let app = backing.app(Lifetimes::HOUR).await;
    app.accounts.create("admin@example.com", true).await;
    let admin = app.jwt("admin@example.com").await;
    app.user("bystander@example.com").await;
    let bystander = app.login("bystander@example.com").await;

    // The user changes their own password.
    app.user("changed@example.com").await;
    let tokens = app.login("changed@example.com").await;
    let patch = json_request(
        "PATCH",
        "/users/me",
        Some(&tokens.access),
        &json!({ "password": NEW_PASSWORD }),
    );
    assert_eq!(app.status(patch).await, StatusCode::OK);
    app.assert_ended(&tokens, "after a password change").await;

    // A password reset.
    let user = app.user("reset@example.com").await;
    let tokens = app.login("reset@example.com").await;
    let reset = json_request(
        "POST",
        "/auth/reset-password",
        None,
        &json!({ "token": app.accounts.reset_token(&user), "password": NEW_PASSWORD }),
    );
    assert_eq!(app.status(reset).await, StatusCode::OK);
    app.assert_ended(&tokens, "after a password reset").await;

    // A superuser deactivates the user.
    let user = app.user("deactivated@example.com").await;
    let tokens = app.login("deactivated@example.com").await;
    let deactivate = json_request(
        "PATCH",
        &format!("/users/{}", user.id),
        Some(&admin),
        &json!({ "is_active": false }),
    );
    assert_eq!(app.status(deactivate).await, StatusCode::OK);
    app.assert_ended(&tokens, "after a deactivation").await;

    // A superuser deletes the user.
    let user = app.user("deleted@example.com").await;
    let tokens = app.login("deleted@example.com").await;
    let delete = delete_request(&format!("/users/{}", user.id), Some(&admin));
    assert_eq!(app.status(delete).await, StatusCode::NO_CONTENT);
    app.assert_ended(&tokens, "after a deletion").await;

    app.assert_alive(&bystander, "another user's session").await;
}

// ---------------------------------------------------------------------------
// Hooks.

/// Hooks recording `refresh <session>` and `<reason> <session>`.
#[derive(Clone, Default)]
struct SessionEvents(Arc<Mutex<Vec<String>>>);

impl SessionEvents {
    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }

    /// The events since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for SessionEvents {
    async fn on_after_refresh(
        &self,
        _user: &User,
        session: &Session<Uuid>,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!("refresh {}", session.id));
        Ok(())
    }

    async fn on_session_ended(
        &self,
        session: &Session<Uuid>,
        reason: SessionEnd,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!("{} {}", reason.as_str(), session.id));
        Ok(())
    }
}

async fn hooks_hear_of_every_refresh_and_every_ended_session(backing: Backing) {
    let events = SessionEvents::default();
    let app = backing.app_with(Lifetimes::HOUR, events.clone()).await;
    app.accounts.create("admin@example.com", true).await;
    let admin = app.jwt("admin@example.com").await;
    app.user("a@example.com").await;
    let event =
        |reason: SessionEnd, tokens: &Tokens| vec![format!("{} {}", reason.as_str(), tokens.sid())];

    let tokens = app.login("a@example.com").await;
    let logout = logout_request(&tokens.access);
    assert_eq!(app.status(logout).await, StatusCode::NO_CONTENT);
    assert_eq!(events.take(), event(SessionEnd::Logout, &tokens));

    let tokens = app.login("a@example.com").await;
    app.rotate(&tokens.refresh).await;
    assert_eq!(events.take(), [format!("refresh {}", tokens.sid())]);
    app.assert_refused(&tokens.refresh, "reuse").await;
    assert_eq!(events.take(), event(SessionEnd::ReuseDetected, &tokens));
    app.assert_refused(&tokens.refresh, "reuse of an ended session")
        .await;
    assert_eq!(events.take(), Vec::<String>::new(), "ended once");

    let tokens = app.login("a@example.com").await;
    let revoked = app.login("a@example.com").await;
    let end = delete_request(
        &format!("/users/me/sessions/{}", revoked.sid()),
        Some(&tokens.access),
    );
    assert_eq!(app.status(end).await, StatusCode::NO_CONTENT);
    assert_eq!(events.take(), event(SessionEnd::Revoked, &revoked));

    let patch = json_request(
        "PATCH",
        "/users/me",
        Some(&tokens.access),
        &json!({ "password": NEW_PASSWORD }),
    );
    assert_eq!(app.status(patch).await, StatusCode::OK);
    assert_eq!(events.take(), event(SessionEnd::PasswordChanged, &tokens));

    let user = app.user("reset@example.com").await;
    let tokens = app.login("reset@example.com").await;
    let reset = json_request(
        "POST",
        "/auth/reset-password",
        None,
        &json!({ "token": app.accounts.reset_token(&user), "password": NEW_PASSWORD }),
    );
    assert_eq!(app.status(reset).await, StatusCode::OK);
    assert_eq!(events.take(), event(SessionEnd::PasswordReset, &tokens));

    let user = app.user("deactivated@example.com").await;
    let tokens = app.login("deactivated@example.com").await;
    let deactivate = json_request(
        "PATCH",
        &format!("/users/{}", user.id),
        Some(&admin),
        &json!({ "is_active": false }),
    );
    assert_eq!(app.status(deactivate).await, StatusCode::OK);
    assert_eq!(events.take(), event(SessionEnd::Deactivated, &tokens));

    let deleted = app.user("deleted@example.com").await;
    let tokens = app.login("deleted@example.com").await;
    let delete = delete_request(&format!("/users/{}", deleted.id), Some(&admin));
    assert_eq!(app.status(delete).await, StatusCode::NO_CONTENT);
    // The stores delete a user's sessions with the user (memory, and the
    // foreign key of SQLite and PostgreSQL): the sessions must still be
    // reported as ended, once each.
    assert_eq!(
        events.take(),
        event(SessionEnd::Deleted, &tokens),
        "on_session_ended(Deleted) for the deleted user's session"
    );
}

#[tokio::test]
async fn hooks_hear_of_an_expired_session_when_it_is_presented() {
    let events = SessionEvents::default();
    let app = Backing::memory()
        .app_with(Lifetimes::secs(3600, 1), events.clone())
        .await;
    app.user("a@example.com").await;
    let tokens = app.login("a@example.com").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    app.assert_refused(&tokens.refresh, "expired").await;
    assert_eq!(
        events.take(),
        [format!("{} {}", SessionEnd::Expired.as_str(), tokens.sid())]
    );
}
