//! OAuth / OpenID Connect login end to end (the OAuth contract (docs/oauth.md)): the login
//! router at `/auth/oidc` and the associate router at `/auth/associate/oidc`,
//! built in-process over a memory store (the core flow also over SQLite) and
//! driven with `oneshot`, against the real OpenID Connect provider on loopback
//! (`tests/oidc/provider.mjs` through `tests/it/common/oidc.rs`), whose browser
//! side the harness plays. Each test starts its own provider and app.
//!
//! Without node or `tests/oidc/node_modules` the tests print that they were
//! skipped and pass, unless `AXUM_USERS_REQUIRE_SERVICES=1`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
use axum_users::http::request::Parts;
use axum_users::manager::OAuthLogin;
use axum_users::mfa::Mfa;
use axum_users::oauth::{
    AuthorizationRequest, CodeExchange, OAuthConfig, OAuthProvider, OidcProvider,
};
use axum_users::store::{
    ChallengeStore, MemoryStore, MfaStore, OAuthAccount, OAuthAccountStore, SqliteStore,
};
use axum_users::{AxumUsers, Email, User, UserCreate, UserHooks, UserManager, UserModel};
use base64::Engine as _;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use uuid::Uuid;

use crate::common;
use crate::common::oidc::{CallbackUrl, OidcProvider as Idp};
use crate::common::{PASSWORD, SECRET, assert_user_object, fast_hasher, jwt_payload, sign_hs256};

const CLIENT_ID: &str = "axum-users-oauth";
const CLIENT_SECRET: &str = "oauth-client-secret-0123456789";
const LOGIN_REDIRECT: &str = "http://127.0.0.1:8000/auth/oidc/callback";
const ASSOCIATE_REDIRECT: &str = "http://127.0.0.1:8000/auth/associate/oidc/callback";
const LOGIN: &str = "/auth/oidc";
const ASSOCIATE: &str = "/auth/associate/oidc";
const CSRF_COOKIE: &str = "fastapiusersoauthcsrf";
const STATE_AUDIENCE: &str = "fastapi-users:oauth-state";

// ---------------------------------------------------------------------------
// The provider and the app

/// The loopback provider, with the login and associate callback URLs
/// registered; `None` when the test is skipped.
async fn provider() -> Option<Idp> {
    Idp::start(
        CLIENT_ID,
        CLIENT_SECRET,
        &[LOGIN_REDIRECT.to_owned(), ASSOCIATE_REDIRECT.to_owned()],
    )
    .await
}

/// The app's OpenID Connect provider for the harness's issuer.
fn oidc(idp: &Idp) -> OidcProvider {
    OidcProvider::new("oidc", idp.issuer(), CLIENT_ID, CLIENT_SECRET).unwrap()
}

#[derive(Debug, Default, Clone, Copy)]
struct Setup {
    associate_by_email: bool,
    is_verified_by_default: bool,
    requires_verification: bool,
    associate_requires_verification: bool,
    /// Multi-factor login on (`/auth/jwt/login/mfa`, `/users/me/mfa…`).
    mfa: bool,
}

/// Hooks that record the events the routers fire, as
/// `"<event> <email> request=<bool>"` (and `response=<bool>` for a login).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for Recorder {
    async fn on_after_register(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "register {} request={}",
            user.email(),
            request.is_some()
        ));
        Ok(())
    }

    async fn on_after_login(
        &self,
        user: &User,
        request: Option<&Parts>,
        response: Option<&mut Response>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "login {} request={} response={}",
            user.email(),
            request.is_some(),
            response.is_some()
        ));
        Ok(())
    }
}

/// A response, read whole.
#[derive(Debug)]
struct Resp {
    status: StatusCode,
    body: Value,
    text: String,
    set_cookies: Vec<String>,
    location: Option<String>,
}

impl Resp {
    fn detail(&self) -> &Value {
        &self.body["detail"]
    }

    /// The `Set-Cookie` values of the CSRF cookie.
    fn csrf_cookies(&self) -> Vec<&str> {
        self.set_cookies
            .iter()
            .map(String::as_str)
            .filter(|cookie| cookie.starts_with(&format!("{CSRF_COOKIE}=")))
            .collect()
    }
}

/// A 400 with this `detail`.
#[track_caller]
fn assert_400(resp: &Resp, detail: &str) {
    assert_eq!(
        (resp.status, resp.detail()),
        (StatusCode::BAD_REQUEST, &json!(detail)),
        "{resp:?}"
    );
}

/// The response clears the CSRF cookie: empty value, `Max-Age=0`, `Path=/`.
#[track_caller]
fn assert_clears_csrf(resp: &Resp) {
    let cookies = resp.csrf_cookies();
    assert_eq!(cookies.len(), 1, "one CSRF Set-Cookie: {resp:?}");
    let cookie = cookies[0];
    assert!(
        cookie.starts_with(&format!("{CSRF_COOKIE}=\"\";")),
        "empty value: {cookie}"
    );
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Max-Age=0"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
}

/// The response sets no cookie at all.
#[track_caller]
fn assert_no_cookie(resp: &Resp) {
    assert!(resp.set_cookies.is_empty(), "no Set-Cookie: {resp:?}");
}

/// The app under test: the OAuth routers beside the usual ones, and every
/// response it gave (to look for provider tokens in them).
struct App<S: OAuthAccountStore<User = User>> {
    router: Router,
    users: AxumUsers<S, Recorder>,
    transcript: Arc<Mutex<Vec<String>>>,
    /// What the hooks saw.
    events: Recorder,
}

fn bearer() -> AuthBackend<User> {
    AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(SECRET).unwrap(),
    )
}

/// The routes of the example server that matter here, over `store`, with
/// `provider` at `/auth/oidc` (login, bearer JWT) and `/auth/associate/oidc`.
fn app_with<S, P>(store: S, provider: P, setup: Setup) -> App<S>
where
    S: OAuthAccountStore<User = User> + MfaStore<Uuid> + ChallengeStore + Clone,
    P: OAuthProvider + Clone,
{
    let events = Recorder::default();
    let mut manager = UserManager::builder(store.clone())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .hooks(events.clone());
    if setup.mfa {
        manager = manager.mfa(Mfa::new(store));
    }
    let manager = manager.build();
    let bearer = bearer();
    let users = AxumUsers::new(manager, vec![bearer.clone()])
        .requires_verification(setup.requires_verification);
    let login = OAuthConfig::new(provider.clone(), SECRET, LOGIN_REDIRECT)
        .unwrap()
        .associate_by_email(setup.associate_by_email)
        .is_verified_by_default(setup.is_verified_by_default);
    let associate = OAuthConfig::new(provider, SECRET, ASSOCIATE_REDIRECT)
        .unwrap()
        .associate_requires_verification(setup.associate_requires_verification);
    let router = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth", users.register_router())
        .nest("/auth", users.reset_password_router())
        .nest("/auth", users.verify_router())
        .nest("/users", users.users_router());
    let router = match setup.mfa {
        true => router.nest("/users", users.mfa_router()),
        false => router,
    };
    let router = router
        .nest(LOGIN, users.oauth_router(&login, &bearer))
        .nest(ASSOCIATE, users.oauth_associate_router(&associate))
        .layer(users.layer());
    App {
        router,
        users,
        transcript: Arc::default(),
        events,
    }
}

fn memory_app(idp: &Idp, setup: Setup) -> App<MemoryStore<User>> {
    app_with(MemoryStore::new(), oidc(idp), setup)
}

