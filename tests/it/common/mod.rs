//! Shared helpers for the HTTP-level tests: an app like the example server's,
//! built over a memory or SQLite store, and request helpers over `oneshot`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum_users::auth::{AuthBackend, BearerTransport, CookieTransport, JwtStrategy};
use axum_users::password::{Argon2Params, PasswordHasher};
use axum_users::store::{MemoryStore, UserStore};
use axum_users::{AxumUsers, Email, NoHooks, User, UserCreate, UserHooks, UserManager, UserModel};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef0123456789abcdef";
pub const PASSWORD: &str = "correct-horse-battery";

/// Fast argon2 parameters for tests (the defaults cost ~20 ms a hash).
/// What a store keeps of a new active, unverified user with this address and
/// stored hash (no fields, generations at 0).
pub fn user_data(
    email: &str,
    hash: impl Into<String>,
) -> axum_users::UserData<axum_users::NoFields> {
    axum_users::UserData {
        email: email.to_owned(),
        hashed_password: axum_users::PasswordHash::new(hash.into()),
        is_active: true,
        is_superuser: false,
        is_verified: false,
        fields: Default::default(),
        username: None,
        token_generation: 0,
        password_generation: 0,
    }
}

pub fn fast_hasher() -> PasswordHasher {
    PasswordHasher::builder()
        .params(Argon2Params {
            m_kib: 1024,
            t: 1,
            p: 1,
        })
        .build()
}

/// The app under test and handles on its parts.
pub struct TestApp<S: UserStore<User = User>, H = NoHooks> {
    pub router: Router,
    pub users: AxumUsers<S, H>,
}

#[derive(Default)]
pub struct Options {
    pub requires_verification: bool,
    pub body_limit: Option<usize>,
}

pub fn backends() -> (AuthBackend<User>, AuthBackend<User>) {
    let jwt = JwtStrategy::hs256(SECRET).unwrap();
    (
        AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone()),
        AuthBackend::new("cookie", CookieTransport::new(), jwt),
    )
}

/// The example server's routes over `store` with `hooks`.
pub fn app_with<S, H>(store: S, hooks: H, options: Options) -> TestApp<S, H>
where
    S: UserStore<User = User>,
    H: UserHooks<User>,
{
    let manager = UserManager::builder(store)
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .hooks(hooks)
        .build();
    let (bearer, cookie) = backends();
    let mut users = AxumUsers::new(manager, vec![bearer.clone(), cookie.clone()])
        .requires_verification(options.requires_verification);
    if let Some(limit) = options.body_limit {
        users = users.body_limit(limit);
    }
    let router = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth/cookie", users.auth_router(&cookie))
        .nest("/auth", users.register_router())
        .nest("/auth", users.reset_password_router())
        .nest("/auth", users.verify_router())
        .nest("/users", users.users_router())
        .layer(users.layer());
    TestApp { router, users }
}

/// The example server's routes over a memory store, default options.
pub fn app() -> TestApp<MemoryStore<User>> {
    app_with(MemoryStore::new(), NoHooks, Options::default())
}

impl<S: UserStore<User = User>, H: UserHooks<User>> TestApp<S, H> {
    pub async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Sends and returns status and JSON body (`Value::Null` when empty or not JSON).
    pub async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.send(request).await;
        let status = response.status();
        (status, body_json(response).await)
    }

    /// Sends and returns status and the raw body text.
    pub async fn call_text(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.send(request).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// A user created through the manager (unsafe create: flags as given).
    pub async fn create_user(
        &self,
        email: &str,
        active: bool,
        verified: bool,
        superuser: bool,
    ) -> User {
        let mut create = UserCreate::new(Email::parse(email).unwrap(), PASSWORD);
        create.is_active = Some(active);
        create.is_verified = Some(verified);
        create.is_superuser = Some(superuser);
        self.users
            .manager()
            .create(create, false, None)
            .await
            .unwrap()
    }

    /// A bearer token for `email` with [`PASSWORD`], through the login route.
    pub async fn login(&self, email: &str) -> String {
        self.login_as(email, PASSWORD).await
    }

    /// A bearer token for `email` with `password`, through the login route.
    pub async fn login_as(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(login_request("/auth/jwt/login", email, password))
            .await;
        assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A token for any user, active or not, minted by the strategy directly.
    pub async fn token_for(&self, user: &User) -> String {
        let (bearer, _) = backends();
        bearer
            .strategy()
            .write_token(user, &axum_users::session::LoginContext::internal("test"))
            .await
            .unwrap()
            .access_token
    }

    pub async fn reload(&self, user: &User) -> Option<User> {
        self.users.manager().store().get(user.id()).await.unwrap()
    }
}

pub async fn body_json(response: Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

pub fn json_request(method: &str, uri: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    raw_request(
        method,
        uri,
        token,
        Some("application/json"),
        body.to_string(),
    )
}

pub fn raw_request(
    method: &str,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body.into()).unwrap()
}

pub fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    raw_request("GET", uri, token, None, Body::empty())
}

