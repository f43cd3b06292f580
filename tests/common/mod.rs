//! Shared helpers for the HTTP-level tests: an app like the example server's,
//! built over a memory or SQLite store, and request helpers over `oneshot`.
#![allow(dead_code)]

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
        let (status, body) = self
            .call(login_request("/auth/jwt/login", email, PASSWORD))
            .await;
        assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A token for any user, active or not, minted by the strategy directly.
    pub async fn token_for(&self, user: &User) -> String {
        let (bearer, _) = backends();
        bearer.strategy().write_token(user).await.unwrap()
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