async fn sqlite_app(idp: &Idp, dir: &tempfile::TempDir) -> App<SqliteStore<User>> {
    let store = SqliteStore::<User>::open(dir.path().join("oauth.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    app_with(store, oidc(idp), Setup::default())
}

/// A GET with an optional bearer token and CSRF cookie.
fn get(uri: &str, token: Option<&str>, csrf: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method("GET").uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(csrf) = csrf {
        builder = builder.header(header::COOKIE, format!("{CSRF_COOKIE}={csrf}"));
    }
    builder.body(Body::empty()).unwrap()
}

/// What the authorize route gave the browser.
#[derive(Debug, Clone)]
struct Authorized {
    url: String,
    state: String,
    /// The CSRF cookie's value.
    csrf: String,
    /// The CSRF cookie's whole `Set-Cookie`.
    set_cookie: String,
}

/// The value of the query parameter `name` of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `path_and_query` with the parameter `name` removed, then set to `value`.
fn with_param(path_and_query: &str, name: &str, value: Option<&str>) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(key, _)| key != name)
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

/// The claims of a state, checked as the routers must: HS256 with `SECRET`
/// and the state audience.
fn state_claims(state: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[STATE_AUDIENCE]);
    validation.leeway = 0;
    jsonwebtoken::decode::<Value>(
        state,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .unwrap_or_else(|e| panic!("{state} is not a state signed with SECRET: {e}"))
    .claims
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl<S: OAuthAccountStore<User = User>> App<S> {
    async fn send(&self, request: Request<Body>) -> Resp {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|value| value.to_str().unwrap().to_owned());
        let headers = format!("{:?}", response.headers());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.transcript
            .lock()
            .unwrap()
            .push(format!("{status} {headers}\n{text}"));
        Resp {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
            set_cookies,
            location,
        }
    }

    async fn get(&self, uri: &str, token: Option<&str>, csrf: Option<&str>) -> Resp {
        self.send(get(uri, token, csrf)).await
    }

    /// `GET <router>/authorize`, which must succeed.
    async fn authorize(&self, router: &str, token: Option<&str>) -> Authorized {
        let resp = self.get(&format!("{router}/authorize"), token, None).await;
        assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
        let url = resp.body["authorization_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no authorization_url: {resp:?}"))
            .to_owned();
        let state = query_param(&url, "state").expect("a state in the authorization URL");
        let cookies = resp.csrf_cookies();
        assert_eq!(cookies.len(), 1, "one CSRF cookie: {resp:?}");
        let set_cookie = cookies[0].to_owned();
        let csrf = set_cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value.to_owned())
            .unwrap();
        Authorized {
            url,
            state,
            csrf,
            set_cookie,
        }
    }

    /// The callback the provider sends the browser to (path and query), with
    /// the CSRF cookie and bearer token given.
    async fn callback(
        &self,
        path_and_query: &str,
        csrf: Option<&str>,
        token: Option<&str>,
    ) -> Resp {
        self.get(path_and_query, token, csrf).await
    }

    /// A whole login of `sub`: authorize, the provider, the callback.
    async fn login_flow(&self, idp: &Idp, sub: &str) -> Resp {
        let authorized = self.authorize(LOGIN, None).await;
        let callback = idp.authorize(&authorized.url, sub).await;
        self.callback(&callback.path_and_query(), Some(&authorized.csrf), None)
            .await
    }

    /// A login of `sub` that must succeed: the access token.
    async fn login(&self, idp: &Idp, sub: &str) -> String {
        let resp = self.login_flow(idp, sub).await;
        assert_eq!(
            resp.status,
            StatusCode::OK,
            "OAuth login of {sub}: {resp:?}"
        );
        assert_token_body(&resp.body);
        assert_clears_csrf(&resp);
        resp.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A whole association of `sub` to the holder of `token`.
    async fn associate_flow(&self, idp: &Idp, token: &str, sub: &str) -> Resp {
        let authorized = self.authorize(ASSOCIATE, Some(token)).await;
        let callback = idp.authorize(&authorized.url, sub).await;
        self.callback(
            &callback.path_and_query(),
            Some(&authorized.csrf),
            Some(token),
        )
        .await
    }

    /// Authorize at `router`, then the provider; the callback is not called.
    async fn authorized(
        &self,
        idp: &Idp,
        router: &str,
        token: Option<&str>,
        sub: &str,
    ) -> (Authorized, CallbackUrl) {
        let authorized = self.authorize(router, token).await;
        let callback = idp.authorize(&authorized.url, sub).await;
        assert_eq!(callback.error, None, "{callback:?}");
        assert!(callback.code.is_some(), "{callback:?}");
        (authorized, callback)
    }

    /// `GET /users/me`, which must succeed: the user object.
    async fn me(&self, token: &str) -> Value {
        let resp = self.get("/users/me", Some(token), None).await;
        assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
        assert_user_object(&resp.body);
        resp.body
    }

    /// `GET /users/me` with `token` answers 401.
    async fn assert_token_refused(&self, token: &str) {
        let resp = self.get("/users/me", Some(token), None).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{resp:?}");
    }

    /// A password login of `email` with [`PASSWORD`] fails.
    async fn assert_password_refused(&self, email: &str) {
        let resp = self
            .send(common::login_request("/auth/jwt/login", email, PASSWORD))
            .await;
        assert_400(&resp, "LOGIN_BAD_CREDENTIALS");
    }

    /// The owner of `email` resets its password over HTTP, with a reset token
    /// as the mail would bring it.
    async fn reset_password(&self, email: &str, password: &str) {
        let user = self.user_by_email(email).await.expect("a user");
        let token = self.users.manager().reset_password_token(&user).unwrap();
        let resp = self
            .send(common::json_request(
                "POST",
                "/auth/reset-password",
                None,
                &json!({"token": token, "password": password}),
            ))
            .await;
        assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    }

    /// The owner of `email` follows a verification link over HTTP.
    async fn verify(&self, email: &str) {
        let user = self.user_by_email(email).await.expect("a user");
        let token = self.users.manager().verify_token(&user).unwrap();
        let resp = self
            .send(common::json_request(
                "POST",
                "/auth/verify",
                None,
                &json!({ "token": token }),
            ))
            .await;
        assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
        assert_eq!(resp.body["is_verified"], true);
    }

    /// Registers `email` with [`PASSWORD`] through `POST /auth/register`.
    async fn register(&self, email: &str) -> Value {
        let request = Request::builder()
            .method("POST")
            .uri("/auth/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"email": email, "password": PASSWORD}).to_string(),
            ))
            .unwrap();
        let resp = self.send(request).await;
        assert_eq!(resp.status, StatusCode::CREATED, "{resp:?}");
        resp.body
    }

    /// A password login of `email` through `/auth/jwt/login`.
    async fn password_login(&self, email: &str) -> String {
        let resp = self
            .send(common::login_request("/auth/jwt/login", email, PASSWORD))
            .await;
        assert_eq!(resp.status, StatusCode::OK, "login of {email}: {resp:?}");
        resp.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A registered user (through the manager, flags as given) and a bearer
    /// token for it (password login).
    async fn user(&self, email: &str, verified: bool, superuser: bool) -> (User, String) {
        let mut create = UserCreate::new(Email::parse(email).unwrap(), PASSWORD);
        create.is_verified = Some(verified);
        create.is_superuser = Some(superuser);
        let user = self
            .users
            .manager()
            .create(create, false, None)
            .await
            .unwrap();
        let token = self.password_login(email).await;
        (user, token)
    }

    async fn accounts(&self, user_id: Uuid) -> Vec<OAuthAccount<Uuid>> {
        self.users
            .manager()
            .store()
            .oauth_accounts(&user_id)
            .await
            .unwrap()
    }

    async fn user_by_email(&self, email: &str) -> Option<User> {
        self.users
            .manager()
            .store()
            .get_by_email(email)
            .await
            .unwrap()
    }

    /// No response so far holds a token the provider issued to any of
    /// `users`' accounts.
    async fn assert_no_provider_token_leaked(&self, users: &[Uuid]) {
        let mut tokens = Vec::new();
        for user in users {
            for account in self.accounts(*user).await {
                tokens.push(account.access_token.expose().to_owned());
                if let Some(refresh) = &account.refresh_token {
                    tokens.push(refresh.expose().to_owned());
                }
            }
        }
        assert!(!tokens.is_empty(), "the provider issued tokens");
        let transcript = self.transcript.lock().unwrap();
        assert!(transcript.len() > 3);
        for token in &tokens {
            assert!(token.len() >= 16, "{token}");
            for response in transcript.iter() {
                assert!(
                    !response.contains(token.as_str()),
                    "a provider token in a response: {response}"
                );
            }
        }
    }
}

/// Exactly `{"access_token": <jwt>, "token_type": "bearer"}`.
#[track_caller]
fn assert_token_body(body: &Value) {
    let object = body.as_object().expect("a JSON object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "token_type"], "{body}");
    assert_eq!(body["token_type"], "bearer", "{body}");
    assert_eq!(
        body["access_token"].as_str().unwrap().split('.').count(),
        3,
        "{body}"
    );
}

/// The user id an access token names.
fn token_user(token: &str) -> Uuid {
    jwt_payload(token)["sub"].as_str().unwrap().parse().unwrap()
}

fn user_id(user: &Value) -> Uuid {
    user["id"].as_str().unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------
// Accounts: login creates, finds, refuses

/// The core flow, over any store: creation, the same and another `sub`, a
/// registered address, association and one owner per account, no provider
/// token in any response.
async fn core_login_flow<S: OAuthAccountStore<User = User>>(idp: &Idp, app: &App<S>) {
    idp.set_account("alice", Some("alice@example.com"), true)
        .await;
    let token = app.login(idp, "alice").await;
    let me = app.me(&token).await;
    assert_eq!(me["email"], "alice@example.com", "{me}");
    assert_eq!(me["is_active"], true, "{me}");
    assert_eq!(me["is_superuser"], false, "{me}");
    assert_eq!(me["is_verified"], false, "{me}");
    let alice = user_id(&me);
    assert_eq!(token_user(&token), alice);
    let claims = jwt_payload(&token);
    assert_eq!(claims["aud"], json!(["fastapi-users:auth"]), "{claims}");

    // The same sub: the same user; another sub with a free address: another.
    let again = app.login(idp, "alice").await;
    assert_eq!(user_id(&app.me(&again).await), alice);
    idp.set_account("bob", Some("bob@example.com"), true).await;
    let bob_token = app.login(idp, "bob").await;
    let bob = app.me(&bob_token).await;
    assert_ne!(user_id(&bob), alice);
    assert_eq!(bob["email"], "bob@example.com");

    // A registered address (in another ASCII case) is not taken over.
    app.register("carol@example.com").await;
    idp.set_account("carol-idp", Some("CAROL@Example.COM"), true)
        .await;
    let resp = app.login_flow(idp, "carol-idp").await;
    assert_400(&resp, "OAUTH_USER_ALREADY_EXISTS");

    // Association, then login into the associating user.
    let dave = app.register("dave@example.com").await;
    let dave_token = app.password_login("dave@example.com").await;
    idp.set_account("dave-idp", Some("dave.elsewhere@example.net"), true)
        .await;
    let resp = app.associate_flow(idp, &dave_token, "dave-idp").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_user_object(&resp.body);
    assert_eq!(resp.body["email"], "dave@example.com");
    let token = app.login(idp, "dave-idp").await;
    assert_eq!(token_user(&token), user_id(&dave));

    // One owner per account: alice's account cannot go to dave.
    let resp = app.associate_flow(idp, &dave_token, "alice").await;
    assert_400(&resp, "OAUTH_ACCOUNT_ALREADY_LINKED");
    let token = app.login(idp, "alice").await;
    assert_eq!(token_user(&token), alice);

    app.assert_no_provider_token_leaked(&[alice, user_id(&bob), user_id(&dave)])
        .await;
}

#[tokio::test]
async fn oauth_login_creates_finds_and_links_users_in_memory() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    core_login_flow(&idp, &app).await;
}

#[tokio::test]
async fn oauth_login_creates_finds_and_links_users_on_sqlite() {
    let Some(idp) = provider().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let app = sqlite_app(&idp, &dir).await;
    core_login_flow(&idp, &app).await;
}

#[tokio::test]
async fn first_login_creates_an_active_unverified_user_with_the_provider_email() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    idp.set_account("erin", Some("erin@corp.example"), true)
        .await;
    let resp = app.login_flow(&idp, "erin").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_token_body(&resp.body);
    let token = resp.body["access_token"].as_str().unwrap();
    let me = app.me(token).await;
    assert_eq!(
        me,
        json!({
            "id": me["id"],
            "email": "erin@corp.example",
            "is_active": true,
            "is_superuser": false,
            "is_verified": false,
        })
    );
    // An ordinary user: readable by id, and its account is stored.
    let (_, admin) = app.user("admin@example.com", true, true).await;
    let by_id = app
        .get(
            &format!("/users/{}", me["id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(by_id.status, StatusCode::OK, "{by_id:?}");
    assert_eq!(by_id.body, me);
    let accounts = app.accounts(user_id(&me)).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].oauth_name, "oidc");
    assert_eq!(accounts[0].account_id, "erin");
    assert_eq!(accounts[0].account_email, "erin@corp.example");
    app.assert_no_provider_token_leaked(&[user_id(&me)]).await;
}

#[tokio::test]
async fn same_sub_reaches_the_same_user_and_another_sub_another_user() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let first = token_user(&app.login(&idp, "frank").await);
    let second = token_user(&app.login(&idp, "frank").await);
    assert_eq!(first, second);
    // The provider's address changes: still the same user, e-mail kept.
    idp.set_account("frank", Some("frank@new.example"), true)
        .await;
    let token = app.login(&idp, "frank").await;
    assert_eq!(token_user(&token), first);
    assert_eq!(app.me(&token).await["email"], "frank@example.com");
    let accounts = app.accounts(first).await;
    assert_eq!(accounts[0].account_email, "frank@new.example");

    let other = token_user(&app.login(&idp, "grace").await);
    assert_ne!(other, first);
    assert_eq!(
        app.me(&app.login(&idp, "grace").await).await["email"],
        "grace@example.com"
    );
}