pub fn login_request(uri: &str, username: &str, password: &str) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", username)
        .append_pair("password", password)
        .finish();
    raw_request(
        "POST",
        uri,
        None,
        Some("application/x-www-form-urlencoded"),
        body,
    )
}

/// The exact keys of a user object.
pub fn assert_user_object(body: &Value) {
    let mut keys: Vec<_> = body
        .as_object()
        .expect("a user object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["email", "id", "is_active", "is_superuser", "is_verified"],
        "{body}"
    );
}

pub type Shared<T> = Arc<std::sync::Mutex<T>>;

// ---------------------------------------------------------------------------
// Reset and verify flows: an app over a caller-built manager, and hooks that
// record the tokens handed to the mail hooks.

/// The example server's routes over `manager`, built by the caller (its own
/// token secrets or lifetimes); the same routes and backends as [`app_with`].
pub fn app_from_manager<S, H>(manager: UserManager<S, H>, options: Options) -> TestApp<S, H>
where
    S: UserStore<User = User>,
    H: UserHooks<User>,
{
    let (bearer, cookie) = backends();
    let mut users = AxumUsers::new(manager, vec![bearer.clone(), cookie.clone()])
        .requires_verification(options.requires_verification);
    if let Some(limit) = options.body_limit {
        users = users.body_limit(limit);
    }
    let router = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth/cookie", users.auth_router(&cookie))
        .nest("/auth", users.register_router())
        .nest("/auth", users.reset_password_router())
        .nest("/auth", users.verify_router())
        .nest("/users", users.users_router())
        .layer(users.layer());
    TestApp { router, users }
}

/// A token handed to `on_after_forgot_password` or `on_after_request_verify`.
#[derive(Debug, Clone)]
pub struct SentToken {
    pub user_id: uuid::Uuid,
    /// The user's stored address, where a mail would go.
    pub email: String,
    pub token: String,
    /// Whether the hook received the request's parts.
    pub with_request: bool,
}

/// Hooks that pass every issued reset or verify token into a channel (as a
/// mailer would send it) and record `on_after_reset_password` and
/// `on_after_verify` as `"reset <email>"` / `"verify <email>"`. With
/// `fail_mail`, the mail hooks return an error after recording the token.
#[derive(Clone)]
pub struct MailHooks {
    reset_tx: tokio::sync::mpsc::UnboundedSender<SentToken>,
    verify_tx: tokio::sync::mpsc::UnboundedSender<SentToken>,
    pub events: Shared<Vec<String>>,
    pub fail_mail: bool,
}

/// The receiving end of [`MailHooks`].
pub struct Mailbox {
    reset_rx: tokio::sync::mpsc::UnboundedReceiver<SentToken>,
    verify_rx: tokio::sync::mpsc::UnboundedReceiver<SentToken>,
    events: Shared<Vec<String>>,
}

/// How long a mail hook may take to run, and how long "no mail" is waited for.
pub const MAIL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
pub const NO_MAIL_WAIT: std::time::Duration = std::time::Duration::from_millis(300);

impl MailHooks {
    pub fn new() -> (Self, Mailbox) {
        let (reset_tx, reset_rx) = tokio::sync::mpsc::unbounded_channel();
        let (verify_tx, verify_rx) = tokio::sync::mpsc::unbounded_channel();
        let events = Shared::default();
        (
            Self {
                reset_tx,
                verify_tx,
                events: Arc::clone(&events),
                fail_mail: false,
            },
            Mailbox {
                reset_rx,
                verify_rx,
                events,
            },
        )
    }

