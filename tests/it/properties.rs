//! Property tests (issue 18 part 2), with proptest:
//!
//! - tokens: for arbitrary users, a JWT access token, a reset token and a
//!   verify token each round-trip, and any single-byte change, truncation or
//!   appended bytes is refused (401, or 400 with the route's bad-token code),
//!   never accepted, never a 500;
//! - sequences: any sequence of register / login / refresh / patch /
//!   change-password / logout / delete over HTTP keeps the invariants:
//!   addresses and usernames unique ASCII-case-insensitively, no password
//!   hash in any answer, an ended session never authenticates again, a
//!   rotated refresh token never works twice, never a 500.
//!
//! Every case builds an app of its own over a memory store, with the fast
//! test hasher; failures are not persisted to files, and shrinking is bounded.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RefreshStrategy,
    Strategy as AuthStrategy,
};
use axum_users::session::LoginContext;
use axum_users::store::{MemoryStore, UserStore as _};
use axum_users::{AxumUsers, Email, NoHooks, User, UserCreate, UserManager};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::common::{PASSWORD, SECRET, fast_hasher, login_request};

const SESSION_COOKIE: &str = "fastapiuserssession";
const OTHER_PASSWORD: &str = "another long password";
const WRONG_PASSWORD: &str = "not the password at all";

type CaseResult = Result<(), TestCaseError>;

/// `cases` cases, a bounded shrink, no regression files.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 200,
        max_shrink_time: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Fails the case (rather than panicking) when `cond` does not hold.
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($msg)+)));
        }
    };
}

/// Sends a request: status and raw body. Every answer is checked for what
/// must never appear: a 500 or a password hash.
async fn send(
    router: &Router,
    request: Request<Body>,
) -> Result<(StatusCode, String), TestCaseError> {
    let (status, _, body) = exchange(router, request).await?;
    Ok((status, body))
}

/// [`send`], with the answer's `Set-Cookie` too.
async fn exchange(
    router: &Router,
    request: Request<Body>,
) -> Result<(StatusCode, Option<String>, String), TestCaseError> {
    let what = format!("{} {}", request.method(), request.uri());
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    check!(
        !status.is_server_error(),
        "a server error for {what}: {status} {body}"
    );
    for secret in ["hashed_password", "$argon2", "$2b$", "$2a$", "$2y$"] {
        check!(!body.contains(secret), "{what} answered {secret:?}: {body}");
    }
    Ok((status, set_cookie, body))
}

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

// ---------------------------------------------------------------------------
// Tokens: round trips, and every damage refused.

/// A change to a token.
#[derive(Debug, Clone)]
enum Damage {
    /// The byte at this index becomes `byte` (no-op changes are skipped).
    Replace(Index, u8),
    /// Only the bytes before this index are kept (never the whole token).
    Truncate(Index),
    /// These bytes are appended.
    Append(Vec<u8>),
}

impl Damage {
    /// The damaged token, or `None` when the damage changes nothing.
    fn apply(&self, token: &[u8]) -> Option<Vec<u8>> {
        let mut out = token.to_vec();
        match self {
            Self::Replace(at, byte) => {
                let i = at.index(token.len());
                if out[i] == *byte {
                    return None;
                }
                out[i] = *byte;
            }
            Self::Truncate(at) => out.truncate(at.index(token.len())),
            Self::Append(bytes) => out.extend_from_slice(bytes),
        }
        Some(out)
    }
}

/// Damage with replaced and appended bytes drawn from `bytes`.
fn damage(bytes: impl Strategy<Value = u8> + Clone + 'static) -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => (any::<Index>(), bytes.clone()).prop_map(|(at, b)| Damage::Replace(at, b)),
        1 => any::<Index>().prop_map(Damage::Truncate),
        1 => prop::collection::vec(bytes, 1..6).prop_map(Damage::Append),
    ]
}

/// The bytes a header value may hold (visible ASCII, space, tab, obs-text).
fn header_byte() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![0x20u8..=0x7e, Just(b'\t'), 0x80u8..=0xff]
}

/// The bytes a JSON string can carry as one byte (ASCII, controls escaped).
fn json_byte() -> impl Strategy<Value = u8> + Clone {
    0u8..=0x7f
}

/// An arbitrary user: address, optional username, superuser or not.
#[derive(Debug, Clone)]
struct SomeUser {
    email: String,
    username: Option<String>,
    superuser: bool,
}