#[tokio::test]
async fn a_registered_email_is_refused_without_associate_by_email() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let heidi = app.register("heidi@example.com").await;
    for (sub, email) in [
        ("heidi-1", "heidi@example.com"),
        ("heidi-2", "HEIDI@EXAMPLE.COM"),
        ("heidi-3", "Heidi@Example.com"),
    ] {
        idp.set_account(sub, Some(email), true).await;
        let resp = app.login_flow(&idp, sub).await;
        assert_400(&resp, "OAUTH_USER_ALREADY_EXISTS");
        assert_clears_csrf(&resp);
    }
    // Nothing linked, the user unchanged, and nobody else created.
    assert!(app.accounts(user_id(&heidi)).await.is_empty());
    assert_eq!(
        app.user_by_email("heidi@example.com").await.unwrap().id,
        user_id(&heidi)
    );
    let token = app.password_login("heidi@example.com").await;
    assert_eq!(app.me(&token).await, heidi);
}

#[tokio::test]
async fn associate_by_email_links_a_verified_email_to_the_existing_user() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            associate_by_email: true,
            ..Setup::default()
        },
    );
    let ivan = app.register("ivan@example.com").await;
    idp.set_account("ivan-idp", Some("IVAN@example.com"), true)
        .await;
    let token = app.login(&idp, "ivan-idp").await;
    assert_eq!(token_user(&token), user_id(&ivan));
    assert_eq!(app.me(&token).await, ivan, "the user is unchanged");
    let accounts = app.accounts(user_id(&ivan)).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].account_id, "ivan-idp");
    // Linked now: later logins reach the user without the address rule.
    let token = app.login(&idp, "ivan-idp").await;
    assert_eq!(token_user(&token), user_id(&ivan));
    // Ivan never proved the address, the provider did: the password set at
    // registration (perhaps by someone else, before Ivan came) stops working.
    let resp = app
        .send(common::login_request(
            "/auth/jwt/login",
            "ivan@example.com",
            PASSWORD,
        ))
        .await;
    assert_400(&resp, "LOGIN_BAD_CREDENTIALS");

    // A verified user's password stops working too: the owner may have
    // verified an account a squatter registered (see
    // `associate_by_email_takes_the_address_back_from_a_squatter_the_owner_verified`).
    let (ivy, ivy_token) = app.user("ivy@example.com", true, false).await;
    idp.set_account("ivy-idp", Some("ivy@example.com"), true)
        .await;
    let token = app.login(&idp, "ivy-idp").await;
    assert_eq!(token_user(&token), ivy.id);
    app.assert_password_refused("ivy@example.com").await;
    app.assert_token_refused(&ivy_token).await;
    assert_eq!(app.me(&token).await["id"], json!(ivy.id.to_string()));
}

#[tokio::test]
async fn associate_by_email_ends_the_password_and_sessions_of_an_unverified_local_user() {
    // Pre-account hijacking: an attacker registers the victim's address with
    // a password; the victim later logs in with a provider that verified it.
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            associate_by_email: true,
            ..Setup::default()
        },
    );
    let squatter = app.register("victim@example.com").await;
    app.password_login("victim@example.com").await; // the squatter's password works, until…
    idp.set_account("victim-idp", Some("victim@example.com"), true)
        .await;
    let token = app.login(&idp, "victim-idp").await;
    assert_eq!(token_user(&token), user_id(&squatter));
    let resp = app
        .send(common::login_request(
            "/auth/jwt/login",
            "victim@example.com",
            PASSWORD,
        ))
        .await;
    assert_400(&resp, "LOGIN_BAD_CREDENTIALS");
}

#[tokio::test]
async fn associate_by_email_refuses_an_email_the_provider_did_not_verify() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            associate_by_email: true,
            ..Setup::default()
        },
    );
    let judy = app.register("judy@example.com").await;
    idp.set_account("judy-idp", Some("judy@example.com"), false)
        .await;
    let resp = app.login_flow(&idp, "judy-idp").await;
    assert_400(&resp, "OAUTH_USER_ALREADY_EXISTS");
    assert!(app.accounts(user_id(&judy)).await.is_empty());
}

#[tokio::test]
async fn is_verified_by_default_verifies_only_provider_verified_emails() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            is_verified_by_default: true,
            ..Setup::default()
        },
    );
    idp.set_account("kim", Some("kim@example.com"), true).await;
    let token = app.login(&idp, "kim").await;
    assert_eq!(app.me(&token).await["is_verified"], true);
    idp.set_account("lou", Some("lou@example.com"), false).await;
    let token = app.login(&idp, "lou").await;
    assert_eq!(app.me(&token).await["is_verified"], false);

    // Off (the default): verified addresses give unverified users.
    let app = memory_app(&idp, Setup::default());
    let token = app.login(&idp, "kim").await;
    assert_eq!(app.me(&token).await["is_verified"], false);
}

#[tokio::test]
async fn userinfo_without_email_is_oauth_not_available_email() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    idp.set_account("mallory", None, false).await;
    let resp = app.login_flow(&idp, "mallory").await;
    assert_400(&resp, "OAUTH_NOT_AVAILABLE_EMAIL");
    assert_clears_csrf(&resp);
    // Association needs an address too.
    let (_, token) = app.user("nina@example.com", false, false).await;
    let resp = app.associate_flow(&idp, &token, "mallory").await;
    assert_400(&resp, "OAUTH_NOT_AVAILABLE_EMAIL");
    assert_clears_csrf(&resp);
}

#[tokio::test]
async fn an_inactive_user_cannot_log_in_with_oauth() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let token = app.login(&idp, "oscar").await;
    let oscar = token_user(&token);
    let (_, admin) = app.user("admin@example.com", true, true).await;
    let request = Request::builder()
        .method("PATCH")
        .uri(format!("/users/{oscar}"))
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"is_active": false}).to_string()))
        .unwrap();
    let resp = app.send(request).await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_eq!(resp.body["is_active"], false);

    let resp = app.login_flow(&idp, "oscar").await;
    assert_400(&resp, "LOGIN_BAD_CREDENTIALS");
    assert_clears_csrf(&resp);
    assert!(resp.body.get("access_token").is_none());
    // The old token stopped working too.
    let resp = app.get("/users/me", Some(&token), None).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{resp:?}");
}

#[tokio::test]
async fn requires_verification_refuses_unverified_oauth_users() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            requires_verification: true,
            ..Setup::default()
        },
    );
    let resp = app.login_flow(&idp, "peggy").await;
    assert_400(&resp, "LOGIN_USER_NOT_VERIFIED");
    assert_clears_csrf(&resp);
    // The user exists, unverified.
    let peggy = app.user_by_email("peggy@example.com").await.unwrap();
    assert!(!peggy.data.is_verified);

    // A verified one logs in.
    let app = memory_app(
        &idp,
        Setup {
            requires_verification: true,
            is_verified_by_default: true,
            ..Setup::default()
        },
    );
    let token = app.login(&idp, "quentin").await;
    assert_eq!(app.me(&token).await["is_verified"], true);
}

#[tokio::test]
async fn a_deleted_oauth_user_is_created_anew_at_the_next_login() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let first = token_user(&app.login(&idp, "rupert").await);
    let (_, admin) = app.user("admin@example.com", true, true).await;
    let request = Request::builder()
        .method("DELETE")
        .uri(format!("/users/{first}"))
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.send(request).await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{resp:?}");
    assert!(
        app.accounts(first).await.is_empty(),
        "the accounts went with the user"
    );
    let token = app.login(&idp, "rupert").await;
    assert_ne!(token_user(&token), first);
    assert_eq!(app.me(&token).await["email"], "rupert@example.com");
}