    fn sent(
        &self,
        tx: &tokio::sync::mpsc::UnboundedSender<SentToken>,
        user: &User,
        token: &str,
        request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        let _ = tx.send(SentToken {
            user_id: user.id,
            email: user.data.email.clone(),
            token: token.to_owned(),
            with_request: request.is_some(),
        });
        match self.fail_mail {
            true => Err(axum_users::Error::Internal(
                "the mail server is down".into(),
            )),
            false => Ok(()),
        }
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for MailHooks {
    async fn on_after_forgot_password(
        &self,
        user: &User,
        token: &str,
        request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        self.sent(&self.reset_tx, user, token, request)
    }

    async fn on_after_request_verify(
        &self,
        user: &User,
        token: &str,
        request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        self.sent(&self.verify_tx, user, token, request)
    }

    async fn on_after_reset_password(
        &self,
        user: &User,
        _request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        self.events
            .lock()
            .unwrap()
            .push(format!("reset {}", user.data.email));
        Ok(())
    }

    async fn on_after_verify(
        &self,
        user: &User,
        _request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        self.events
            .lock()
            .unwrap()
            .push(format!("verify {}", user.data.email));
        Ok(())
    }
}

impl Mailbox {
    /// The next reset token handed to `on_after_forgot_password` (waits up to
    /// [`MAIL_TIMEOUT`]).
    pub async fn reset_token(&mut self) -> SentToken {
        tokio::time::timeout(MAIL_TIMEOUT, self.reset_rx.recv())
            .await
            .expect("no reset token was sent in time")
            .expect("the hooks were dropped")
    }

    /// The next verify token handed to `on_after_request_verify` (waits up to
    /// [`MAIL_TIMEOUT`]).
    pub async fn verify_token(&mut self) -> SentToken {
        tokio::time::timeout(MAIL_TIMEOUT, self.verify_rx.recv())
            .await
            .expect("no verify token was sent in time")
            .expect("the hooks were dropped")
    }

    /// Waits [`NO_MAIL_WAIT`] and asserts that no reset token was sent.
    pub async fn assert_no_reset_token(&mut self) {
        tokio::time::sleep(NO_MAIL_WAIT).await;
        if let Ok(sent) = self.reset_rx.try_recv() {
            panic!("unexpected reset token for {}", sent.email);
        }
    }

    /// Waits [`NO_MAIL_WAIT`] and asserts that no verify token was sent.
    pub async fn assert_no_verify_token(&mut self) {
        tokio::time::sleep(NO_MAIL_WAIT).await;
        if let Ok(sent) = self.verify_rx.try_recv() {
            panic!("unexpected verify token for {}", sent.email);
        }
    }

    /// The recorded `on_after_reset_password` / `on_after_verify` events.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

/// A manager builder over a memory store with the fast test hasher and no
/// token secret yet (the caller sets secrets and lifetimes), with `hooks`.
pub fn mail_manager(
    hooks: MailHooks,
) -> axum_users::UserManagerBuilder<MemoryStore<User>, MailHooks> {
    UserManager::builder(MemoryStore::new())
        .hasher(fast_hasher())
        .hooks(hooks)
}

/// The example server's app (secret [`SECRET`]) over a memory store, with
/// [`MailHooks`], and its mailbox.
pub fn mail_app() -> (TestApp<MemoryStore<User>, MailHooks>, Mailbox) {
    let (hooks, mailbox) = MailHooks::new();
    let app = app_with(MemoryStore::new(), hooks, Options::default());
    (app, mailbox)
}

/// The claims of a JWT-shaped token, decoded without checking the signature.
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("a JSON payload")
}

/// The header of a JWT-shaped token (`alg`, `typ`, …), decoded.
pub fn jwt_header(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().expect("a JWT has a header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url header");
    serde_json::from_slice(&bytes).expect("a JSON header")
}

/// An HS256 JWT over `claims` signed with `secret`.
pub fn sign_hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `token` with one character in the middle of its signature changed.
pub fn tamper_signature(token: &str) -> String {
    let (head, signature) = token.rsplit_once('.').expect("a JWT");
    let mut chars: Vec<char> = signature.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", chars.into_iter().collect::<String>())
}

// The machine's services (skip or require) and PostgreSQL test schemas.
pub mod audit;
pub mod authenticator;
pub mod mfa;
pub mod pg;
#[macro_use]
pub mod stores;
pub mod services;
// The example server as a process, and an HTTP client for it.
pub mod process;
// The loopback OpenID Connect provider (tests/oidc) and a browser for it.
pub mod oidc;
// An in-process SMTP sink, for the example server's mail.
pub mod smtp;