fn some_user() -> impl Strategy<Value = SomeUser> {
    (
        "[a-z0-9]{1,8}([._+-][a-z0-9]{1,8}){0,2}",
        prop::sample::select(vec!["example.com", "EXAMPLE.org", "mail.example.net"]),
        prop::option::of("[A-Za-z0-9][A-Za-z0-9._-]{2,20}"),
        any::<bool>(),
    )
        .prop_map(|(local, domain, username, superuser)| SomeUser {
            email: format!("{local}@{domain}"),
            username,
            superuser,
        })
}

#[derive(Debug, Clone)]
struct TokenCase {
    user: SomeUser,
    access: Vec<Damage>,
    refresh: Vec<Damage>,
    verify: Vec<Damage>,
    reset: Vec<Damage>,
}

fn token_case() -> impl Strategy<Value = TokenCase> {
    (
        some_user(),
        prop::collection::vec(damage(header_byte()), 1..5),
        prop::collection::vec(damage(json_byte()), 1..5),
        prop::collection::vec(damage(json_byte()), 1..5),
        prop::collection::vec(damage(json_byte()), 1..5),
    )
        .prop_map(|(user, access, refresh, verify, reset)| TokenCase {
            user,
            access,
            refresh,
            verify,
            reset,
        })
}

/// The example server's JWT, reset and verify routes, and `/auth/token`
/// (refresh tokens), usernames on.
struct TokenApp {
    router: Router,
    manager: UserManager<MemoryStore<User>, NoHooks>,
    jwt: JwtStrategy,
}

fn token_app() -> TokenApp {
    let store = MemoryStore::<User>::new();
    let manager = UserManager::builder(store.clone())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .usernames(true)
        .build();
    let jwt = JwtStrategy::hs256(SECRET).unwrap();
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
    let token = AuthBackend::new(
        "token",
        BearerTransport::new("auth/token/login"),
        RefreshStrategy::new(jwt.clone(), store),
    );
    let users = AxumUsers::new(manager.clone(), vec![bearer.clone(), token.clone()]);
    let router = users
        .routes()
        .auth("/auth/jwt", &bearer)
        .auth("/auth/token", &token)
        .register("/auth")
        .reset_password("/auth")
        .verify("/auth")
        .users("/users")
        .into_router()
        .layer(users.layer());
    TokenApp {
        router,
        manager,
        jwt,
    }
}

fn bearer_me(token: &[u8]) -> Request<Body> {
    let mut value = b"Bearer ".to_vec();
    value.extend_from_slice(token);
    Request::builder()
        .uri("/users/me")
        .header(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(&value).expect("a header value"),
        )
        .body(Body::empty())
        .unwrap()
}

/// A token of ASCII bytes as a string.
fn ascii(token: &[u8]) -> String {
    String::from_utf8(token.to_vec()).expect("ASCII")
}

