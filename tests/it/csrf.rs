//! Cookie requests from other sites (CONTRACT-accounts.md §C, issue 15 item
//! 4): every cookie login and every request that a cookie authenticates,
//! with a method other than GET/HEAD/OPTIONS, answers 403
//! `{"detail": "CSRF_ORIGIN_MISMATCH"}` when its `Origin` names neither the
//! server's own origin (scheme, `Host`, port) nor a trusted one, when it has
//! several `Origin` headers, or when it has no `Origin` and says
//! `Sec-Fetch-Site: cross-site`. Bearer logins and bearer-authenticated
//! requests are not affected, nor are requests with neither header.
//!
//! In-process first (the routers over `oneshot`, a memory store, a bearer
//! backend and three cookie backends: JWT, database sessions, refresh
//! tokens), then the example server as a process.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RefreshStrategy,
};
use axum_users::csrf::CsrfProtection;
use axum_users::store::{MemoryStore, UserStore};
use axum_users::{AxumUsers, CurrentUser, Email, Error, User, UserCreate, UserManager};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::process::{ExampleServer, START_TIMEOUT, free_port};
use crate::common::{PASSWORD, SECRET, body_json, fast_hasher, json_request, login_request};

/// The `Host` of the in-process requests, and the origin it makes.
const HOST: &str = "localhost:8000";
const OWN: &str = "http://localhost:8000";
/// Another site.
const FOREIGN: &str = "https://evil.example";
const MISMATCH: &str = "CSRF_ORIGIN_MISMATCH";
const NEW_PASSWORD: &str = "a brand new password";

/// A cookie backend of the app under test: where it is mounted and the name
/// of its cookie.
#[derive(Debug, Clone, Copy)]
struct CookieBackend {
    prefix: &'static str,
    cookie: &'static str,
}

/// `CookieTransport` + `JwtStrategy`.
const JWT_COOKIE: CookieBackend = CookieBackend {
    prefix: "/auth/cookie",
    cookie: "fastapiusersauth",
};
/// `CookieTransport` + `DatabaseStrategy`.
const SESSION_COOKIE: CookieBackend = CookieBackend {
    prefix: "/auth/session",
    cookie: "fastapiuserssession",
};
/// `CookieTransport` + `RefreshStrategy`: an access cookie and a refresh
/// cookie.
const REFRESH_COOKIE: CookieBackend = CookieBackend {
    prefix: "/auth/rcookie",
    cookie: "fastapiusersaccess",
};
const REFRESH_TOKEN_COOKIE: &str = "fastapiusersrefresh";

/// The cookie backends whose unsafe requests are checked.
const COOKIE_BACKENDS: [CookieBackend; 2] = [JWT_COOKIE, SESSION_COOKIE];

// ---------------------------------------------------------------------------
// The app under test

/// The application's own handler behind `users.layer()`, for every method.
async fn own_handler(CurrentUser(user): CurrentUser<User>) -> String {
    user.data.email
}

struct CsrfApp {
    router: Router,
    users: AxumUsers<MemoryStore<User>>,
}

/// The answer to a request: status, JSON body (`Null` when none) and the
/// `Set-Cookie` values.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: Value,
    cookies: Vec<String>,
}

impl Reply {
    async fn from(response: Response) -> Reply {
        let status = response.status();
        let cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        Reply {
            status,
            body: body_json(response).await,
            cookies,
        }
    }

    /// The value `name` is set to, if a `Set-Cookie` sets it (not clears it).
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|cookie| {
            let pair = cookie.split(';').next()?.trim();
            let (n, value) = pair.split_once('=')?;
            (n == name && !value.is_empty() && value != "\"\"").then(|| value.to_owned())
        })
    }

    /// The 403 of the origin check, with no cookie set or cleared.
    #[track_caller]
    fn assert_refused(&self, what: &str) {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "{what}: {self:?}");
        assert_eq!(self.body, json!({ "detail": MISMATCH }), "{what}");
        assert!(self.cookies.is_empty(), "{what}: {:?}", self.cookies);
    }

    /// Not refused by the origin check (nor a server error).
    #[track_caller]
    fn assert_not_refused(&self, what: &str) {
        assert_ne!(self.status, StatusCode::FORBIDDEN, "{what}: {self:?}");
        assert!(!self.status.is_server_error(), "{what}: {self:?}");
    }
}

/// An app with a bearer backend (`/auth/jwt`) and the three cookie backends,
/// the register and users routers and [`own_handler`] at `/own`; with
/// `csrf` when given, else the default check.
fn csrf_app(csrf: Option<CsrfProtection>) -> CsrfApp {
    let store = MemoryStore::<User>::new();
    let manager = UserManager::builder(store.clone())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .build();
    let jwt = JwtStrategy::hs256(SECRET).unwrap();
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
    let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt.clone());
    let session = AuthBackend::new(
        "session",
        CookieTransport::new().name(SESSION_COOKIE.cookie),
        DatabaseStrategy::new(store.clone()),
    );
    let refresh = AuthBackend::new(
        "rcookie",
        CookieTransport::new()
            .name(REFRESH_COOKIE.cookie)
            .refresh_name(REFRESH_TOKEN_COOKIE),
        RefreshStrategy::new(jwt.lifetime(Duration::from_secs(15 * 60)), store),
    );
    let mut users = AxumUsers::new(
        manager,
        vec![
            bearer.clone(),
            cookie.clone(),
            session.clone(),
            refresh.clone(),
        ],
    );
    if let Some(csrf) = csrf {
        users = users.csrf(csrf);
    }
    let router = users
        .routes()
        .auth("/auth/jwt", &bearer)
        .auth(JWT_COOKIE.prefix, &cookie)
        .auth(SESSION_COOKIE.prefix, &session)
        .auth(REFRESH_COOKIE.prefix, &refresh)
        .register("/auth")
        .users("/users")
        .into_router()
        .route("/own", any(own_handler))
        .layer(users.layer());
    CsrfApp { router, users }
}