#[tokio::test]
async fn a_second_login_refreshes_the_stored_provider_tokens() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let user = token_user(&app.login(&idp, "sybil").await);
    let before = app.accounts(user).await;
    assert_eq!(before.len(), 1, "{before:?}");
    let before_token = before[0].access_token.expose().to_owned();
    assert!(!before_token.is_empty());
    // The stored access token is the provider's: it reads the user info.
    let (status, info) = idp.userinfo_raw(&before_token).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], "sybil");

    app.login(&idp, "sybil").await;
    let after = app.accounts(user).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after[0].access_token.expose(), before_token, "refreshed");
    let (status, info) = idp.userinfo_raw(after[0].access_token.expose()).await;
    assert_eq!(status, 200, "{info}");
    if let (Some(old), Some(new)) = (&before[0].expires_at, &after[0].expires_at) {
        assert!(new >= old);
    }
}

// ---------------------------------------------------------------------------
// Association

#[tokio::test]
async fn associate_routes_answer_401_without_a_token_before_anything_else() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    for token in [
        None,
        Some("garbage"),
        Some(&*sign_hs256(&json!({"sub": "x"}), SECRET)),
    ] {
        let resp = app.get("/auth/associate/oidc/authorize", token, None).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{resp:?}");
        assert_no_cookie(&resp);
    }

    // A genuine association started by uma; its callback without her token.
    let (uma, uma_token) = app.user("uma@example.com", false, false).await;
    let (authorized, callback) = app
        .authorized(&idp, ASSOCIATE, Some(&uma_token), "uma-idp")
        .await;
    idp.reset_stats().await;
    for token in [None, Some("garbage")] {
        let resp = app
            .callback(&callback.path_and_query(), Some(&authorized.csrf), token)
            .await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{resp:?}");
        assert_eq!(resp.detail(), "Unauthorized");
        assert_no_cookie(&resp);
    }
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    assert!(app.accounts(uma.id).await.is_empty());

    // The same callback with her token still links.
    let resp = app
        .callback(
            &callback.path_and_query(),
            Some(&authorized.csrf),
            Some(&uma_token),
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_eq!(user_id(&resp.body), uma.id);
}

#[tokio::test]
async fn associate_links_the_account_to_the_bearer_user_who_then_logs_in_with_it() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let victor = app.register("victor@example.com").await;
    let token = app.password_login("victor@example.com").await;
    idp.set_account("victor-idp", Some("victor@elsewhere.example"), true)
        .await;
    let resp = app.associate_flow(&idp, &token, "victor-idp").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_eq!(resp.body, victor, "the current user, e-mail kept");
    assert_clears_csrf(&resp);
    let accounts = app.accounts(user_id(&victor)).await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].account_id, "victor-idp");
    assert_eq!(accounts[0].account_email, "victor@elsewhere.example");

    let oauth_token = app.login(&idp, "victor-idp").await;
    assert_eq!(app.me(&oauth_token).await, victor);
    // No user was created for the provider's address.
    assert!(
        app.user_by_email("victor@elsewhere.example")
            .await
            .is_none()
    );
    app.assert_no_provider_token_leaked(&[user_id(&victor)])
        .await;
}

#[tokio::test]
async fn an_account_owned_by_another_user_cannot_be_associated() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (walt, walt_token) = app.user("walt@example.com", false, false).await;
    let (xena, xena_token) = app.user("xena@example.com", false, false).await;

    // Linked by association to walt.
    let resp = app.associate_flow(&idp, &walt_token, "shared-1").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    let resp = app.associate_flow(&idp, &xena_token, "shared-1").await;
    assert_400(&resp, "OAUTH_ACCOUNT_ALREADY_LINKED");
    assert_clears_csrf(&resp);
    assert_eq!(token_user(&app.login(&idp, "shared-1").await), walt.id);

    // Created by an OAuth login.
    let created = token_user(&app.login(&idp, "yuri").await);
    let resp = app.associate_flow(&idp, &xena_token, "yuri").await;
    assert_400(&resp, "OAUTH_ACCOUNT_ALREADY_LINKED");
    assert_eq!(token_user(&app.login(&idp, "yuri").await), created);
    assert!(app.accounts(xena.id).await.is_empty(), "xena got nothing");

    // The owner associating again is fine, and refreshes the tokens.
    let before = app.accounts(walt.id).await[0]
        .access_token
        .expose()
        .to_owned();
    let resp = app.associate_flow(&idp, &walt_token, "shared-1").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_eq!(user_id(&resp.body), walt.id);
    let after = app.accounts(walt.id).await;
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].access_token.expose(), before);
    assert_eq!(token_user(&app.login(&idp, "shared-1").await), walt.id);
}

#[tokio::test]
async fn associate_callback_refuses_the_state_of_another_user() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (zoe, zoe_token) = app.user("zoe@example.com", false, false).await;
    let (adam, adam_token) = app.user("adam@example.com", false, false).await;
    let (authorized, callback) = app
        .authorized(&idp, ASSOCIATE, Some(&zoe_token), "zoe-idp")
        .await;
    assert_eq!(
        state_claims(&authorized.state)["sub"],
        zoe.id.to_string(),
        "the associate state names its user"
    );
    idp.reset_stats().await;
    // Adam replays zoe's callback, cookie and all.
    let resp = app
        .callback(
            &callback.path_and_query(),
            Some(&authorized.csrf),
            Some(&adam_token),
        )
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    assert!(app.accounts(adam.id).await.is_empty());
    // Zoe's own callback still works.
    let resp = app
        .callback(
            &callback.path_and_query(),
            Some(&authorized.csrf),
            Some(&zoe_token),
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_eq!(user_id(&resp.body), zoe.id);
}

#[tokio::test]
async fn associate_callback_refuses_a_login_state() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (bea, token) = app.user("bea@example.com", false, false).await;
    // A login authorize (no sub in its state), sent to the associate callback.
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "bea-idp").await;
    assert!(state_claims(&authorized.state).get("sub").is_none());
    let path = format!(
        "{ASSOCIATE}/callback?{}",
        callback.path_and_query().split_once('?').unwrap().1
    );
    idp.reset_stats().await;
    let resp = app
        .callback(&path, Some(&authorized.csrf), Some(&token))
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    assert!(app.accounts(bea.id).await.is_empty());
    // The login callback it was made for still works.
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
}

// ---------------------------------------------------------------------------
// Authorize

#[tokio::test]
async fn authorize_answers_a_pkce_url_and_sets_the_csrf_cookie() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let resp = app.get("/auth/oidc/authorize", None, None).await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    let keys: Vec<&String> = resp.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["authorization_url"], "{}", resp.body);

    let first = app.authorize(LOGIN, None).await;
    let second = app.authorize(LOGIN, None).await;
    for authorized in [&first, &second] {
        let url = &authorized.url;
        assert!(
            url.starts_with(&format!("{}?", idp.endpoint("authorization_endpoint"))),
            "{url}"
        );
        let param =
            |name: &str| query_param(url, name).unwrap_or_else(|| panic!("no {name} in {url}"));
        assert_eq!(param("response_type"), "code");
        assert_eq!(param("client_id"), CLIENT_ID);
        assert_eq!(param("redirect_uri"), LOGIN_REDIRECT);
        let scope = param("scope");
        let scopes: Vec<&str> = scope.split(' ').collect();
        assert!(
            scopes.contains(&"openid") && scopes.contains(&"email"),
            "{scope}"
        );
        assert!(!param("nonce").is_empty());
        assert_eq!(param("code_challenge").len(), 43);
        assert!(
            param("code_challenge")
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(param("code_challenge_method"), "S256");
        assert!(query_param(url, "code_verifier").is_none(), "{url}");

        // The cookie.
        let cookie = cookie::Cookie::parse(authorized.set_cookie.clone()).unwrap();
        assert_eq!(
            (cookie.name(), cookie.value()),
            (CSRF_COOKIE, authorized.csrf.as_str())
        );
        assert_eq!(cookie.http_only(), Some(true), "{cookie}");
        assert_eq!(cookie.secure(), Some(true), "{cookie}");
        assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax), "{cookie}");
        assert_eq!(cookie.path(), Some("/"), "{cookie}");
        assert_eq!(cookie.domain(), None, "{cookie}");
        assert_eq!(
            cookie.max_age(),
            Some(cookie::time::Duration::seconds(3600)),
            "{cookie}"
        );
        assert!(authorized.csrf.len() >= 32, "{}", authorized.csrf);

        // The state.
        let header = jsonwebtoken::decode_header(&authorized.state).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        let claims = state_claims(&authorized.state);
        assert_eq!(claims["csrftoken"], authorized.csrf.as_str(), "{claims}");
        let audience = match &claims["aud"] {
            Value::String(aud) => vec![aud.clone()],
            Value::Array(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("aud {other}"),
        };
        assert!(audience.iter().any(|a| a == STATE_AUDIENCE), "{claims}");
        let exp = claims["exp"].as_i64().unwrap();
        let now = common::unix_now();
        assert!(exp > now && exp <= now + 3600 + 1, "exp {exp}, now {now}");
        // Nothing in the state or the URL is (or names) the verifier.
        let text = claims.to_string();
        assert!(!text.contains("verifier"), "{claims}");
        for (_, value) in claims.as_object().unwrap() {
            if let Some(value) = value.as_str() {
                assert_ne!(s256(value), param("code_challenge"), "{claims}");
            }
        }
        assert_ne!(s256(&authorized.csrf), param("code_challenge"));
        assert_ne!(param("nonce"), authorized.csrf);
    }
    // Fresh per call.
    assert_ne!(first.csrf, second.csrf);
    assert_ne!(first.state, second.state);
    for name in ["code_challenge", "nonce"] {
        assert_ne!(
            query_param(&first.url, name),
            query_param(&second.url, name),
            "{name}"
        );
    }

    // The associate router: its own callback URL, and the user in the state.
    let (user, token) = app.user("carl@example.com", false, false).await;
    let associate = app.authorize(ASSOCIATE, Some(&token)).await;
    assert_eq!(
        query_param(&associate.url, "redirect_uri").unwrap(),
        ASSOCIATE_REDIRECT
    );
    assert_eq!(
        query_param(&associate.url, "code_challenge").unwrap().len(),
        43
    );
    let claims = state_claims(&associate.state);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["csrftoken"], associate.csrf.as_str());
}