async fn token_round_trips(case: TokenCase) -> CaseResult {
    let app = token_app();
    let mut create = UserCreate::new(Email::parse(&case.user.email).unwrap(), PASSWORD);
    create.is_superuser = Some(case.user.superuser);
    create.is_verified = Some(false);
    if let Some(name) = &case.user.username {
        create.username = name.as_str().into();
    }
    let user = app.manager.create(create, false, None).await.unwrap();
    let id = user.id.to_string();
    let login = LoginContext::internal("properties");

    // The access token: every damaged copy refused, by the strategy and on a
    // route; the token itself accepted.
    let access = app
        .jwt
        .write_token(&user, &login)
        .await
        .unwrap()
        .access_token;
    for damage in &case.access {
        let Some(bad) = damage.apply(access.as_bytes()) else {
            continue;
        };
        // Spaces and tabs appended to a header value are not part of it: HTTP
        // drops a field value's trailing whitespace (RFC 9110 §5.5), and so
        // does the transport.
        let unpadded = bad
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t'))
            .map_or(&bad[..0], |last| &bad[..=last]);
        if unpadded == access.as_bytes() {
            continue;
        }
        if let Ok(text) = std::str::from_utf8(&bad) {
            let read = <JwtStrategy as AuthStrategy<User>>::read_token(&app.jwt, text).await;
            check!(
                matches!(read, Ok(None)),
                "{damage:?}: the strategy read {text:?} as {read:?}"
            );
        }
        let (status, body) = send(&app.router, bearer_me(&bad)).await?;
        check!(
            status == StatusCode::UNAUTHORIZED,
            "{damage:?}: GET /users/me with {:?} answered {status} {body}",
            String::from_utf8_lossy(&bad)
        );
    }
    let owner = <JwtStrategy as AuthStrategy<User>>::read_token(&app.jwt, &access)
        .await
        .unwrap();
    check!(
        owner.is_some_and(|owner| owner.user_id == user.id),
        "the access token does not read back"
    );
    let (status, body) = send(&app.router, bearer_me(access.as_bytes())).await?;
    check!(
        status == StatusCode::OK && json_body(&body)["id"] == id,
        "the access token: {status} {body}"
    );

    // A refresh token: every damaged copy refused, and refusing it ends
    // nothing (only a rotated token presented again is reuse): the token
    // itself refreshes afterwards.
    let (status, body) = send(
        &app.router,
        login_request("/auth/token/login", &case.user.email, PASSWORD),
    )
    .await?;
    check!(status == StatusCode::OK, "token login: {status} {body}");
    let refresh = json_body(&body)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for damage in &case.refresh {
        let Some(bad) = damage.apply(refresh.as_bytes()) else {
            continue;
        };
        let (status, body) = send(
            &app.router,
            post_json(
                "/auth/token/refresh",
                &json!({ "refresh_token": ascii(&bad) }),
            ),
        )
        .await?;
        check!(
            status == StatusCode::UNAUTHORIZED
                && json_body(&body) == json!({ "detail": "REFRESH_TOKEN_INVALID" }),
            "{damage:?}: POST /auth/token/refresh with {:?} answered {status} {body}",
            ascii(&bad)
        );
    }
    let (status, body) = send(
        &app.router,
        post_json("/auth/token/refresh", &json!({ "refresh_token": refresh })),
    )
    .await?;
    check!(
        status == StatusCode::OK,
        "the refresh token after damaged copies: {status} {body}"
    );

    // The verify token (before the reset, which leaves the address alone).
    let verify = app.manager.verify_token(&user).unwrap();
    for damage in &case.verify {
        let Some(bad) = damage.apply(verify.as_bytes()) else {
            continue;
        };
        let (status, body) = send(
            &app.router,
            post_json("/auth/verify", &json!({ "token": ascii(&bad) })),
        )
        .await?;
        check!(
            status == StatusCode::BAD_REQUEST
                && json_body(&body) == json!({ "detail": "VERIFY_USER_BAD_TOKEN" }),
            "{damage:?}: POST /auth/verify with {:?} answered {status} {body}",
            ascii(&bad)
        );
    }
    let (status, body) = send(
        &app.router,
        post_json("/auth/verify", &json!({ "token": verify })),
    )
    .await?;
    check!(
        status == StatusCode::OK && json_body(&body)["is_verified"] == true,
        "the verify token: {status} {body}"
    );

    // The reset token.
    let reset = app.manager.reset_password_token(&user).unwrap();
    for damage in &case.reset {
        let Some(bad) = damage.apply(reset.as_bytes()) else {
            continue;
        };
        let (status, body) = send(
            &app.router,
            post_json(
                "/auth/reset-password",
                &json!({ "token": ascii(&bad), "password": OTHER_PASSWORD }),
            ),
        )
        .await?;
        check!(
            status == StatusCode::BAD_REQUEST
                && json_body(&body) == json!({ "detail": "RESET_PASSWORD_BAD_TOKEN" }),
            "{damage:?}: POST /auth/reset-password with {:?} answered {status} {body}",
            ascii(&bad)
        );
    }
    let (status, body) = send(
        &app.router,
        post_json(
            "/auth/reset-password",
            &json!({ "token": reset, "password": OTHER_PASSWORD }),
        ),
    )
    .await?;
    check!(status == StatusCode::OK, "the reset token: {status} {body}");
    let (status, _) = send(
        &app.router,
        login_request("/auth/jwt/login", &case.user.email, OTHER_PASSWORD),
    )
    .await?;
    check!(status == StatusCode::OK, "no login with the reset password");
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn tokens_round_trip_and_any_damage_is_refused(case in token_case()) {
        runtime().block_on(token_round_trips(case))?;
    }
}

// ---------------------------------------------------------------------------
// Sequences of account operations against a model.