/// `request` with these headers appended (a name may repeat).
fn with(mut request: Request<Body>, headers: &[(&str, &str)]) -> Request<Body> {
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    request
}

/// `request` sent to [`HOST`] from `origin`.
fn from(request: Request<Body>, origin: &str) -> Request<Body> {
    with(request, &[("host", HOST), ("origin", origin)])
}

/// `request` carrying the cookie `name=value`.
fn cookie(request: Request<Body>, name: &str, value: &str) -> Request<Body> {
    with(request, &[("cookie", &format!("{name}={value}"))])
}

fn empty(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

fn patch_email(email: &str) -> Request<Body> {
    json_request("PATCH", "/users/me", None, &json!({ "email": email }))
}

fn change_password() -> Request<Body> {
    json_request(
        "POST",
        "/users/me/change-password",
        None,
        &json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
}

fn change_email(email: &str) -> Request<Body> {
    json_request(
        "POST",
        "/users/me/change-email",
        None,
        &json!({ "email": email, "current_password": PASSWORD }),
    )
}

impl CsrfApp {
    async fn call(&self, request: Request<Body>) -> Reply {
        Reply::from(self.router.clone().oneshot(request).await.unwrap()).await
    }

    async fn create_user(&self, email: &str, superuser: bool) -> User {
        let mut create = UserCreate::new(Email::parse(email).unwrap(), PASSWORD);
        create.is_superuser = Some(superuser);
        self.users
            .manager()
            .create(create, false, None)
            .await
            .unwrap()
    }

    async fn reload(&self, user: &User) -> Option<User> {
        self.users.manager().store().get(&user.id).await.unwrap()
    }

    /// A cookie login through `backend` with these headers besides the form.
    async fn cookie_login(
        &self,
        backend: CookieBackend,
        email: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let request = login_request(&format!("{}/login", backend.prefix), email, PASSWORD);
        self.call(with(request, headers)).await
    }

    /// A same-origin cookie login through `backend` that must succeed: the
    /// cookie's value.
    async fn sign_in(&self, backend: CookieBackend, email: &str) -> String {
        let reply = self
            .cookie_login(backend, email, &[("host", HOST), ("origin", OWN)])
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        reply
            .cookie(backend.cookie)
            .unwrap_or_else(|| panic!("no {} cookie: {reply:?}", backend.cookie))
    }

    /// A bearer token through `/auth/jwt/login` (no Origin).
    async fn bearer(&self, email: &str, password: &str) -> String {
        let reply = self
            .call(login_request("/auth/jwt/login", email, password))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// `GET /users/me` with `backend`'s cookie, same origin: its status.
    async fn me_by_cookie(&self, backend: CookieBackend, value: &str) -> StatusCode {
        self.call(cookie(empty("GET", "/users/me"), backend.cookie, value))
            .await
            .status
    }

    /// Whether `password` logs `email` in (through the bearer backend).
    async fn logs_in_with(&self, email: &str, password: &str) -> bool {
        self.call(login_request("/auth/jwt/login", email, password))
            .await
            .status
            == StatusCode::OK
    }

    /// The user's sessions as `GET /users/me/sessions` lists them for a
    /// bearer token.
    async fn sessions(&self, token: &str) -> Vec<Value> {
        let reply = self
            .call(with(
                empty("GET", "/users/me/sessions"),
                &[("authorization", &format!("Bearer {token}"))],
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body.as_array().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------
// Logins

#[tokio::test]
async fn a_cross_site_cookie_login_is_refused_with_no_cookie_and_no_session() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    for backend in [JWT_COOKIE, SESSION_COOKIE, REFRESH_COOKIE] {
        let reply = app
            .cookie_login(
                backend,
                "a@example.com",
                &[("host", HOST), ("origin", FOREIGN)],
            )
            .await;
        reply.assert_refused(&format!("{} from {FOREIGN}", backend.prefix));
        // The check comes before the password: a wrong one answers the same.
        let request = login_request(
            &format!("{}/login", backend.prefix),
            "a@example.com",
            "a wrong password",
        );
        app.call(from(request, FOREIGN))
            .await
            .assert_refused(&format!("{} with a wrong password", backend.prefix));
    }
    // No session was opened by the refused logins.
    let token = app.bearer("a@example.com", PASSWORD).await;
    assert_eq!(app.sessions(&token).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_same_origin_cookie_login_sets_a_cookie_that_works() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    for backend in [JWT_COOKIE, SESSION_COOKIE, REFRESH_COOKIE] {
        let value = app.sign_in(backend, "a@example.com").await;
        assert_eq!(app.me_by_cookie(backend, &value).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_cookie_login_without_origin_passes_unless_sec_fetch_site_says_cross_site() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    for backend in [JWT_COOKIE, SESSION_COOKIE] {
        // A non-browser client: neither header (and no Host either).
        let reply = app.cookie_login(backend, "a@example.com", &[]).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        assert!(reply.cookie(backend.cookie).is_some(), "{reply:?}");
        let reply = app
            .cookie_login(backend, "a@example.com", &[("host", HOST)])
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");

        for site in ["same-origin", "same-site", "none"] {
            let reply = app
                .cookie_login(
                    backend,
                    "a@example.com",
                    &[("host", HOST), ("sec-fetch-site", site)],
                )
                .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{site}: {reply:?}");
            assert!(reply.cookie(backend.cookie).is_some(), "{site}: {reply:?}");
        }

        let reply = app
            .cookie_login(
                backend,
                "a@example.com",
                &[("host", HOST), ("sec-fetch-site", "cross-site")],
            )
            .await;
        reply.assert_refused(&format!(
            "{} without Origin, Sec-Fetch-Site: cross-site",
            backend.prefix
        ));
    }
}

#[tokio::test]
async fn a_bearer_login_from_another_site_passes() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    let cases: [&[(&str, &str)]; 4] = [
        &[("host", HOST), ("origin", FOREIGN)],
        &[
            ("host", HOST),
            ("origin", FOREIGN),
            ("sec-fetch-site", "cross-site"),
        ],
        &[("host", HOST), ("sec-fetch-site", "cross-site")],
        &[("host", HOST), ("origin", "null")],
    ];
    for headers in cases {
        let request = login_request("/auth/jwt/login", "a@example.com", PASSWORD);
        let reply = app.call(with(request, headers)).await;
        assert_eq!(reply.status, StatusCode::OK, "{headers:?}: {reply:?}");
        assert!(
            reply.body["access_token"].is_string(),
            "{headers:?}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn the_check_is_on_by_default() {
    let app = csrf_app(None);
    let user = app.create_user("a@example.com", false).await;
    app.cookie_login(
        JWT_COOKIE,
        "a@example.com",
        &[("host", HOST), ("origin", FOREIGN)],
    )
    .await
    .assert_refused("a cross-site cookie login with the default check");
    let value = app.sign_in(JWT_COOKIE, "a@example.com").await;
    let request = cookie(patch_email("b@example.com"), JWT_COOKIE.cookie, &value);
    app.call(from(request, FOREIGN))
        .await
        .assert_refused("a cross-site cookie PATCH with the default check");
    assert_eq!(app.reload(&user).await.unwrap().data.email, "a@example.com");
}

// ---------------------------------------------------------------------------
// Cookie-authenticated requests

#[tokio::test]
async fn cross_site_cookie_requests_that_change_things_are_refused_and_change_nothing() {
    let app = csrf_app(Some(CsrfProtection::new()));
    for backend in COOKIE_BACKENDS {
        let email = format!("{}@example.com", backend.cookie);
        let user = app.create_user(&email, false).await;
        let value = app.sign_in(backend, &email).await;
        // A second session of the user, which "end my other sessions" would
        // end.
        let other = app.sign_in(backend, &email).await;
        let send = |request: Request<Body>, origin: &str| {
            app.call(from(cookie(request, backend.cookie, &value), origin))
        };
        let what = |route: &str| format!("{route} with the {} cookie", backend.prefix);

        send(patch_email("changed@example.com"), FOREIGN)
            .await
            .assert_refused(&what("PATCH /users/me"));
        send(change_password(), FOREIGN)
            .await
            .assert_refused(&what("POST /users/me/change-password"));
        send(change_email("changed@example.com"), FOREIGN)
            .await
            .assert_refused(&what("POST /users/me/change-email"));
        send(empty("DELETE", "/users/me/sessions"), FOREIGN)
            .await
            .assert_refused(&what("DELETE /users/me/sessions"));
        send(
            empty("POST", &format!("{}/logout", backend.prefix)),
            FOREIGN,
        )
        .await
        .assert_refused(&what("logout"));
        send(empty("POST", "/own"), FOREIGN)
            .await
            .assert_refused(&what("POST on the application's own handler"));

        // Nothing changed: the address, the password, both sessions.
        let stored = app.reload(&user).await.unwrap();
        assert_eq!(stored.data.email, email);
        assert!(app.logs_in_with(&email, PASSWORD).await);
        assert!(!app.logs_in_with(&email, NEW_PASSWORD).await);
        assert_eq!(app.me_by_cookie(backend, &value).await, StatusCode::OK);
        assert_eq!(app.me_by_cookie(backend, &other).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_cross_site_request_cannot_end_one_session_by_id() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    let value = app.sign_in(SESSION_COOKIE, "a@example.com").await;
    let other = app.sign_in(SESSION_COOKIE, "a@example.com").await;
    let token = app.bearer("a@example.com", PASSWORD).await;
    let sessions = app.sessions(&token).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for session in &sessions {
        let id = session["id"].as_str().unwrap();
        let request = empty("DELETE", &format!("/users/me/sessions/{id}"));
        app.call(from(
            cookie(request, SESSION_COOKIE.cookie, &value),
            FOREIGN,
        ))
        .await
        .assert_refused("DELETE /users/me/sessions/{id}");
    }
    assert_eq!(app.sessions(&token).await.len(), 2);
    assert_eq!(
        app.me_by_cookie(SESSION_COOKIE, &other).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn same_origin_cookie_requests_that_change_things_pass() {
    let app = csrf_app(Some(CsrfProtection::new()));
    for backend in COOKIE_BACKENDS {
        let email = format!("{}@example.com", backend.cookie);
        let changed = format!("changed-{}@example.com", backend.cookie);
        let user = app.create_user(&email, false).await;
        let value = app.sign_in(backend, &email).await;
        let other = app.sign_in(backend, &email).await;
        let send =
            |request: Request<Body>| app.call(from(cookie(request, backend.cookie, &value), OWN));

        let reply = send(empty("POST", "/own")).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let reply = send(change_email("elsewhere@example.com")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
        let reply = send(patch_email(&changed)).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["email"], changed.as_str());
        assert_eq!(app.reload(&user).await.unwrap().data.email, changed);

        let reply = send(empty("DELETE", "/users/me/sessions")).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        if backend.prefix == SESSION_COOKIE.prefix {
            // The other database session ended; this one stays.
            assert_eq!(
                app.me_by_cookie(backend, &other).await,
                StatusCode::UNAUTHORIZED
            );
            assert_eq!(app.me_by_cookie(backend, &value).await, StatusCode::OK);
        }

        let reply = send(change_password()).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        assert!(app.logs_in_with(&changed, NEW_PASSWORD).await);
        assert!(!app.logs_in_with(&changed, PASSWORD).await);

        // A fresh cookie (the JWT one died with the password), logged out
        // from the same origin.
        let reply = app
            .call(from(
                login_request(&format!("{}/login", backend.prefix), &changed, NEW_PASSWORD),
                OWN,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        let fresh = reply.cookie(backend.cookie).unwrap();
        let logout = empty("POST", &format!("{}/logout", backend.prefix));
        let reply = app
            .call(from(cookie(logout, backend.cookie, &fresh), OWN))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        assert!(!reply.cookies.is_empty(), "the logout clears the cookie");
        if backend.prefix == SESSION_COOKIE.prefix {
            assert_eq!(
                app.me_by_cookie(backend, &fresh).await,
                StatusCode::UNAUTHORIZED
            );
        }
    }
}

#[tokio::test]
async fn safe_methods_with_a_cookie_are_never_refused() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    for backend in COOKIE_BACKENDS {
        let value = app.sign_in(backend, "a@example.com").await;
        let cross_site = |method: &str, uri: &str| {
            let request = with(
                cookie(empty(method, uri), backend.cookie, &value),
                &[("sec-fetch-site", "cross-site")],
            );
            app.call(from(request, FOREIGN))
        };
        let reply = cross_site("GET", "/users/me").await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["email"], "a@example.com");
        let reply = cross_site("GET", "/users/me/sessions").await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let reply = cross_site("HEAD", "/users/me").await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        // No OPTIONS route of the library: whatever answers, not the check.
        cross_site("OPTIONS", "/users/me")
            .await
            .assert_not_refused("OPTIONS /users/me");
        // The application's own handler runs for every method: the safe
        // ones pass, an unsafe one does not.
        for method in ["GET", "HEAD", "OPTIONS"] {
            let reply = cross_site(method, "/own").await;
            assert_eq!(reply.status, StatusCode::OK, "{method} /own: {reply:?}");
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            cross_site(method, "/own")
                .await
                .assert_refused(&format!("{method} /own"));
        }
    }
}

#[tokio::test]
async fn cross_site_requests_with_a_bearer_token_pass() {
    let app = csrf_app(Some(CsrfProtection::new()));
    let user = app.create_user("a@example.com", false).await;
    let token = app.bearer("a@example.com", PASSWORD).await;
    let auth = format!("Bearer {token}");
    let send = |request: Request<Body>| {
        let request = with(
            request,
            &[("authorization", &auth), ("sec-fetch-site", "cross-site")],
        );
        app.call(from(request, FOREIGN))
    };
    let reply = send(empty("POST", "/own")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let reply = send(patch_email("b@example.com")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(app.reload(&user).await.unwrap().data.email, "b@example.com");
    let reply = send(change_email("c@example.com")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let reply = send(empty("DELETE", "/users/me/sessions")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let reply = send(empty("POST", "/auth/jwt/logout")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let reply = send(change_password()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    assert!(app.logs_in_with("b@example.com", NEW_PASSWORD).await);
}

#[tokio::test]
async fn a_superusers_cross_site_cookie_requests_on_other_users_are_refused() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("admin@example.com", true).await;
    let target = app.create_user("target@example.com", false).await;
    let value = app.sign_in(SESSION_COOKIE, "admin@example.com").await;
    let uri = format!("/users/{}", target.id);
    let send = |request: Request<Body>, origin: &str| {
        app.call(from(cookie(request, SESSION_COOKIE.cookie, &value), origin))
    };

    let patch = json_request("PATCH", &uri, None, &json!({ "is_superuser": true }));
    send(patch, FOREIGN)
        .await
        .assert_refused("PATCH /users/{id}");
    send(empty("DELETE", &format!("{uri}/sessions")), FOREIGN)
        .await
        .assert_refused("DELETE /users/{id}/sessions");
    send(empty("DELETE", &uri), FOREIGN)
        .await
        .assert_refused("DELETE /users/{id}");
    let stored = app.reload(&target).await.expect("the user still exists");
    assert!(!stored.data.is_superuser);
    // Reading is safe.
    let reply = send(empty("GET", &uri), FOREIGN).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    let reply = send(empty("DELETE", &uri), OWN).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    assert!(app.reload(&target).await.is_none());
}

#[tokio::test]
async fn a_bad_bearer_token_beside_a_good_cookie_does_not_escape_the_check() {
    let app = csrf_app(Some(CsrfProtection::new()));
    let user = app.create_user("a@example.com", false).await;
    let value = app.sign_in(JWT_COOKIE, "a@example.com").await;
    let request = with(
        cookie(patch_email("b@example.com"), JWT_COOKIE.cookie, &value),
        &[("authorization", "Bearer not-a-token")],
    );
    app.call(from(request, FOREIGN))
        .await
        .assert_refused("a cookie PATCH with a bad bearer token");
    assert_eq!(app.reload(&user).await.unwrap().data.email, "a@example.com");
}

#[tokio::test]
async fn requests_that_no_cookie_authenticates_are_not_checked() {
    let app = csrf_app(Some(CsrfProtection::new()));
    // Registering is no cookie login.
    let request = json_request(
        "POST",
        "/auth/register",
        None,
        &json!({ "email": "a@example.com", "password": PASSWORD }),
    );
    let reply = app.call(from(request, FOREIGN)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    // No credentials, or a cookie that authenticates nobody: 401, as from
    // the own origin.
    for origin in [FOREIGN, OWN] {
        let reply = app.call(from(patch_email("b@example.com"), origin)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
        let request = cookie(
            patch_email("b@example.com"),
            JWT_COOKIE.cookie,
            "not-a-token",
        );
        let reply = app.call(from(request, origin)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    }
}

// ---------------------------------------------------------------------------
// What an Origin must be

/// What the check answers a cookie login and a cookie `PATCH /users/me`
/// (a signed-in user of `app`) carrying `headers`: both must be refused.
async fn assert_both_refused(app: &CsrfApp, value: &str, headers: &[(&str, &str)], what: &str) {
    app.cookie_login(JWT_COOKIE, "a@example.com", headers)
        .await
        .assert_refused(&format!("login, {what}"));
    let request = with(
        cookie(patch_email("b@example.com"), JWT_COOKIE.cookie, value),
        headers,
    );
    app.call(request)
        .await
        .assert_refused(&format!("PATCH /users/me, {what}"));
}

/// Both pass: the login sets the cookie, the PATCH answers 200 (to the
/// address the user has: nothing changes).
async fn assert_both_pass(app: &CsrfApp, value: &str, headers: &[(&str, &str)], what: &str) {
    let reply = app.cookie_login(JWT_COOKIE, "a@example.com", headers).await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "login, {what}: {reply:?}"
    );
    assert!(reply.cookie(JWT_COOKIE.cookie).is_some(), "{what}");
    let request = with(
        cookie(patch_email("a@example.com"), JWT_COOKIE.cookie, value),
        headers,
    );
    let reply = app.call(request).await;
    assert_eq!(reply.status, StatusCode::OK, "PATCH, {what}: {reply:?}");
}

#[tokio::test]
async fn foreign_null_and_malformed_origins_are_refused_with_403() {
    let app = csrf_app(Some(CsrfProtection::new()));
    let user = app.create_user("a@example.com", false).await;
    let value = app.sign_in(JWT_COOKIE, "a@example.com").await;
    let host = ("host", HOST);
    let refused: &[(&str, &[(&str, &str)])] = &[
        ("a foreign origin", &[host, ("origin", FOREIGN)]),
        ("Origin: null", &[host, ("origin", "null")]),
        (
            "own and foreign Origin",
            &[host, ("origin", OWN), ("origin", FOREIGN)],
        ),
        (
            "foreign and own Origin",
            &[host, ("origin", FOREIGN), ("origin", OWN)],
        ),
        (
            "two own Origin headers",
            &[host, ("origin", OWN), ("origin", OWN)],
        ),
        (
            "the own host on another port",
            &[host, ("origin", "http://localhost:8001")],
        ),
        (
            "the own host on the default port",
            &[host, ("origin", "http://localhost")],
        ),
        (
            "another host on the own port",
            &[host, ("origin", "http://127.0.0.1:8000")],
        ),
        (
            "a subdomain of the own host",
            &[host, ("origin", "http://evil.localhost:8000")],
        ),
        ("a path", &[host, ("origin", "http://localhost:8000/path")]),
        (
            "a trailing slash",
            &[host, ("origin", "http://localhost:8000/")],
        ),
        ("a query", &[host, ("origin", "http://localhost:8000?x")]),
        ("a fragment", &[host, ("origin", "http://localhost:8000#x")]),
        (
            "user info",
            &[host, ("origin", "http://user@localhost:8000")],
        ),
        ("no scheme", &[host, ("origin", "localhost:8000")]),
        (
            "another scheme",
            &[host, ("origin", "ftp://localhost:8000")],
        ),
        (
            "two ports",
            &[host, ("origin", "http://localhost:8000:8000")],
        ),
        (
            "a port out of range",
            &[host, ("origin", "http://localhost:98000")],
        ),
        (
            "a non-numeric port",
            &[host, ("origin", "http://localhost:x")],
        ),
        ("an empty port", &[host, ("origin", "http://localhost:")]),
        ("no host", &[host, ("origin", "http://")]),
        ("an unclosed IPv6 host", &[host, ("origin", "http://[::1")]),
        ("colons", &[host, ("origin", "::::")]),
        ("a star", &[host, ("origin", "*")]),
        ("an empty Origin", &[host, ("origin", "")]),
        ("an own Origin but no Host", &[("origin", OWN)]),
        (
            "an own Origin but an empty Host",
            &[("host", ""), ("origin", OWN)],
        ),
        (
            "a foreign origin and Sec-Fetch-Site: same-origin",
            &[host, ("origin", FOREIGN), ("sec-fetch-site", "same-origin")],
        ),
    ];
    for (what, headers) in refused {
        assert_both_refused(&app, &value, headers, what).await;
    }

    // Bytes that are no UTF-8, in the Origin and in the Host.
    let not_utf8 = HeaderValue::from_bytes(b"http://l\xf6calhost:8000").unwrap();
    for (name, value_bytes, other) in [
        (header::ORIGIN, not_utf8.clone(), (header::HOST, HOST)),
        (header::HOST, not_utf8, (header::ORIGIN, OWN)),
    ] {
        let mut login = login_request("/auth/cookie/login", "a@example.com", PASSWORD);
        login
            .headers_mut()
            .insert(name.clone(), value_bytes.clone());
        login
            .headers_mut()
            .insert(other.0.clone(), HeaderValue::from_str(other.1).unwrap());
        app.call(login)
            .await
            .assert_refused(&format!("login, a {name} that is not UTF-8"));
        let mut patch = cookie(patch_email("b@example.com"), JWT_COOKIE.cookie, &value);
        patch.headers_mut().insert(name.clone(), value_bytes);
        patch
            .headers_mut()
            .insert(other.0, HeaderValue::from_str(other.1).unwrap());
        app.call(patch)
            .await
            .assert_refused(&format!("PATCH, a {name} that is not UTF-8"));
    }

    assert_eq!(app.reload(&user).await.unwrap().data.email, "a@example.com");
}

#[tokio::test]
async fn other_spellings_of_the_own_origin_pass() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    let value = app.sign_in(JWT_COOKIE, "a@example.com").await;
    let accepted: &[(&str, &[(&str, &str)])] = &[
        (
            "the default port written out",
            &[("host", "localhost"), ("origin", "http://localhost:80")],
        ),
        (
            "the default port in the Host",
            &[("host", "localhost:80"), ("origin", "http://localhost")],
        ),
        (
            "an uppercase scheme and host",
            &[("host", HOST), ("origin", "HTTP://LOCALHOST:8000")],
        ),
        (
            "an uppercase Host",
            &[("host", "LocalHost:8000"), ("origin", OWN)],
        ),
        (
            "an IPv6 host",
            &[("host", "[::1]:8000"), ("origin", "http://[::1]:8000")],
        ),
        (
            "an IPv6 host in other cases",
            &[
                ("host", "[FE80::1]:8000"),
                ("origin", "http://[fe80::1]:8000"),
            ],
        ),
        (
            "an IPv4 host",
            &[
                ("host", "127.0.0.1:8000"),
                ("origin", "http://127.0.0.1:8000"),
            ],
        ),
        (
            "the own origin and Sec-Fetch-Site: same-origin",
            &[
                ("host", HOST),
                ("origin", OWN),
                ("sec-fetch-site", "same-origin"),
            ],
        ),
    ];
    for (what, headers) in accepted {
        assert_both_pass(&app, &value, headers, what).await;
    }
}

#[tokio::test]
async fn a_pinned_scheme_refuses_the_other_one() {
    let host = ("host", HOST);
    let http_only = csrf_app(Some(CsrfProtection::new().scheme("http")));
    http_only.create_user("a@example.com", false).await;
    let value = http_only.sign_in(JWT_COOKIE, "a@example.com").await;
    assert_both_refused(
        &http_only,
        &value,
        &[host, ("origin", "https://localhost:8000")],
        "https on a server pinned to http",
    )
    .await;
    assert_both_pass(&http_only, &value, &[host, ("origin", OWN)], "http").await;

    let https_only = csrf_app(Some(CsrfProtection::new().scheme("https")));
    https_only.create_user("a@example.com", false).await;
    // Signed in without an Origin (the http one is foreign here).
    let reply = https_only
        .cookie_login(JWT_COOKIE, "a@example.com", &[])
        .await;
    let value = reply.cookie(JWT_COOKIE.cookie).expect("a cookie");
    assert_both_refused(
        &https_only,
        &value,
        &[host, ("origin", OWN)],
        "http on a server pinned to https",
    )
    .await;
    assert_both_pass(
        &https_only,
        &value,
        &[
            ("host", "example.com"),
            ("origin", "https://example.com:443"),
        ],
        "https with its default port",
    )
    .await;

    // Unpinned, either scheme with the request's Host is the own origin.
    let both = csrf_app(Some(CsrfProtection::new()));
    both.create_user("a@example.com", false).await;
    let value = both.sign_in(JWT_COOKIE, "a@example.com").await;
    assert_both_pass(
        &both,
        &value,
        &[host, ("origin", "https://localhost:8000")],
        "https, no scheme pinned",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Trusted origins, and the check turned off

#[tokio::test]
async fn a_trusted_origin_passes_whatever_sec_fetch_site_says() {
    let csrf = CsrfProtection::new()
        .scheme("http")
        .trusted_origins(["https://app.example.com"])
        .unwrap();
    let app = csrf_app(Some(csrf));
    app.create_user("a@example.com", false).await;
    let value = app.sign_in(JWT_COOKIE, "a@example.com").await;
    let host = ("host", HOST);
    let cross = ("sec-fetch-site", "cross-site");
    for origin in [
        "https://app.example.com",
        "https://app.example.com:443",
        "HTTPS://APP.EXAMPLE.COM",
    ] {
        assert_both_pass(&app, &value, &[host, ("origin", origin), cross], origin).await;
        assert_both_pass(&app, &value, &[host, ("origin", origin)], origin).await;
    }
    // The own origin still passes.
    assert_both_pass(&app, &value, &[host, ("origin", OWN)], "the own origin").await;
    for origin in [
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://evil.app.example.com",
        "https://app.example.com.evil.example",
        "https://example.com",
    ] {
        assert_both_refused(&app, &value, &[host, ("origin", origin), cross], origin).await;
        assert_both_refused(&app, &value, &[host, ("origin", origin)], origin).await;
    }
    // A trusted origin does not make two Origin headers one.
    assert_both_refused(
        &app,
        &value,
        &[
            host,
            ("origin", "https://app.example.com"),
            ("origin", "https://app.example.com"),
        ],
        "a trusted origin twice",
    )
    .await;
}

#[tokio::test]
async fn a_comma_separated_list_of_trusted_origins_trusts_each() {
    let csrf = CsrfProtection::new()
        .trusted_origins_list(" https://app.example.com , http://localhost:3000,")
        .unwrap();
    let app = csrf_app(Some(csrf));
    app.create_user("a@example.com", false).await;
    let value = app.sign_in(JWT_COOKIE, "a@example.com").await;
    for origin in ["https://app.example.com", "http://localhost:3000"] {
        assert_both_pass(&app, &value, &[("host", HOST), ("origin", origin)], origin).await;
    }
    assert_both_refused(
        &app,
        &value,
        &[("host", HOST), ("origin", "http://localhost:3001")],
        "a port not in the list",
    )
    .await;
    // An empty list (TRUSTED_ORIGINS unset) trusts nothing more.
    assert_eq!(
        CsrfProtection::new().trusted_origins_list("").unwrap(),
        CsrfProtection::new()
    );
}

#[test]
fn trusted_origins_refuses_what_is_not_an_origin() {
    for bad in [
        "app.example.com",
        "ftp://x",
        "https://x/path",
        "https://x/",
        "https://x?q",
        "https://user@x",
        "https://x:port",
        "https://x:99999",
        "https://",
        "null",
        "*",
    ] {
        match CsrfProtection::new().trusted_origins([bad]) {
            Err(Error::Config(message)) => assert!(!message.is_empty(), "{bad}"),
            other => panic!("{bad:?} accepted as a trusted origin: {other:?}"),
        }
    }
    // One bad origin among good ones spoils the list.
    assert!(matches!(
        CsrfProtection::new().trusted_origins(["https://app.example.com", "app.example.com"]),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        CsrfProtection::new().trusted_origins_list("https://app.example.com,ftp://x"),
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn a_disabled_check_lets_cross_site_cookie_requests_through() {
    assert!(CsrfProtection::new().is_enabled());
    assert!(!CsrfProtection::disabled().is_enabled());
    let app = csrf_app(Some(CsrfProtection::disabled()));
    let user = app.create_user("a@example.com", false).await;
    let value = app.sign_in(JWT_COOKIE, "a@example.com").await;
    let host = ("host", HOST);
    let cases: [&[(&str, &str)]; 4] = [
        &[host, ("origin", FOREIGN), ("sec-fetch-site", "cross-site")],
        &[host, ("sec-fetch-site", "cross-site")],
        &[host, ("origin", "null")],
        &[host, ("origin", OWN), ("origin", FOREIGN)],
    ];
    for headers in cases {
        let what = format!("{headers:?}");
        assert_both_pass(&app, &value, headers, &what).await;
    }
    let request = cookie(patch_email("b@example.com"), JWT_COOKIE.cookie, &value);
    let reply = app.call(from(request, FOREIGN)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(app.reload(&user).await.unwrap().data.email, "b@example.com");
}

// ---------------------------------------------------------------------------
// Refresh cookies

#[tokio::test]
async fn a_cross_site_refresh_of_a_refresh_cookie_is_refused_and_rotates_nothing() {
    let app = csrf_app(Some(CsrfProtection::new()));
    app.create_user("a@example.com", false).await;
    let login = app
        .cookie_login(
            REFRESH_COOKIE,
            "a@example.com",
            &[("host", HOST), ("origin", OWN)],
        )
        .await;
    assert_eq!(login.status, StatusCode::NO_CONTENT, "{login:?}");
    let access = login
        .cookie(REFRESH_COOKIE.cookie)
        .expect("an access cookie");
    let refresh = login
        .cookie(REFRESH_TOKEN_COOKIE)
        .expect("a refresh cookie");
    let refresh_route = format!("{}/refresh", REFRESH_COOKIE.prefix);
    let refresh_request = || {
        cookie(
            empty("POST", &refresh_route),
            REFRESH_TOKEN_COOKIE,
            &refresh,
        )
    };

    app.call(from(refresh_request(), FOREIGN))
        .await
        .assert_refused("a cross-site refresh");
    app.call(with(
        refresh_request(),
        &[("host", HOST), ("sec-fetch-site", "cross-site")],
    ))
    .await
    .assert_refused("a refresh with Sec-Fetch-Site: cross-site");
    app.call(with(
        refresh_request(),
        &[("host", HOST), ("origin", OWN), ("origin", OWN)],
    ))
    .await
    .assert_refused("a refresh with two Origin headers");
    let logout = cookie(
        empty("POST", &format!("{}/logout", REFRESH_COOKIE.prefix)),
        REFRESH_COOKIE.cookie,
        &access,
    );
    app.call(from(logout, FOREIGN))
        .await
        .assert_refused("a cross-site logout of the refresh backend");

    // The refused refreshes rotated nothing: the token still refreshes once
    // from the own origin (a rotated one would be a reuse, 401).
    let reply = app.call(from(refresh_request(), OWN)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let new_refresh = reply
        .cookie(REFRESH_TOKEN_COOKIE)
        .expect("a new refresh cookie");
    assert_ne!(new_refresh, refresh);
    let new_access = reply
        .cookie(REFRESH_COOKIE.cookie)
        .expect("a new access cookie");
    assert_eq!(
        app.me_by_cookie(REFRESH_COOKIE, &new_access).await,
        StatusCode::OK
    );
    // The access cookie of the refresh backend is checked like the others.
    let request = cookie(
        patch_email("b@example.com"),
        REFRESH_COOKIE.cookie,
        &new_access,
    );
    app.call(from(request, FOREIGN))
        .await
        .assert_refused("a cross-site PATCH with the refresh backend's access cookie");
}

// ---------------------------------------------------------------------------
// The example server as a process

/// The example server on a port of our choosing (its own origin is
/// `http://127.0.0.1:<port>`), over a memory store, with `env`; requests go
/// through reqwest, whose `Host` is that address.
struct Example {
    process: ExampleServer,
    base: String,
    /// `http://<the Host sent>`.
    own: String,
    http: reqwest::Client,
}

/// An answer of the example server.
#[derive(Debug)]
struct ExampleReply {
    status: u16,
    body: Value,
    cookies: Vec<String>,
}

impl ExampleReply {
    #[track_caller]
    fn assert_refused(&self, what: &str) {
        assert_eq!(self.status, 403, "{what}: {self:?}");
        assert_eq!(self.body, json!({ "detail": MISMATCH }), "{what}");
        assert!(self.cookies.is_empty(), "{what}: {:?}", self.cookies);
    }

    /// The `name=value` pair of the first cookie set.
    fn cookie_pair(&self) -> Option<String> {
        let pair = self.cookies.first()?.split(';').next()?.trim().to_owned();
        Some(pair)
    }
}

impl Example {
    async fn start(env: &[(&str, &str)]) -> Example {
        let bind = format!("127.0.0.1:{}", free_port());
        let secret = axum_users::tokens::random_token(48).expect("random bytes");
        let mut settings = vec![
            ("BIND", bind.as_str()),
            ("DATABASE_URL", "memory://"),
            ("SECRET", secret.as_str()),
            ("TRUSTED_ORIGINS", ""),
        ];
        settings.extend_from_slice(env);
        // `spawn` gives its own BIND first; ours, given later, wins.
        let process = ExampleServer::spawn("csrf", &settings);
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let server = Example {
            process,
            base: format!("http://{bind}"),
            own: format!("http://{bind}"),
            http,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let probe = server
                .http
                .get(format!("{}/openapi.json", server.base))
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

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> ExampleReply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}\n{}", self.process.log_text()));
        let status = response.status().as_u16();
        let cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        let bytes = response.bytes().await.unwrap();
        ExampleReply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            cookies,
        }
    }

    async fn register(&self, email: &str) {
        let body = json!({ "email": email, "password": PASSWORD }).to_string();
        let reply = self
            .call(
                "POST",
                "/auth/register",
                &[],
                Some(("application/json", body)),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }

    async fn login(&self, backend: &str, email: &str, headers: &[(&str, &str)]) -> ExampleReply {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("username", email)
            .append_pair("password", PASSWORD)
            .finish();
        self.call(
            "POST",
            &format!("/auth/{backend}/login"),
            headers,
            Some(("application/x-www-form-urlencoded", form)),
        )
        .await
    }

    /// `PATCH /users/me` with the cookie `pair` from `origin`.
    async fn patch_me(&self, pair: &str, origin: &str, email: &str) -> ExampleReply {
        let body = json!({ "email": email }).to_string();
        self.call(
            "PATCH",
            "/users/me",
            &[("cookie", pair), ("origin", origin)],
            Some(("application/json", body)),
        )
        .await
    }

    /// `GET /users/me` with the cookie `pair`: the address.
    async fn email(&self, pair: &str) -> String {
        let reply = self
            .call("GET", "/users/me", &[("cookie", pair)], None)
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body["email"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn example_server_refuses_cross_site_cookie_logins_but_not_same_origin_or_bearer_ones() {
    let server = Example::start(&[]).await;
    server.register("a@example.com").await;

    server
        .login("cookie", "a@example.com", &[("origin", FOREIGN)])
        .await
        .assert_refused("a cross-site cookie login");
    server
        .login(
            "cookie",
            "a@example.com",
            &[("sec-fetch-site", "cross-site")],
        )
        .await
        .assert_refused("a cookie login with Sec-Fetch-Site: cross-site");
    // The example's own origin is http://<Host>: https is another site.
    let https_own = server.own.replacen("http://", "https://", 1);
    server
        .login("cookie", "a@example.com", &[("origin", &https_own)])
        .await
        .assert_refused("a cookie login from https://<Host>");
    server
        .login("session", "a@example.com", &[("origin", FOREIGN)])
        .await
        .assert_refused("a cross-site login on /auth/session");

    let bearer = server
        .login(
            "jwt",
            "a@example.com",
            &[("origin", FOREIGN), ("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(bearer.status, 200, "{bearer:?}");
    assert!(bearer.body["access_token"].is_string(), "{bearer:?}");

    let login = server
        .login("cookie", "a@example.com", &[("origin", &server.own)])
        .await;
    assert_eq!(login.status, 204, "{login:?}");
    let pair = login.cookie_pair().expect("a cookie");
    assert!(pair.starts_with("fastapiusersauth="), "{pair}");

    // The cookie: refused from elsewhere and from https, fine from home.
    server
        .patch_me(&pair, FOREIGN, "b@example.com")
        .await
        .assert_refused("a cross-site cookie PATCH /users/me");
    server
        .patch_me(&pair, &https_own, "b@example.com")
        .await
        .assert_refused("a cookie PATCH /users/me from https://<Host>");
    assert_eq!(server.email(&pair).await, "a@example.com");
    let reply = server
        .call(
            "GET",
            "/users/me",
            &[("cookie", &pair), ("origin", FOREIGN)],
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "a cross-site GET: {reply:?}");
    let reply = server.patch_me(&pair, &server.own, "b@example.com").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(server.email(&pair).await, "b@example.com");
}

#[tokio::test]
async fn example_server_trusts_the_origins_of_trusted_origins_for_cookie_requests() {
    let server = Example::start(&[("TRUSTED_ORIGINS", "https://app.example.com")]).await;
    server.register("a@example.com").await;
    let trusted = [
        ("origin", "https://app.example.com"),
        ("sec-fetch-site", "cross-site"),
    ];
    let login = server.login("cookie", "a@example.com", &trusted).await;
    assert_eq!(login.status, 204, "{login:?}");
    let pair = login.cookie_pair().expect("a cookie");

    let reply = server
        .patch_me(&pair, "https://app.example.com", "b@example.com")
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(server.email(&pair).await, "b@example.com");
    for origin in [
        "http://app.example.com",
        "https://app.example.com:8443",
        FOREIGN,
    ] {
        server
            .patch_me(&pair, origin, "c@example.com")
            .await
            .assert_refused(origin);
    }
    assert_eq!(server.email(&pair).await, "b@example.com");
}

#[tokio::test]
async fn example_server_refuses_to_start_with_a_trusted_origin_that_is_no_origin() {
    let secret = axum_users::tokens::random_token(48).expect("random bytes");
    let mut server = ExampleServer::spawn(
        "csrf-bad-trusted-origin",
        &[
            ("DATABASE_URL", "memory://"),
            ("SECRET", secret.as_str()),
            ("TRUSTED_ORIGINS", "https://app.example.com,app.example.com"),
        ],
    );
    let status = server.wait_exit(START_TIMEOUT).await;
    assert!(!status.success(), "{status}:\n{}", server.log_text());
    // The error names the bad origin (not only the good one before it).
    let log = server.log_text();
    assert!(
        log.replace("https://app.example.com", "")
            .contains("app.example.com"),
        "{log}"
    );
}