#[tokio::test]
async fn nothing_the_browser_sees_is_the_pkce_verifier() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "dora").await;
    let code = callback.code.clone().unwrap();
    let mut candidates = vec![
        authorized.csrf.clone(),
        authorized.state.clone(),
        callback.state.clone().unwrap(),
        query_param(&authorized.url, "nonce").unwrap(),
        query_param(&authorized.url, "code_challenge").unwrap(),
    ];
    for value in state_claims(&authorized.state)
        .as_object()
        .unwrap()
        .values()
    {
        if let Some(value) = value.as_str() {
            candidates.push(value.to_owned());
        }
    }
    // RFC 7636 §4.1: a verifier has 43 to 128 characters; longer values
    // (the state) cannot be one.
    candidates.retain(|candidate| (43..=128).contains(&candidate.len()));
    assert!(candidates.len() >= 3, "{candidates:?}");
    for candidate in &candidates {
        let (status, body) = idp.exchange_raw(&code, LOGIN_REDIRECT, candidate).await;
        assert_eq!(status, 400, "{candidate} worked as the verifier: {body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    // The code is still good for the app, which has the verifier.
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
}

/// The app's provider, except that the verifier it gets is replaced: what a
/// wrong verifier does at the real provider. (`CodeExchange` cannot be built
/// outside the crate, but the one the router passes can be changed.)
#[derive(Clone)]
struct WrongVerifier(OidcProvider);

const WRONG_VERIFIER: &str = "wrong-verifier-0123456789-0123456789-abcdefgh";

#[axum_users::async_trait]
impl OAuthProvider for WrongVerifier {
    fn name(&self) -> &str {
        self.0.name()
    }

    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> axum_users::Result<String> {
        self.0.authorization_url(request).await
    }

    async fn sign_in(&self, exchange: CodeExchange<'_>) -> axum_users::Result<OAuthLogin> {
        let mut exchange = exchange;
        assert_ne!(exchange.code_verifier, WRONG_VERIFIER);
        assert_eq!(exchange.code_verifier.len(), 43);
        exchange.code_verifier = WRONG_VERIFIER;
        self.0.sign_in(exchange).await
    }
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_provider() {
    let Some(idp) = provider().await else { return };
    // Two apps with the same secret and callback URL: one sends a wrong verifier.
    let wrong = app_with(
        MemoryStore::new(),
        WrongVerifier(oidc(&idp)),
        Setup::default(),
    );
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = wrong.authorized(&idp, LOGIN, None, "eve").await;
    idp.reset_stats().await;
    let resp = wrong
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_400(&resp, "OAUTH_INVALID_CODE");
    assert_eq!(idp.stats().await.token_requests, 1);
    assert!(wrong.user_by_email("eve@example.com").await.is_none());

    // Through exchange_raw as well: refused, and the code survives.
    let (status, body) = idp
        .exchange_raw(
            callback.code.as_deref().unwrap(),
            LOGIN_REDIRECT,
            WRONG_VERIFIER,
        )
        .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );

    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
}

// ---------------------------------------------------------------------------
// Callback: state and CSRF checks before the code goes anywhere

/// The claims of `state` with `change` applied, re-signed with `secret`.
fn resign(
    state: &str,
    secret: &str,
    change: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> String {
    let mut claims = jwt_payload(state);
    change(claims.as_object_mut().unwrap());
    sign_hs256(&claims, secret)
}

/// States that must be refused, with the `detail` each gets.
fn bad_states(state: &str) -> Vec<(&'static str, Option<String>, &'static str)> {
    let decode = "ACCESS_TOKEN_DECODE_ERROR";
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS512),
        &jwt_payload(state),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let none = {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
            engine.encode(jwt_payload(state).to_string())
        )
    };
    vec![
        (
            "tampered signature",
            Some(common::tamper_signature(state)),
            decode,
        ),
        (
            "foreign secret",
            Some(resign(
                state,
                "another-secret-0123456789abcdef0123456789",
                |_| {},
            )),
            decode,
        ),
        ("garbage", Some("garbage".to_owned()), decode),
        ("empty", Some(String::new()), decode),
        ("missing", None, decode),
        (
            "another audience",
            Some(resign(state, SECRET, |claims| {
                claims.insert("aud".into(), json!(["fastapi-users:auth"]));
            })),
            decode,
        ),
        (
            "no audience",
            Some(resign(state, SECRET, |claims| {
                claims.remove("aud");
            })),
            decode,
        ),
        ("HS512", Some(hs512), decode),
        ("alg none", Some(none), decode),
        (
            "expired",
            Some(resign(state, SECRET, |claims| {
                claims.insert("exp".into(), json!(common::unix_now() - 30));
            })),
            "ACCESS_TOKEN_ALREADY_EXPIRED",
        ),
    ]
}

#[tokio::test]
async fn bad_states_are_refused_before_the_code_is_exchanged() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "fay").await;
    let genuine = callback.path_and_query();
    idp.reset_stats().await;
    for (case, state, detail) in bad_states(&authorized.state) {
        let path = with_param(&genuine, "state", state.as_deref());
        let resp = app.callback(&path, Some(&authorized.csrf), None).await;
        assert_eq!(
            (resp.status, resp.detail()),
            (StatusCode::BAD_REQUEST, &json!(detail)),
            "{case}: {resp:?}"
        );
        assert!(resp.body.get("access_token").is_none(), "{case}");
    }
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    assert!(app.user_by_email("fay@example.com").await.is_none());

    let resp = app.callback(&genuine, Some(&authorized.csrf), None).await;
    assert_eq!(
        resp.status,
        StatusCode::OK,
        "the genuine callback: {resp:?}"
    );
    assert_token_body(&resp.body);
}

#[tokio::test]
async fn bad_states_are_refused_on_the_associate_callback_too() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (gus, token) = app.user("gus@example.com", false, false).await;
    let (authorized, callback) = app
        .authorized(&idp, ASSOCIATE, Some(&token), "gus-idp")
        .await;
    let genuine = callback.path_and_query();
    idp.reset_stats().await;
    for (case, state, detail) in bad_states(&authorized.state) {
        let path = with_param(&genuine, "state", state.as_deref());
        let resp = app
            .callback(&path, Some(&authorized.csrf), Some(&token))
            .await;
        assert_eq!(
            (resp.status, resp.detail()),
            (StatusCode::BAD_REQUEST, &json!(detail)),
            "{case}: {resp:?}"
        );
    }
    for (case, csrf) in [
        ("missing cookie", None),
        ("another cookie", Some("not-the-cookie")),
    ] {
        let resp = app.callback(&genuine, csrf, Some(&token)).await;
        assert_eq!(
            (resp.status, resp.detail()),
            (StatusCode::BAD_REQUEST, &json!("OAUTH_INVALID_STATE")),
            "{case}: {resp:?}"
        );
    }
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    assert!(app.accounts(gus.id).await.is_empty());
    // The genuine state re-signed with SECRET and an extra claim: accepted
    // (extra claims survive re-signing).
    let extra = resign(&authorized.state, SECRET, |claims| {
        claims.insert("extra".into(), json!("kept"));
    });
    let resp = app
        .callback(
            &with_param(&genuine, "state", Some(&extra)),
            Some(&authorized.csrf),
            Some(&token),
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_eq!(app.accounts(gus.id).await.len(), 1);
}

#[tokio::test]
async fn a_missing_or_mismatched_csrf_cookie_is_oauth_invalid_state() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "hugo").await;
    let other = app.authorize(LOGIN, None).await;
    let genuine = callback.path_and_query();
    idp.reset_stats().await;
    let cases: [(&str, Option<&str>); 4] = [
        ("no cookie", None),
        ("the cookie of another authorize", Some(&other.csrf)),
        ("an empty cookie", Some("")),
        ("the state as cookie", Some(&authorized.state)),
    ];
    for (case, csrf) in cases {
        let resp = app.callback(&genuine, csrf, None).await;
        assert_eq!(
            (resp.status, resp.detail()),
            (StatusCode::BAD_REQUEST, &json!("OAUTH_INVALID_STATE")),
            "{case}: {resp:?}"
        );
    }
    // The other authorize's state with this one's cookie, and vice versa.
    let swapped = with_param(&genuine, "state", Some(&other.state));
    let resp = app.callback(&swapped, Some(&authorized.csrf), None).await;
    assert_400(&resp, "OAUTH_INVALID_STATE");
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    assert!(app.user_by_email("hugo@example.com").await.is_none());

    let resp = app.callback(&genuine, Some(&authorized.csrf), None).await;
    assert_eq!(
        resp.status,
        StatusCode::OK,
        "the genuine callback: {resp:?}"
    );
}

#[tokio::test]
async fn the_callback_clears_the_csrf_cookie_on_success_and_on_later_errors() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "iris").await;
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_clears_csrf(&resp);
    // Replayed: an error after a genuine state.
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_400(&resp, "OAUTH_INVALID_CODE");
    assert_clears_csrf(&resp);
    // No code with a genuine state.
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "iris").await;
    let resp = app
        .callback(
            &with_param(&callback.path_and_query(), "code", None),
            Some(&authorized.csrf),
            None,
        )
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    assert_clears_csrf(&resp);
}

// ---------------------------------------------------------------------------
// Callback: what the provider sends back