/// The pool of addresses and usernames the operations draw from (each in
/// ASCII-case variants).
const ADDRESSES: [&str; 3] = ["ann@example.com", "bob@example.org", "cy@example.net"];
const NAMES: [&str; 3] = ["ann", "Bob_1", "cy-x"];
const ROOT: &str = "root@admin.example";

/// `text` with the ASCII case of its `i`-th letter flipped when bit `i % 8` of
/// `mask` is set.
fn cased(text: &str, mask: u8) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| match mask >> (i % 8) & 1 {
            1 if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
            1 if c.is_ascii_uppercase() => c.to_ascii_lowercase(),
            _ => c,
        })
        .collect()
}

/// One operation; indices pick among what the model holds at that step.
#[derive(Debug, Clone)]
enum Op {
    /// `POST /auth/register` with a pool address and maybe a pool username.
    Register {
        address: (usize, u8),
        name: Option<(usize, u8)>,
    },
    /// A login by address or username (of a registered user, `known`, or
    /// from the pool), with the right password or a wrong one, on the
    /// refresh-token backend or the cookie (database) backend.
    Login {
        known: Option<Index>,
        by_name: bool,
        who: (usize, u8),
        right: bool,
        cookie: bool,
    },
    /// A refresh with any refresh token handed out so far (rotated ones too).
    Refresh(Index),
    /// `PATCH /users/me` of any session so far, ended ones too.
    Patch {
        session: Index,
        email: Option<(usize, u8)>,
        name: Option<(usize, u8)>,
    },
    /// `POST /users/me/change-password`, the current password right or wrong.
    ChangePassword { session: Index, right: bool },
    /// The logout of a session's backend.
    Logout(Index),
    /// A superuser's `DELETE /users/{id}` of any user registered so far.
    Delete(Index),
}

fn pooled() -> impl Strategy<Value = (usize, u8)> {
    (0usize..3, any::<u8>())
}

fn register() -> impl Strategy<Value = Op> {
    (pooled(), prop::option::weighted(0.7, pooled()))
        .prop_map(|(address, name)| Op::Register { address, name })
}

/// A login of a registered user with the right password.
fn good_login() -> impl Strategy<Value = Op> {
    (any::<Index>(), any::<bool>(), any::<u8>(), any::<bool>()).prop_map(
        |(known, by_name, mask, cookie)| Op::Login {
            known: Some(known),
            by_name,
            who: (0, mask),
            right: true,
            cookie,
        },
    )
}

/// A sequence: one to three registrations, one or two good logins, then up
/// to eight operations of any kind.
fn sequence() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(register(), 1..=3),
        prop::collection::vec(good_login(), 1..=2),
        prop::collection::vec(op(), 1..=8),
    )
        .prop_map(|(mut ops, logins, rest)| {
            ops.extend(logins);
            ops.extend(rest);
            ops
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => register(),
        7 => (
            prop::option::weighted(0.8, any::<Index>()),
            any::<bool>(),
            pooled(),
            prop::bool::weighted(0.8),
            any::<bool>(),
        )
            .prop_map(|(known, by_name, who, right, cookie)| Op::Login {
                known,
                by_name,
                who,
                right,
                cookie
            }),
        4 => any::<Index>().prop_map(Op::Refresh),
        2 => (any::<Index>(), prop::option::of(pooled()), prop::option::of(pooled()))
            .prop_map(|(session, email, name)| Op::Patch { session, email, name }),
        2 => (any::<Index>(), prop::bool::weighted(0.8))
            .prop_map(|(session, right)| Op::ChangePassword { session, right }),
        1 => any::<Index>().prop_map(Op::Logout),
        1 => any::<Index>().prop_map(Op::Delete),
    ]
}

#[derive(Debug)]
struct ModelUser {
    id: Uuid,
    email: String,
    username: Option<String>,
    password: &'static str,
    deleted: bool,
}

#[derive(Debug)]
enum Credential {
    /// A refresh-token session: its access tokens and its refresh tokens, the
    /// newest last (the others are rotated).
    Token {
        access: Vec<String>,
        refresh: Vec<String>,
    },
    /// A database session behind the cookie.
    Cookie(String),
}

#[derive(Debug)]
struct ModelSession {
    user: Uuid,
    credential: Credential,
    alive: bool,
}

/// The app: `/auth/jwt` (the superuser's plain JWT), `/auth/token` (refresh
/// tokens), `/auth/session` (database sessions behind a cookie), usernames on,
/// no login throttle.
struct SequenceApp {
    router: Router,
    manager: UserManager<MemoryStore<User>, NoHooks>,
    root: String,
    users: Vec<ModelUser>,
    sessions: Vec<ModelSession>,
}