#[tokio::test]
async fn a_code_verifier_query_parameter_is_ignored() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    // With a genuine login, a forged verifier changes nothing.
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "jack").await;
    let path = with_param(
        &callback.path_and_query(),
        "code_verifier",
        Some("forged-verifier-0123456789-0123456789-abcd"),
    );
    let resp = app.callback(&path, Some(&authorized.csrf), None).await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");

    // An attacker who put their own challenge in the URL cannot have the
    // server send their verifier.
    let attacker = "attacker-verifier-0123456789-0123456789-abc";
    let authorized = app.authorize(LOGIN, None).await;
    let mut url = reqwest::Url::parse(&authorized.url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| match &*key {
            "code_challenge" => (key.into_owned(), s256(attacker)),
            _ => (key.into_owned(), value.into_owned()),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = idp.authorize(url.as_str(), "kate").await;
    assert!(callback.code.is_some(), "{callback:?}");
    let path = with_param(&callback.path_and_query(), "code_verifier", Some(attacker));
    let resp = app.callback(&path, Some(&authorized.csrf), None).await;
    assert_400(&resp, "OAUTH_INVALID_CODE");
    assert!(app.user_by_email("kate@example.com").await.is_none());
}

#[tokio::test]
async fn access_denied_at_the_provider_is_a_400_without_token_request() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let authorized = app.authorize(LOGIN, None).await;
    let callback = idp.authorize(&authorized.url, "deny").await;
    assert_eq!(
        callback.error.as_deref(),
        Some("access_denied"),
        "{callback:?}"
    );
    idp.reset_stats().await;
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    assert_eq!(resp.body, json!({"detail": "access_denied"}));
    // On the associate router too.
    let (_, token) = app.user("liam@example.com", false, false).await;
    let authorized = app.authorize(ASSOCIATE, Some(&token)).await;
    let callback = idp.authorize(&authorized.url, "deny").await;
    let resp = app
        .callback(
            &callback.path_and_query(),
            Some(&authorized.csrf),
            Some(&token),
        )
        .await;
    assert_eq!(resp.body, json!({"detail": "access_denied"}), "{resp:?}");
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
}

#[tokio::test]
async fn a_callback_without_code_is_a_400_without_token_request() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "mona").await;
    idp.reset_stats().await;
    for code in [None, Some("")] {
        let path = with_param(&callback.path_and_query(), "code", code);
        let resp = app.callback(&path, Some(&authorized.csrf), None).await;
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{code:?}: {resp:?}");
    }
    // Nothing at all.
    let resp = app.callback("/auth/oidc/callback", None, None).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
}

#[tokio::test]
async fn a_replayed_or_unknown_code_is_oauth_invalid_code() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "ned").await;
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_400(&resp, "OAUTH_INVALID_CODE");
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "ned").await;
    let path = with_param(&callback.path_and_query(), "code", Some("an-unknown-code"));
    let resp = app.callback(&path, Some(&authorized.csrf), None).await;
    assert_400(&resp, "OAUTH_INVALID_CODE");
    assert!(!resp.text.contains(idp.issuer()), "{resp:?}");
}

#[tokio::test]
async fn a_failing_provider_is_a_502_without_its_url() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let port = idp.issuer().rsplit(':').next().unwrap().to_owned();

    idp.fail(true, false).await;
    let resp = app.login_flow(&idp, "olga").await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY, "{resp:?}");
    assert_eq!(resp.body, json!({"detail": "OAUTH_PROVIDER_ERROR"}));
    assert!(
        !resp.text.contains("127.0.0.1") && !resp.text.contains(&port),
        "{resp:?}"
    );
    assert_eq!(idp.stats().await.token_requests, 1);

    idp.fail(false, true).await;
    idp.reset_stats().await;
    let resp = app.login_flow(&idp, "olga").await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY, "{resp:?}");
    assert_eq!(resp.body, json!({"detail": "OAUTH_PROVIDER_ERROR"}));
    assert!(
        !resp.text.contains("127.0.0.1") && !resp.text.contains(&port),
        "{resp:?}"
    );
    assert_eq!(idp.stats().await.userinfo_requests, 1);
    assert!(app.user_by_email("olga@example.com").await.is_none());

    idp.fail(false, false).await;
    let token = app.login(&idp, "olga").await;
    assert_eq!(app.me(&token).await["email"], "olga@example.com");
}

#[tokio::test]
async fn an_iss_naming_another_issuer_is_refused_without_token_request() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "pia").await;
    assert_eq!(callback.iss.as_deref(), Some(idp.issuer()));
    idp.reset_stats().await;
    for iss in ["http://127.0.0.1:1", "https://evil.example", ""] {
        let path = with_param(&callback.path_and_query(), "iss", Some(iss));
        let resp = app.callback(&path, Some(&authorized.csrf), None).await;
        assert_eq!(
            resp.status,
            StatusCode::BAD_REQUEST,
            "iss {iss:?}: {resp:?}"
        );
    }
    assert_eq!(idp.stats().await.token_requests, 0, "no token request");
    assert!(app.user_by_email("pia@example.com").await.is_none());
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
}

#[tokio::test]
async fn an_invalid_provider_email_is_oauth_not_available_email() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    for (sub, email) in [
        ("quinn-1", "not-an-email"),
        ("quinn-2", "quinn@"),
        ("quinn-3", " "),
    ] {
        idp.set_account(sub, Some(email), true).await;
        let resp = app.login_flow(&idp, sub).await;
        assert_400(&resp, "OAUTH_NOT_AVAILABLE_EMAIL");
    }
}

#[tokio::test]
async fn an_associate_state_does_not_log_in_on_the_login_callback() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (rita, token) = app.user("rita@example.com", false, false).await;
    let (authorized, callback) = app
        .authorized(&idp, ASSOCIATE, Some(&token), "rita-idp")
        .await;
    let path = format!(
        "{LOGIN}/callback?{}",
        callback.path_and_query().split_once('?').unwrap().1
    );
    let resp = app.callback(&path, Some(&authorized.csrf), None).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    assert!(resp.body.get("access_token").is_none(), "{resp:?}");
    assert!(app.user_by_email("rita-idp@example.com").await.is_none());
    assert!(app.accounts(rita.id).await.is_empty());
}

#[tokio::test]
async fn other_methods_on_the_oauth_routes_are_405() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    for path in [
        "/auth/oidc/authorize",
        "/auth/oidc/callback",
        "/auth/associate/oidc/authorize",
        "/auth/associate/oidc/callback",
    ] {
        for method in ["POST", "PUT", "DELETE"] {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            let resp = app.send(request).await;
            assert_eq!(
                resp.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {resp:?}"
            );
        }
    }
}

/// Ten first logins of one provider account at once: every one must log
/// into the one user created for it.
async fn concurrent_first_logins<S: OAuthAccountStore<User = User>>(idp: &Idp, app: &App<S>) {
    let mut pending = Vec::new();
    for _ in 0..10 {
        pending.push(app.authorized(idp, LOGIN, None, "sam").await);
    }
    let calls: Vec<_> = pending
        .iter()
        .map(|(authorized, callback)| {
            let request = get(&callback.path_and_query(), None, Some(&authorized.csrf));
            let router = app.router.clone();
            tokio::spawn(async move {
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let body = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
                (status, body)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|(status, _)| *status != StatusCode::OK)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} concurrent first logins failed: {failed:?}",
        failed.len(),
        outcomes.len()
    );
    let mut users: Vec<Uuid> = outcomes
        .iter()
        .map(|(_, body)| token_user(body["access_token"].as_str().unwrap()))
        .collect();
    users.dedup();
    assert_eq!(users.len(), 1, "{users:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_of_one_account_reach_one_user_on_sqlite() {
    let Some(idp) = provider().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let app = sqlite_app(&idp, &dir).await;
    concurrent_first_logins(&idp, &app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_of_one_account_reach_one_user_in_memory() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    concurrent_first_logins(&idp, &app).await;
}

/// The login router over the cookie backend, optionally redirecting after
/// success.
fn cookie_app(idp: &Idp, success_redirect: Option<&str>) -> App<MemoryStore<User>> {
    let events = Recorder::default();
    let manager = UserManager::builder(MemoryStore::new())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .hooks(events.clone())
        .build();
    let cookie = AuthBackend::new(
        "cookie",
        axum_users::auth::CookieTransport::new(),
        JwtStrategy::hs256(SECRET).unwrap(),
    );
    let users = AxumUsers::new(manager, vec![cookie.clone()]);
    let mut login = OAuthConfig::new(oidc(idp), SECRET, LOGIN_REDIRECT).unwrap();
    if let Some(url) = success_redirect {
        login = login.success_redirect(url).unwrap();
    }
    let router = Router::new()
        .nest("/users", users.users_router())
        .nest(LOGIN, users.oauth_router(&login, &cookie))
        .layer(users.layer());
    App {
        router,
        users,
        transcript: Arc::default(),
        events,
    }
}

/// The value of the auth cookie a login set.
#[track_caller]
fn auth_cookie(resp: &Resp) -> String {
    let cookie = resp
        .set_cookies
        .iter()
        .find(|cookie| cookie.starts_with("fastapiusersauth="))
        .unwrap_or_else(|| panic!("no auth cookie: {resp:?}"));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
    cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap()
}

/// `GET /users/me` with the auth cookie, which must succeed.
async fn me_by_cookie(app: &App<MemoryStore<User>>, cookie: &str) -> Value {
    let request = Request::builder()
        .uri("/users/me")
        .header(header::COOKIE, format!("fastapiusersauth={cookie}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.send(request).await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    resp.body
}

#[tokio::test]
async fn a_cookie_backend_login_sets_the_auth_cookie_and_clears_the_csrf_cookie() {
    let Some(idp) = provider().await else { return };
    let app = cookie_app(&idp, None);
    let resp = app.login_flow(&idp, "tina").await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{resp:?}");
    assert_clears_csrf(&resp);
    let token = auth_cookie(&resp);
    assert_eq!(
        me_by_cookie(&app, &token).await["email"],
        "tina@example.com"
    );
}

#[tokio::test]
async fn success_redirect_answers_302_with_the_login_cookies() {
    let Some(idp) = provider().await else { return };
    let app = cookie_app(&idp, Some("https://app.example.com/welcome"));
    let resp = app.login_flow(&idp, "ursula").await;
    assert_eq!(resp.status, StatusCode::FOUND, "{resp:?}");
    assert_eq!(
        resp.location.as_deref(),
        Some("https://app.example.com/welcome")
    );
    assert_clears_csrf(&resp);
    assert_eq!(resp.body, Value::Null, "no body on the redirect: {resp:?}");
    let token = auth_cookie(&resp);
    assert_eq!(
        me_by_cookie(&app, &token).await["email"],
        "ursula@example.com"
    );
    // Errors are not redirected.
    idp.set_account("nomail", None, false).await;
    let resp = app.login_flow(&idp, "nomail").await;
    assert_400(&resp, "OAUTH_NOT_AVAILABLE_EMAIL");
}

#[tokio::test]
async fn an_unreachable_provider_is_a_502_at_authorize() {
    // No provider needed: nothing listens on port 1.
    let provider =
        OidcProvider::new("oidc", "http://127.0.0.1:1", CLIENT_ID, CLIENT_SECRET).unwrap();
    let app = app_with(MemoryStore::new(), provider, Setup::default());
    let resp = app.get("/auth/oidc/authorize", None, None).await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY, "{resp:?}");
    assert_eq!(resp.body, json!({"detail": "OAUTH_PROVIDER_ERROR"}));
    assert!(!resp.text.contains("127.0.0.1"), "{resp:?}");
    assert_no_cookie(&resp);
}

/// `url` with its query parameter `name` replaced by `value` (or removed).
fn url_with(url: &str, name: &str, value: Option<&str>) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

#[tokio::test]
async fn an_id_token_without_our_nonce_logs_nobody_in() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    for (case, nonce) in [
        ("another nonce", Some("a-nonce-of-another-login")),
        ("no nonce", None),
    ] {
        let authorized = app.authorize(LOGIN, None).await;
        let url = url_with(&authorized.url, "nonce", nonce);
        let callback = idp.authorize(&url, "victoria").await;
        assert!(callback.code.is_some(), "{case}: {callback:?}");
        let resp = app
            .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
            .await;
        assert!(
            resp.status == StatusCode::BAD_GATEWAY || resp.status.is_client_error(),
            "{case}: {resp:?}"
        );
        assert!(resp.body.get("access_token").is_none(), "{case}: {resp:?}");
    }
    assert!(app.user_by_email("victoria@example.com").await.is_none());
    // With the nonce the app sent, the same account logs in.
    app.login(&idp, "victoria").await;
}

#[tokio::test]
async fn a_client_secret_with_special_characters_authenticates() {
    let secret = "p@ss+w/rd:%2B&=?~!*";
    let Some(idp) = Idp::start(
        CLIENT_ID,
        secret,
        &[LOGIN_REDIRECT.to_owned(), ASSOCIATE_REDIRECT.to_owned()],
    )
    .await
    else {
        return;
    };
    let provider = OidcProvider::new("oidc", idp.issuer(), CLIENT_ID, secret).unwrap();
    let app = app_with(MemoryStore::new(), provider, Setup::default());
    let token = app.login(&idp, "walter").await;
    assert_eq!(app.me(&token).await["email"], "walter@example.com");
}

// ---------------------------------------------------------------------------
// A mix-up: a state, challenge and nonce issued for another provider (one the
// attacker controls) replayed on our provider's callback.

#[derive(Clone)]
struct Evil;

#[axum_users::async_trait]
impl OAuthProvider for Evil {
    fn name(&self) -> &str {
        "evil"
    }
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> axum_users::Result<String> {
        let mut url = reqwest::Url::parse("https://evil.example/authorize").unwrap();
        url.query_pairs_mut()
            .append_pair("state", request.state)
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("nonce", request.nonce);
        Ok(url.into())
    }
    async fn sign_in(&self, _exchange: CodeExchange<'_>) -> axum_users::Result<OAuthLogin> {
        unreachable!()
    }
}

#[tokio::test]
async fn a_state_issued_for_another_provider_is_refused_before_the_exchange() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    // The same secret for every provider, as examples/server.rs does.
    let users = &app.users;
    let evil_assoc = OAuthConfig::new(
        Evil,
        SECRET,
        "http://127.0.0.1:8000/auth/associate/evil/callback",
    )
    .unwrap();
    let router = app
        .router
        .clone()
        .nest(
            "/auth/associate/evil",
            users.oauth_associate_router(&evil_assoc),
        )
        .layer(users.layer());
    let app = App {
        router,
        users: app.users.clone(),
        transcript: Arc::default(),
        events: app.events.clone(),
    };

    let (victim, victim_token) = app.user("victim@example.com", true, false).await;
    let (_attacker, attacker_token) = app.user("attacker@example.com", false, false).await;
    idp.set_account("mallory", Some("mallory@example.com"), true)
        .await;

    // 1. The victim starts linking an account at "evil": evil learns state,
    //    code_challenge and nonce from the authorization URL.
    let victim_auth = app
        .authorize("/auth/associate/evil", Some(&victim_token))
        .await;
    let state = query_param(&victim_auth.url, "state").unwrap();
    let challenge = query_param(&victim_auth.url, "code_challenge").unwrap();
    let nonce = query_param(&victim_auth.url, "nonce").unwrap();

    // 2. Evil gets a code for its own account at the honest provider, for the
    //    honest associate callback, with the victim's challenge and nonce.
    let own = app.authorize(ASSOCIATE, Some(&attacker_token)).await;
    let mut url = reqwest::Url::parse(&own.url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| match k.as_str() {
            "state" => (k, state.clone()),
            "code_challenge" => (k, challenge.clone()),
            "nonce" => (k, nonce.clone()),
            _ => (k, v),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let cb = idp.authorize(url.as_str(), "mallory").await;
    assert!(cb.code.is_some(), "{cb:?}");

    // 3. Evil sends the victim's browser to the honest associate callback:
    //    the state names the "evil" router, so it is refused before any token
    //    request, and nothing is linked.
    idp.reset_stats().await;
    let resp = app
        .callback(
            &cb.path_and_query(),
            Some(&victim_auth.csrf),
            Some(&victim_token),
        )
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{}", resp.text);
    assert!(resp.text.contains("OAUTH_INVALID_STATE"), "{}", resp.text);
    assert_eq!(idp.stats().await.token_requests, 0, "no code exchange");
    assert!(
        app.accounts(victim.id).await.is_empty(),
        "nothing linked to the victim"
    );
}

#[tokio::test]
async fn a_password_reset_drops_links_made_with_an_unverified_provider_address() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    // The attacker's provider account claims the victim's address, unverified.
    idp.set_account("mallory", Some("victim@example.com"), false)
        .await;
    let t1 = app.login(&idp, "mallory").await;
    let uid = token_user(&t1);
    // The victim cannot register; resets the password and uses the account.
    let user = app.user_by_email("victim@example.com").await.unwrap();
    let reset = app.users.manager().reset_password_token(&user).unwrap();
    app.users
        .manager()
        .reset_password(&reset, &axum_users::Password::new(PASSWORD), None)
        .await
        .unwrap();
    let victim_token = app.password_login("victim@example.com").await;
    assert_eq!(token_user(&victim_token), uid);
    // The reset proved the mailbox: the link made with the unverified
    // address is gone, and the attacker's provider account reaches nobody.
    assert!(
        app.accounts(uid).await.is_empty(),
        "the unverified link is dropped"
    );
    let (authorized, callback) = app.authorized(&idp, LOGIN, None, "mallory").await;
    let resp = app
        .callback(&callback.path_and_query(), Some(&authorized.csrf), None)
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{}", resp.text);
    assert!(
        resp.text.contains("OAUTH_USER_ALREADY_EXISTS"),
        "{}",
        resp.text
    );
}

// ---------------------------------------------------------------------------
// Link squatting: someone registers the victim's address with a password,
// then links their own provider account to it. When the owner takes the
// address back, the squatter's link must die with the squatter's password.

const OWNER_PASSWORD: &str = "the owner's own new password";

/// The squatter's setup: `victim@example.com` registered with [`PASSWORD`],
/// and the squatter's own provider account `squatter-idp` (a verified address
/// of the squatter's) linked to it. The squatter's access token and the
/// victim account's id.
async fn squat<S: OAuthAccountStore<User = User>>(idp: &Idp, app: &App<S>) -> (String, Uuid) {
    let victim = user_id(&app.register("victim@example.com").await);
    let token = app.password_login("victim@example.com").await;
    idp.set_account("squatter-idp", Some("squatter@evil.example"), true)
        .await;
    let resp = app.associate_flow(idp, &token, "squatter-idp").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    let accounts = app.accounts(victim).await;
    assert_eq!(accounts.len(), 1);
    assert!(
        accounts[0].email_verified && !accounts[0].user_verified,
        "the link records that the account's address was not verified: {accounts:?}"
    );
    assert_eq!(token_user(&app.login(idp, "squatter-idp").await), victim);
    (token, victim)
}

/// After the owner took the address back: the squatter's link, password and
/// token reach the account no more.
async fn assert_squatter_locked_out<S: OAuthAccountStore<User = User>>(
    idp: &Idp,
    app: &App<S>,
    victim: Uuid,
    squatter_token: &str,
) {
    assert!(
        app.accounts(victim)
            .await
            .iter()
            .all(|account| account.account_id != "squatter-idp"),
        "the squatter's link is gone"
    );
    // The squatter's provider account is a stranger now: its login makes a
    // user of the squatter's own address.
    let token = app.login(idp, "squatter-idp").await;
    assert_ne!(token_user(&token), victim);
    assert_eq!(app.me(&token).await["email"], "squatter@evil.example");
    app.assert_token_refused(squatter_token).await;
    app.assert_password_refused("victim@example.com").await;
}

#[tokio::test]
async fn a_squatters_link_is_dropped_when_the_owner_resets_the_password() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (squatter_token, victim) = squat(&idp, &app).await;
    app.reset_password("victim@example.com", OWNER_PASSWORD)
        .await;
    assert_squatter_locked_out(&idp, &app, victim, &squatter_token).await;
}

#[tokio::test]
async fn a_squatters_link_is_dropped_when_the_owner_verifies_the_address() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (_, victim) = squat(&idp, &app).await;
    app.verify("victim@example.com").await;
    assert!(app.accounts(victim).await.is_empty(), "the link is gone");
    let token = app.login(&idp, "squatter-idp").await;
    assert_ne!(token_user(&token), victim);
}

#[tokio::test]
async fn a_squatters_link_is_dropped_when_the_owner_logs_in_by_address() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            associate_by_email: true,
            ..Setup::default()
        },
    );
    let (squatter_token, victim) = squat(&idp, &app).await;
    idp.set_account("victim-idp", Some("victim@example.com"), true)
        .await;
    let token = app.login(&idp, "victim-idp").await;
    assert_eq!(token_user(&token), victim, "the owner gets the account");
    let accounts = app.accounts(victim).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].account_id, "victim-idp");
    assert!(accounts[0].user_verified, "the owner's link is verified");
    assert_squatter_locked_out(&idp, &app, victim, &squatter_token).await;
    // The owner's link keeps working.
    assert_eq!(token_user(&app.login(&idp, "victim-idp").await), victim);
}