fn auth_request(
    method: &str,
    uri: &str,
    credential: &Credential,
    body: Option<&Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    builder = match credential {
        Credential::Token { access, .. } => builder.header(
            header::AUTHORIZATION,
            format!("Bearer {}", access.last().unwrap()),
        ),
        Credential::Cookie(cookie) => {
            builder.header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        }
    };
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn bearer(method: &str, uri: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn detail(body: &str) -> Value {
    json_body(body)["detail"].clone()
}

impl SequenceApp {
    async fn new() -> Self {
        let store = MemoryStore::<User>::new();
        let manager = UserManager::builder(store.clone())
            .hasher(fast_hasher())
            .token_secret(SECRET)
            .usernames(true)
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
            .users("/users")
            .into_router()
            .layer(users.layer());
        let mut create = UserCreate::new(Email::parse(ROOT).unwrap(), PASSWORD);
        create.is_superuser = Some(true);
        manager.create(create, false, None).await.unwrap();
        let (status, body) = send(&router, login_request("/auth/jwt/login", ROOT, PASSWORD))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        let root = json_body(&body)["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            router,
            manager,
            root,
            users: Vec::new(),
            sessions: Vec::new(),
        }
    }

    async fn send(&self, request: Request<Body>) -> Result<(StatusCode, String), TestCaseError> {
        send(&self.router, request).await
    }

    /// The live user (other than `except`) whose address or username is `value`
    /// ASCII-case-insensitively.
    fn holder(&self, value: &str, by_name: bool, except: Option<Uuid>) -> Option<usize> {
        self.users.iter().position(|u| {
            !u.deleted
                && Some(u.id) != except
                && match by_name {
                    true => u
                        .username
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(value)),
                    false => u.email.eq_ignore_ascii_case(value),
                }
        })
    }

    fn user_index(&self, id: Uuid) -> usize {
        self.users.iter().position(|u| u.id == id).unwrap()
    }

    /// The model's record of a user object the app answered.
    fn record(&mut self, body: &Value, password: &'static str) -> Result<(), TestCaseError> {
        let id: Uuid = body["id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|_| TestCaseError::fail(format!("a user object without an id: {body}")))?;
        let email = body["email"].as_str().unwrap().to_owned();
        let username = body["username"].as_str().map(str::to_owned);
        match self.users.iter_mut().find(|u| u.id == id) {
            Some(user) => {
                user.email = email;
                user.username = username;
            }
            None => self.users.push(ModelUser {
                id,
                email,
                username,
                password,
                deleted: false,
            }),
        }
        Ok(())
    }

    fn end_sessions_of(&mut self, user: Uuid, except: Option<usize>) {
        for (i, session) in self.sessions.iter_mut().enumerate() {
            if session.user == user && Some(i) != except {
                session.alive = false;
            }
        }
    }

    async fn apply(&mut self, op: &Op) -> CaseResult {
        match op {
            Op::Register { address, name } => {
                let email = cased(ADDRESSES[address.0], address.1);
                let mut body = json!({ "email": email, "password": PASSWORD });
                let name = name.map(|(i, mask)| cased(NAMES[i], mask));
                if let Some(name) = &name {
                    body["username"] = json!(name);
                }
                let taken = self.holder(&email, false, None).is_some()
                    || name
                        .as_deref()
                        .is_some_and(|n| self.holder(n, true, None).is_some());
                let (status, answer) = self.send(post_json("/auth/register", &body)).await?;
                match taken {
                    true => check!(
                        status == StatusCode::BAD_REQUEST
                            && [
                                "REGISTER_USER_ALREADY_EXISTS",
                                "REGISTER_USERNAME_ALREADY_EXISTS"
                            ]
                            .map(Value::from)
                            .contains(&detail(&answer)),
                        "a taken address or name registered: {status} {answer}"
                    ),
                    false => {
                        check!(status == StatusCode::CREATED, "register: {status} {answer}");
                        self.record(&json_body(&answer), PASSWORD)?;
                    }
                }
            }
            Op::Login {
                known,
                by_name,
                who,
                right,
                cookie,
            } => {
                let live: Vec<&ModelUser> = self.users.iter().filter(|u| !u.deleted).collect();
                let pool = if *by_name { &NAMES } else { &ADDRESSES };
                let login = match known.filter(|_| !live.is_empty()) {
                    Some(pick) => {
                        let user = live[pick.index(live.len())];
                        match (&user.username, by_name) {
                            (Some(name), true) => cased(name, who.1),
                            _ => cased(&user.email, who.1),
                        }
                    }
                    None => cased(pool[who.0], who.1),
                };
                let by_name = !login.contains('@');
                let user = self.holder(&login, by_name, None);
                let password = match (user, right) {
                    (Some(i), true) => self.users[i].password,
                    _ => WRONG_PASSWORD,
                };
                let uri = if *cookie {
                    "/auth/session/login"
                } else {
                    "/auth/token/login"
                };
                let (status, set_cookie, answer) =
                    exchange(&self.router, login_request(uri, &login, password)).await?;
                let Some(i) = user.filter(|_| *right) else {
                    check!(
                        status == StatusCode::BAD_REQUEST
                            && detail(&answer) == "LOGIN_BAD_CREDENTIALS",
                        "a login with {login:?} and a wrong password or no account: {status} {answer}"
                    );
                    return Ok(());
                };
                let user = self.users[i].id;
                let credential = if *cookie {
                    check!(
                        status == StatusCode::NO_CONTENT,
                        "cookie login: {status} {answer}"
                    );
                    let value = set_cookie
                        .as_deref()
                        .and_then(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
                        .and_then(|rest| rest.split(';').next())
                        .unwrap_or_default()
                        .to_owned();
                    check!(!value.is_empty(), "no session cookie: {set_cookie:?}");
                    Credential::Cookie(value)
                } else {
                    check!(status == StatusCode::OK, "token login: {status} {answer}");
                    let tokens = json_body(&answer);
                    Credential::Token {
                        access: vec![tokens["access_token"].as_str().unwrap().to_owned()],
                        refresh: vec![tokens["refresh_token"].as_str().unwrap().to_owned()],
                    }
                };
                self.sessions.push(ModelSession {
                    user,
                    credential,
                    alive: true,
                });
            }
            Op::Refresh(pick) => {
                let all: Vec<(usize, usize)> = self
                    .sessions
                    .iter()
                    .enumerate()
                    .flat_map(|(s, session)| match &session.credential {
                        Credential::Token { refresh, .. } => {
                            (0..refresh.len()).map(|r| (s, r)).collect()
                        }
                        Credential::Cookie(_) => Vec::new(),
                    })
                    .collect();
                if all.is_empty() {
                    return Ok(());
                }
                let (s, r) = all[pick.index(all.len())];
                let Credential::Token { refresh, .. } = &self.sessions[s].credential else {
                    unreachable!()
                };
                let newest = r + 1 == refresh.len();
                let token = refresh[r].clone();
                let (status, answer) = self
                    .send(post_json(
                        "/auth/token/refresh",
                        &json!({ "refresh_token": token }),
                    ))
                    .await?;
                let session = &mut self.sessions[s];
                if session.alive && newest {
                    check!(
                        status == StatusCode::OK,
                        "a live refresh token: {status} {answer}"
                    );
                    let tokens = json_body(&answer);
                    let Credential::Token { access, refresh } = &mut session.credential else {
                        unreachable!()
                    };
                    access.push(tokens["access_token"].as_str().unwrap().to_owned());
                    refresh.push(tokens["refresh_token"].as_str().unwrap().to_owned());
                } else {
                    check!(
                        status == StatusCode::UNAUTHORIZED
                            && detail(&answer) == "REFRESH_TOKEN_INVALID",
                        "a rotated or ended refresh token (newest: {newest}, session alive: {}): {status} {answer}",
                        session.alive
                    );
                    // A rotated token presented again ends its session.
                    session.alive = false;
                }
            }
            Op::Patch {
                session,
                email,
                name,
            } => {
                if self.sessions.is_empty() {
                    return Ok(());
                }
                let s = session.index(self.sessions.len());
                let mut body = json!({});
                let email = email.map(|(i, mask)| cased(ADDRESSES[i], mask));
                let name = name.map(|(i, mask)| cased(NAMES[i], mask));
                if let Some(email) = &email {
                    body["email"] = json!(email);
                }
                if let Some(name) = &name {
                    body["username"] = json!(name);
                }
                let session = &self.sessions[s];
                let request = auth_request("PATCH", "/users/me", &session.credential, Some(&body));
                let (alive, user) = (session.alive, session.user);
                let (status, answer) = self.send(request).await?;
                if !alive {
                    check!(
                        status == StatusCode::UNAUTHORIZED,
                        "PATCH /users/me with an ended session: {status} {answer}"
                    );
                    return Ok(());
                }
                let taken = email
                    .as_deref()
                    .is_some_and(|e| self.holder(e, false, Some(user)).is_some())
                    || name
                        .as_deref()
                        .is_some_and(|n| self.holder(n, true, Some(user)).is_some());
                match taken {
                    true => check!(
                        status == StatusCode::BAD_REQUEST
                            && [
                                "UPDATE_USER_EMAIL_ALREADY_EXISTS",
                                "UPDATE_USER_USERNAME_ALREADY_EXISTS"
                            ]
                            .map(Value::from)
                            .contains(&detail(&answer)),
                        "PATCH /users/me to a taken address or name: {status} {answer}"
                    ),
                    false => {
                        check!(
                            status == StatusCode::OK,
                            "PATCH /users/me: {status} {answer}"
                        );
                        let password = self.users[self.user_index(user)].password;
                        self.record(&json_body(&answer), password)?;
                    }
                }
            }
            Op::ChangePassword { session, right } => {
                if self.sessions.is_empty() {
                    return Ok(());
                }
                let s = session.index(self.sessions.len());
                let (alive, user) = (self.sessions[s].alive, self.sessions[s].user);
                let u = self.user_index(user);
                let current = self.users[u].password;
                let new = if current == PASSWORD {
                    OTHER_PASSWORD
                } else {
                    PASSWORD
                };
                let body = json!({
                    "current_password": if *right { current } else { WRONG_PASSWORD },
                    "new_password": new,
                });
                let request = auth_request(
                    "POST",
                    "/users/me/change-password",
                    &self.sessions[s].credential,
                    Some(&body),
                );
                let (status, answer) = self.send(request).await?;
                if !alive {
                    check!(
                        status == StatusCode::UNAUTHORIZED,
                        "a password change with an ended session: {status} {answer}"
                    );
                } else if !right {
                    check!(
                        status == StatusCode::BAD_REQUEST
                            && detail(&answer) == "INVALID_CURRENT_PASSWORD",
                        "a password change with a wrong current password: {status} {answer}"
                    );
                } else {
                    check!(
                        status == StatusCode::NO_CONTENT,
                        "a password change: {status} {answer}"
                    );
                    self.users[u].password = new;
                    self.end_sessions_of(user, Some(s));
                }
            }
            Op::Logout(session) => {
                if self.sessions.is_empty() {
                    return Ok(());
                }
                let s = session.index(self.sessions.len());
                let session = &self.sessions[s];
                let uri = match session.credential {
                    Credential::Token { .. } => "/auth/token/logout",
                    Credential::Cookie(_) => "/auth/session/logout",
                };
                let request = auth_request("POST", uri, &session.credential, None);
                let (status, answer) = self.send(request).await?;
                let expected = match session.alive {
                    true => StatusCode::NO_CONTENT,
                    false => StatusCode::UNAUTHORIZED,
                };
                check!(status == expected, "{uri}: {status} {answer}");
                self.sessions[s].alive = false;
            }
            Op::Delete(pick) => {
                if self.users.is_empty() {
                    return Ok(());
                }
                let u = pick.index(self.users.len());
                let id = self.users[u].id;
                let (status, answer) = self
                    .send(bearer("DELETE", &format!("/users/{id}"), &self.root))
                    .await?;
                match self.users[u].deleted {
                    true => check!(
                        status == StatusCode::NOT_FOUND,
                        "DELETE of a deleted user: {status} {answer}"
                    ),
                    false => {
                        check!(
                            status == StatusCode::NO_CONTENT,
                            "DELETE: {status} {answer}"
                        );
                        self.users[u].deleted = true;
                        self.end_sessions_of(id, None);
                    }
                }
            }
        }
        Ok(())
    }

    /// The invariants, after every step.
    async fn check_invariants(&self) -> CaseResult {
        // (a) Addresses and usernames unique, ASCII-case-insensitively, in the
        // store; the store holds what the model holds; the superuser reads
        // every user (no hash in the answer: `send` checks every body).
        let mut live = Vec::new();
        for user in &self.users {
            let stored = self.manager.store().get(&user.id).await.unwrap();
            let (status, answer) = self
                .send(bearer("GET", &format!("/users/{}", user.id), &self.root))
                .await?;
            match (&stored, user.deleted) {
                (None, true) => check!(
                    status == StatusCode::NOT_FOUND,
                    "GET of a deleted user: {status} {answer}"
                ),
                (Some(stored), false) => {
                    check!(
                        stored.data.email == user.email && stored.data.username == user.username,
                        "the store has {:?}/{:?}, the model {:?}/{:?}",
                        stored.data.email,
                        stored.data.username,
                        user.email,
                        user.username
                    );
                    check!(
                        status == StatusCode::OK,
                        "GET /users/{{id}}: {status} {answer}"
                    );
                    live.push(stored.clone());
                }
                (stored, deleted) => {
                    return Err(TestCaseError::fail(format!(
                        "user {}: deleted in the model {deleted}, stored {}",
                        user.id,
                        stored.is_some()
                    )));
                }
            }
        }
        for (i, a) in live.iter().enumerate() {
            for b in &live[i + 1..] {
                check!(
                    !a.data.email.eq_ignore_ascii_case(&b.data.email),
                    "two users with the address {:?} / {:?}",
                    a.data.email,
                    b.data.email
                );
                let same_name = match (&a.data.username, &b.data.username) {
                    (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                    _ => false,
                };
                check!(
                    !same_name,
                    "two users with the username {:?} / {:?}",
                    a.data.username,
                    b.data.username
                );
            }
        }
        for address in ADDRESSES {
            for mask in [0u8, 0xff] {
                let found = self
                    .manager
                    .store()
                    .get_by_email(&cased(address, mask))
                    .await;
                let expected = self.holder(address, false, None).map(|i| self.users[i].id);
                check!(
                    found.unwrap().map(|u| u.id) == expected,
                    "get_by_email({address:?}, case {mask}) disagrees with the model"
                );
            }
        }

        // (c) Every live session authenticates as its user; every ended one
        // answers 401 with each of its tokens, and (d) none of its refresh
        // tokens (rotated or newest) refreshes.
        for (i, session) in self.sessions.iter().enumerate() {
            if session.alive {
                let request = auth_request("GET", "/users/me", &session.credential, None);
                let (status, answer) = self.send(request).await?;
                check!(
                    status == StatusCode::OK
                        && json_body(&answer)["id"] == session.user.to_string(),
                    "live session {i}: GET /users/me answered {status} {answer}"
                );
                continue;
            }
            match &session.credential {
                Credential::Token { access, refresh } => {
                    for token in access {
                        let (status, answer) = self.send(bearer("GET", "/users/me", token)).await?;
                        check!(
                            status == StatusCode::UNAUTHORIZED,
                            "ended session {i}: an access token answered {status} {answer}"
                        );
                    }
                    for token in refresh {
                        let (status, answer) = self
                            .send(post_json(
                                "/auth/token/refresh",
                                &json!({ "refresh_token": token }),
                            ))
                            .await?;
                        check!(
                            status == StatusCode::UNAUTHORIZED,
                            "ended session {i}: a refresh token answered {status} {answer}"
                        );
                    }
                }
                Credential::Cookie(_) => {
                    let request = auth_request("GET", "/users/me", &session.credential, None);
                    let (status, answer) = self.send(request).await?;
                    check!(
                        status == StatusCode::UNAUTHORIZED,
                        "ended session {i}: the cookie answered {status} {answer}"
                    );
                }
            }
        }
        Ok(())
    }
}

/// A failure with where it happened.
fn within(error: TestCaseError, place: String) -> TestCaseError {
    match error {
        TestCaseError::Fail(reason) => {
            TestCaseError::fail(format!("{place}: {}", reason.message()))
        }
        reject => reject,
    }
}

async fn run_sequence(ops: Vec<Op>) -> CaseResult {
    let mut app = SequenceApp::new().await;
    for (step, op) in ops.iter().enumerate() {
        app.apply(op)
            .await
            .map_err(|e| within(e, format!("step {step} {op:?}")))?;
        app.check_invariants()
            .await
            .map_err(|e| within(e, format!("after step {step} {op:?}")))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn any_sequence_of_account_operations_keeps_the_invariants(
        ops in sequence()
    ) {
        runtime().block_on(run_sequence(ops))?;
    }
}