#[tokio::test]
async fn a_links_verified_flags_never_go_up_on_a_later_login() {
    // The squatter signs up through a provider that does not vouch for the
    // victim's address; later the provider says it is verified.
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    idp.set_account("lax", Some("victim@example.com"), false)
        .await;
    let victim = token_user(&app.login(&idp, "lax").await);
    idp.set_account("lax", Some("victim@example.com"), true)
        .await;
    let squatter_token = app.login(&idp, "lax").await;
    assert_eq!(token_user(&squatter_token), victim);
    let accounts = app.accounts(victim).await;
    assert!(
        !accounts[0].email_verified && !accounts[0].user_verified,
        "the later login raised nothing: {accounts:?}"
    );
    // The owner takes the address back: the link goes, and the provider
    // account is a stranger to an address that has an owner now.
    app.reset_password("victim@example.com", OWNER_PASSWORD)
        .await;
    assert!(app.accounts(victim).await.is_empty());
    let resp = app.login_flow(&idp, "lax").await;
    assert_400(&resp, "OAUTH_USER_ALREADY_EXISTS");
    app.assert_token_refused(&squatter_token).await;
}

#[tokio::test]
async fn associate_by_email_takes_the_address_back_from_a_squatter_the_owner_verified() {
    // The squatter registers the victim's address and asks for a
    // verification mail, which the victim follows; the account is verified,
    // with the squatter's password.
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            associate_by_email: true,
            ..Setup::default()
        },
    );
    let victim = user_id(&app.register("victim@example.com").await);
    app.verify("victim@example.com").await;
    let squatter_token = app.password_login("victim@example.com").await;
    // The owner logs in with a provider that vouches for the address.
    idp.set_account("victim-idp", Some("victim@example.com"), true)
        .await;
    let token = app.login(&idp, "victim-idp").await;
    assert_eq!(token_user(&token), victim);
    app.assert_password_refused("victim@example.com").await;
    app.assert_token_refused(&squatter_token).await;
    assert_eq!(app.me(&token).await["is_verified"], true);
}

#[tokio::test]
async fn a_link_made_while_the_address_was_verified_survives_a_reset() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    let (wendy, token) = app.user("wendy@example.com", true, false).await;
    idp.set_account("wendy-idp", Some("wendy@elsewhere.example"), true)
        .await;
    let resp = app.associate_flow(&idp, &token, "wendy-idp").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert!(app.accounts(wendy.id).await[0].user_verified);
    app.reset_password("wendy@example.com", OWNER_PASSWORD)
        .await;
    assert_eq!(app.accounts(wendy.id).await.len(), 1, "the link stays");
    assert_eq!(token_user(&app.login(&idp, "wendy-idp").await), wendy.id);
    // An unverified user's link to a provider that vouches for the user's own
    // address counts as verified too.
    let (xavier, token) = app.user("xavier@example.com", false, false).await;
    idp.set_account("xavier-idp", Some("XAVIER@example.com"), true)
        .await;
    let resp = app.associate_flow(&idp, &token, "xavier-idp").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert!(app.accounts(xavier.id).await[0].user_verified);
}

#[tokio::test]
async fn associate_requires_verification_refuses_unverified_users_before_anything_else() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            associate_requires_verification: true,
            ..Setup::default()
        },
    );
    let (_, unverified) = app.user("yann@example.com", false, false).await;
    let resp = app
        .get(&format!("{ASSOCIATE}/authorize"), Some(&unverified), None)
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "{resp:?}");
    assert_no_cookie(&resp);
    // Nor at the callback, with a state that was issued before (say, the
    // option was turned on meanwhile): 403 before the code is exchanged.
    let resp = app
        .get(
            &format!("{ASSOCIATE}/callback?code=x&state=y"),
            Some(&unverified),
            None,
        )
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "{resp:?}");
    // A verified user links as before.
    let (zelda, verified) = app.user("zelda@example.com", true, false).await;
    let resp = app.associate_flow(&idp, &verified, "zelda-idp").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_eq!(app.accounts(zelda.id).await.len(), 1);
    // Login is not concerned.
    app.login(&idp, "newcomer").await;
}

// ---------------------------------------------------------------------------
// Hooks

#[tokio::test]
async fn oauth_login_fires_on_after_register_then_on_after_login() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(&idp, Setup::default());
    idp.set_account("hook", Some("hook@example.com"), true)
        .await;
    app.login(&idp, "hook").await;
    assert_eq!(
        app.events.take(),
        [
            "register hook@example.com request=true",
            "login hook@example.com request=true response=true",
        ],
        "a first login registers the user, then logs it in"
    );
    app.login(&idp, "hook").await;
    assert_eq!(
        app.events.take(),
        ["login hook@example.com request=true response=true"],
        "a later login only logs in"
    );
    // A refused login fires nothing.
    idp.set_account("taken", Some("hook@example.com"), true)
        .await;
    let resp = app.login_flow(&idp, "taken").await;
    assert_400(&resp, "OAUTH_USER_ALREADY_EXISTS");
    assert!(app.events.take().is_empty());
    // Linking an account to the current user is no login.
    let (_, token) = app.user("linker@example.com", false, false).await;
    app.events.take();
    let resp = app.associate_flow(&idp, &token, "linked").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert!(app.events.take().is_empty());
}

/// A user with TOTP on who logs in with a provider gets the same
/// `LOGIN_MFA_REQUIRED` as after a password, no token; the second step is
/// the `login/mfa` route of the backend the OAuth router logs into, and its
/// token is good there only once.
#[tokio::test]
async fn an_oauth_login_of_a_user_with_totp_asks_for_the_second_factor() {
    let Some(idp) = provider().await else { return };
    let app = memory_app(
        &idp,
        Setup {
            mfa: true,
            ..Setup::default()
        },
    );
    // A user with a password links a provider account, then turns TOTP on.
    app.register("gawain@example.com").await;
    let token = app.password_login("gawain@example.com").await;
    idp.set_account("gawain-idp", Some("gawain@elsewhere.example"), true)
        .await;
    let resp = app.associate_flow(&idp, &token, "gawain-idp").await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    let resp = app
        .send(json_request(
            "POST",
            "/users/me/mfa/totp",
            Some(&token),
            &json!({"current_password": PASSWORD}),
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    let mut authenticator =
        common::mfa::AuthenticatorApp::of(resp.body["secret"].as_str().unwrap());
    let code = authenticator.next().await;
    let resp = app
        .send(json_request(
            "POST",
            "/users/me/mfa/totp/confirm",
            Some(&token),
            &json!({ "code": code }),
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");

    // The provider login: the challenge, no token, the CSRF cookie cleared.
    let resp = app.login_flow(&idp, "gawain-idp").await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    assert_eq!(resp.detail()["code"], "LOGIN_MFA_REQUIRED", "{resp:?}");
    assert_eq!(resp.detail()["methods"], json!(["totp", "recovery_code"]));
    assert!(resp.body.get("access_token").is_none(), "{resp:?}");
    assert!(!resp.text.contains("access_token"), "{resp:?}");
    assert_clears_csrf(&resp);
    let mfa_token = resp.detail()["mfa_token"].as_str().unwrap().to_owned();

    // A bad code, then the right one at the bearer backend's second step.
    let resp = app
        .send(json_request(
            "POST",
            "/auth/jwt/login/mfa",
            None,
            &json!({"mfa_token": mfa_token, "code": "000000x"}),
        ))
        .await;
    assert_400(&resp, "MFA_BAD_CODE");
    let code = authenticator.next().await;
    let resp = app
        .send(json_request(
            "POST",
            "/auth/jwt/login/mfa",
            None,
            &json!({"mfa_token": mfa_token, "code": code}),
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
    assert_token_body(&resp.body);
    let me = app.me(resp.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me["email"], "gawain@example.com", "{me}");
    // Used once.
    let code = authenticator.next().await;
    let resp = app
        .send(json_request(
            "POST",
            "/auth/jwt/login/mfa",
            None,
            &json!({"mfa_token": mfa_token, "code": code}),
        ))
        .await;
    assert_400(&resp, "MFA_TOKEN_INVALID");
}

/// A JSON request, with a bearer token when given.
fn json_request(method: &str, uri: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_string())).unwrap()
}
