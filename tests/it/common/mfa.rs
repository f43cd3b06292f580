//! Shared helpers of the multi-factor tests (`mfa`, `passkeys`): the app
//! with four kinds of backend and the MFA routes over any store, hooks that
//! record what the MFA flows fire, and an authenticator app (TOTP codes
//! computed from the secret the enrolment shows).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RefreshStrategy,
};
use axum_users::http::request::Parts;
use axum_users::mfa::totp::{self, TotpSecret};
use axum_users::mfa::{Mfa, MfaFactor};
use axum_users::store::{ChallengeStore, MfaStore, SessionStore, UserStore};
use axum_users::throttle::LoginThrottle;
use axum_users::{AxumUsers, Email, User, UserCreate, UserHooks, UserManager};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tower::ServiceExt;
use uuid::Uuid;

use super::{MAIL_TIMEOUT, PASSWORD, SECRET, Shared, body_json, fast_hasher, login_request};

pub const JWT_COOKIE: &str = "fastapiusersauth";
pub const SESSION_COOKIE: &str = "fastapiuserssession";

/// What a store needs to back the whole app: users, factors, challenges
/// and sessions.
pub trait MfaTestStore:
    UserStore<User = User> + MfaStore<Uuid> + ChallengeStore + SessionStore<Uuid> + Clone
{
}

impl<T> MfaTestStore for T where
    T: UserStore<User = User> + MfaStore<Uuid> + ChallengeStore + SessionStore<Uuid> + Clone
{
}

// ---------------------------------------------------------------------------
// Hooks.

/// Records `on_after_mfa_enabled` / `on_after_mfa_disabled` as
/// `"enabled <email> <factor>"` / `"disabled <email> <factor>"`, and passes
/// reset tokens into a channel (the reset hook runs in a task of its own).
#[derive(Clone)]
pub struct Recorder {
    pub events: Shared<Vec<String>>,
    reset_tx: UnboundedSender<(String, String)>,
}

impl Recorder {
    pub fn new() -> (Self, UnboundedReceiver<(String, String)>) {
        let (reset_tx, reset_rx) = unbounded_channel();
        (
            Self {
                events: Shared::default(),
                reset_tx,
            },
            reset_rx,
        )
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

fn factor_name(factor: MfaFactor) -> &'static str {
    match factor {
        MfaFactor::Totp => "totp",
        MfaFactor::Passkey => "passkey",
        MfaFactor::All => "all",
        _ => "other",
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for Recorder {
    async fn on_after_mfa_enabled(
        &self,
        user: &User,
        factor: MfaFactor,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "enabled {} {}",
            user.data.email,
            factor_name(factor)
        ));
        Ok(())
    }

    async fn on_after_mfa_disabled(
        &self,
        user: &User,
        factor: MfaFactor,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "disabled {} {}",
            user.data.email,
            factor_name(factor)
        ));
        Ok(())
    }

    async fn on_after_forgot_password(
        &self,
        user: &User,
        token: &str,
        _request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        let _ = self
            .reset_tx
            .send((user.data.email.clone(), token.to_owned()));
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The app.

/// How an app is built.
#[derive(Default)]
pub struct Setup {
    pub throttle: Option<LoginThrottle>,
    #[cfg(feature = "passkeys")]
    pub passkeys: Option<axum_users::mfa::passkey::RelyingParty>,
}

/// The four kinds of backend, each with its auth prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/auth/jwt`: bearer JWT, 200 `{access_token, token_type}`.
    Jwt,
    /// `/auth/cookie`: JWT in a cookie, 204.
    Cookie,
    /// `/auth/session`: database session in a cookie, 204.
    Session,
    /// `/auth/token`: refresh tokens, 200 with `refresh_token`.
    Token,
}

pub const KINDS: [Kind; 4] = [Kind::Jwt, Kind::Cookie, Kind::Session, Kind::Token];

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Jwt => "/auth/jwt",
            Kind::Cookie => "/auth/cookie",
            Kind::Session => "/auth/session",
            Kind::Token => "/auth/token",
        }
    }

    pub fn login(self) -> String {
        format!("{}/login", self.prefix())
    }

    pub fn login_mfa(self) -> String {
        format!("{}/login/mfa", self.prefix())
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Credential {
    Bearer(String),
    Cookie(&'static str, String),
}

/// A response: status, headers, JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// 400 `{"detail": code}`.
    #[track_caller]
    pub fn assert_code(&self, code: &str, what: &str) {
        assert_eq!(
            (self.status, &self.body),
            (StatusCode::BAD_REQUEST, &json!({ "detail": code })),
            "{what}"
        );
    }

    /// The `mfa_token` of a 400 `LOGIN_MFA_REQUIRED`, whose detail is
    /// exactly `{code, mfa_token, methods}` with these methods; no token, no
    /// cookie.
    #[track_caller]
    pub fn mfa_token(&self, methods: &[&str]) -> String {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{:?}", self);
        let detail = self.body["detail"].as_object().expect("an object detail");
        let mut keys: Vec<&str> = detail.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "methods", "mfa_token"], "{}", self.body);
        assert_eq!(detail["code"], "LOGIN_MFA_REQUIRED");
        assert_eq!(detail["methods"], json!(methods), "{}", self.body);
        assert!(
            self.headers.get(header::SET_COOKIE).is_none(),
            "no cookie before the second step: {self:?}"
        );
        assert!(self.body.get("access_token").is_none());
        let token = detail["mfa_token"].as_str().expect("a string mfa_token");
        assert!(token.len() >= 32, "an opaque token of some length: {token}");
        token.to_owned()
    }

    /// The values of its `Set-Cookie` headers.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

pub struct MfaApp<S: MfaTestStore> {
    pub router: Router,
    pub manager: UserManager<S, Recorder>,
    pub store: S,
    pub hooks: Recorder,
    reset_rx: tokio::sync::Mutex<UnboundedReceiver<(String, String)>>,
}

/// The app over `store`, default setup (no throttle, no passkeys).
pub fn mfa_app<S: MfaTestStore>(store: S) -> MfaApp<S> {
    MfaApp::build(store, Setup::default())
}

/// A request with `auth` and, when given, a JSON body.
pub fn request(
    method: &str,
    uri: &str,
    auth: Option<&Credential>,
    body: Option<&Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    match auth {
        Some(Credential::Bearer(token)) => {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        Some(Credential::Cookie(name, value)) => {
            builder = builder.header(header::COOKIE, format!("{name}={value}"));
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

impl<S: MfaTestStore> MfaApp<S> {
    /// The example server's routes (four auth backends, register, reset,
    /// users, MFA) over `store`.
    pub fn build(store: S, setup: Setup) -> Self {
        let (hooks, reset_rx) = Recorder::new();
        #[allow(unused_mut)]
        let mut mfa = Mfa::new(store.clone()).issuer("Tests");
        #[cfg(feature = "passkeys")]
        if let Some(rp) = setup.passkeys {
            mfa = mfa.passkeys(rp);
        }
        let mut builder = UserManager::builder(store.clone())
            .hasher(fast_hasher())
            .token_secret(SECRET)
            .mfa(mfa)
            .hooks(hooks.clone());
        if let Some(throttle) = setup.throttle {
            builder = builder.login_throttle(throttle);
        }
        let manager = builder.build();
        let jwt = JwtStrategy::hs256(SECRET).unwrap();
        let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
        let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt.clone());
        let session = AuthBackend::new(
            "session",
            CookieTransport::new().name(SESSION_COOKIE),
            DatabaseStrategy::new(store.clone()),
        );
        let refresh = RefreshStrategy::new(jwt.lifetime(Duration::from_secs(900)), store.clone());
        let token = AuthBackend::new("token", BearerTransport::new("auth/token/login"), refresh);
        let users = AxumUsers::new(
            manager.clone(),
            vec![
                bearer.clone(),
                cookie.clone(),
                session.clone(),
                token.clone(),
            ],
        );
        let router = users
            .routes()
            .auth("/auth/jwt", &bearer)
            .auth("/auth/cookie", &cookie)
            .auth("/auth/session", &session)
            .auth("/auth/token", &token)
            .register("/auth")
            .reset_password("/auth")
            .users("/users")
            .mfa("/users")
            .into_router()
            .layer(users.layer());
        Self {
            router,
            manager,
            store,
            hooks,
            reset_rx: tokio::sync::Mutex::new(reset_rx),
        }
    }

    /// Status, headers and JSON body; never a 500.
    pub async fn call(&self, request: Request<Body>) -> Answer {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = body_json(response).await;
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "never a 500 ({what}): {body}"
        );
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends every request at once (each on a task of its own): the
    /// answers, in order; never a 500.
    pub async fn concurrently(&self, requests: Vec<Request<Body>>) -> Vec<Answer> {
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let router = self.router.clone();
                tokio::spawn(async move {
                    let response = router.oneshot(request).await.unwrap();
                    let status = response.status();
                    let headers = response.headers().clone();
                    Answer {
                        status,
                        headers,
                        body: body_json(response).await,
                    }
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            let answer = task.await.unwrap();
            assert_ne!(
                answer.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{answer:?}"
            );
            answers.push(answer);
        }
        answers
    }

    pub async fn post(&self, uri: &str, auth: Option<&Credential>, body: Value) -> Answer {
        self.call(request("POST", uri, auth, Some(&body))).await
    }

    /// A new active, unverified user with [`PASSWORD`].
    pub async fn user(&self, email: &str) -> User {
        self.manager
            .create(
                UserCreate::new(Email::parse(email).unwrap(), PASSWORD),
                false,
                None,
            )
            .await
            .unwrap()
    }

    pub async fn superuser(&self, email: &str) -> User {
        let mut create = UserCreate::new(Email::parse(email).unwrap(), PASSWORD);
        create.is_superuser = Some(true);
        self.manager.create(create, false, None).await.unwrap()
    }

    /// A password login on `kind`.
    pub async fn password_login(&self, kind: Kind, email: &str, password: &str) -> Answer {
        self.call(login_request(&kind.login(), email, password))
            .await
    }

    /// A bearer JWT of a user without a second factor.
    pub async fn jwt(&self, email: &str) -> Credential {
        let answer = self.password_login(Kind::Jwt, email, PASSWORD).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "login of {email}: {answer:?}"
        );
        Credential::Bearer(answer.body["access_token"].as_str().unwrap().to_owned())
    }

    /// The `mfa_token` of a password login on `kind` of a TOTP user.
    pub async fn mfa_token(&self, kind: Kind, email: &str) -> String {
        self.password_login(kind, email, PASSWORD)
            .await
            .mfa_token(&["totp", "recovery_code"])
    }

    /// `POST {prefix}/login/mfa`.
    pub async fn login_mfa(&self, kind: Kind, mfa_token: &str, code: &str) -> Answer {
        self.post(
            &kind.login_mfa(),
            None,
            json!({ "mfa_token": mfa_token, "code": code }),
        )
        .await
    }

    /// `answer` is `kind`'s normal login answer, and what it hands out
    /// authenticates `email` on `GET /users/me`: that credential.
    pub async fn assert_logged_in(&self, kind: Kind, answer: &Answer, email: &str) -> Credential {
        let credential = match kind {
            Kind::Jwt | Kind::Token => {
                assert_eq!(answer.status, StatusCode::OK, "{kind:?}: {answer:?}");
                let mut keys: Vec<&str> = answer
                    .body
                    .as_object()
                    .expect("a JSON object")
                    .keys()
                    .map(String::as_str)
                    .collect();
                keys.sort_unstable();
                let expected: &[&str] = match kind {
                    Kind::Jwt => &["access_token", "token_type"],
                    _ => &["access_token", "expires_in", "refresh_token", "token_type"],
                };
                assert_eq!(keys, expected, "{kind:?}: {}", answer.body);
                assert_eq!(answer.body["token_type"], "bearer");
                assert!(answer.cookies().is_empty(), "{kind:?}: no cookie");
                Credential::Bearer(answer.body["access_token"].as_str().unwrap().to_owned())
            }
            Kind::Cookie | Kind::Session => {
                assert_eq!(
                    answer.status,
                    StatusCode::NO_CONTENT,
                    "{kind:?}: {answer:?}"
                );
                let name = match kind {
                    Kind::Cookie => JWT_COOKIE,
                    _ => SESSION_COOKIE,
                };
                let cookies = answer.cookies();
                let value = cookies
                    .iter()
                    .find_map(|c| c.strip_prefix(&format!("{name}=")))
                    .and_then(|rest| rest.split(';').next())
                    .unwrap_or_else(|| panic!("{kind:?}: a {name} cookie in {cookies:?}"));
                assert!(!value.is_empty());
                Credential::Cookie(name, value.to_owned())
            }
        };
        let me = self.me(&credential).await;
        assert_eq!(me.status, StatusCode::OK, "{kind:?}: {me:?}");
        assert_eq!(me.body["email"], email);
        credential
    }

    pub async fn me(&self, auth: &Credential) -> Answer {
        self.call(request("GET", "/users/me", Some(auth), None))
            .await
    }

    /// `GET /users/me/mfa`: 200 and the body.
    pub async fn status(&self, auth: &Credential) -> Value {
        let answer = self
            .call(request("GET", "/users/me/mfa", Some(auth), None))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.body
    }

    /// `POST /users/me/mfa/totp` with `password`.
    pub async fn start_totp(&self, auth: &Credential, password: &str) -> Answer {
        self.post(
            "/users/me/mfa/totp",
            Some(auth),
            json!({ "current_password": password }),
        )
        .await
    }

    /// Begins an enrolment: the authenticator app of its secret.
    pub async fn start(&self, auth: &Credential) -> AuthenticatorApp {
        let answer = self.start_totp(auth, PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        AuthenticatorApp::of(answer.body["secret"].as_str().unwrap())
    }

    /// `POST /users/me/mfa/totp/confirm` with `code`.
    pub async fn confirm(&self, auth: &Credential, code: &str) -> Answer {
        self.post(
            "/users/me/mfa/totp/confirm",
            Some(auth),
            json!({ "code": code }),
        )
        .await
    }

    /// Turns TOTP on for the caller of `auth`: the app and the recovery
    /// codes.
    pub async fn enrol(&self, auth: &Credential) -> (AuthenticatorApp, Vec<String>) {
        let mut app = self.start(auth).await;
        let answer = self.confirm(auth, &app.next().await).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        (app, recovery_codes(&answer.body))
    }

    /// A new user `email` with TOTP on (enrolled through a JWT): the app and
    /// the recovery codes.
    pub async fn totp_user(&self, email: &str) -> (User, AuthenticatorApp, Vec<String>) {
        let user = self.user(email).await;
        let jwt = self.jwt(email).await;
        let (app, codes) = self.enrol(&jwt).await;
        (user, app, codes)
    }

    /// A full two-step login on `/auth/jwt` with a code from `totp`.
    pub async fn totp_login(&self, email: &str, totp: &mut AuthenticatorApp) -> Credential {
        let token = self.mfa_token(Kind::Jwt, email).await;
        let answer = self.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
        self.assert_logged_in(Kind::Jwt, &answer, email).await
    }

    /// A reset token for `email`, through `POST /auth/forgot-password`.
    pub async fn reset_token(&self, email: &str) -> String {
        let answer = self
            .post("/auth/forgot-password", None, json!({ "email": email }))
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
        let mut rx = self.reset_rx.lock().await;
        let (to, token) = tokio::time::timeout(MAIL_TIMEOUT, rx.recv())
            .await
            .expect("a reset token in time")
            .expect("the hooks live");
        assert_eq!(to, email);
        token
    }
}

/// The 10 recovery codes of a `{"recovery_codes": [...]}` body, checked:
/// exactly that key, 10 distinct non-empty strings.
#[track_caller]
pub fn recovery_codes(body: &Value) -> Vec<String> {
    let object = body.as_object().expect("an object");
    assert_eq!(object.len(), 1, "{body}");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("a list of codes")
        .iter()
        .map(|c| c.as_str().expect("a string code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{body}");
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "distinct codes: {body}");
    assert!(codes.iter().all(|c| c.len() >= 10), "{body}");
    codes
}

// ---------------------------------------------------------------------------
// The authenticator app.

/// Seconds since the Unix epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// How many seconds of a step a code of the previous step is still sent in:
/// the server must check it before the step ends (5 s of margin).
const LATE_IN_STEP: u64 = 25;

/// An authenticator app: the codes of a secret, each step used once, as the
/// server accepts them (±1 step, each step once, never an earlier one than
/// the last used). [`next`](Self::next) hands out the earliest step the
/// server will still take, waiting for the clock when the window is used up.
pub struct AuthenticatorApp {
    pub secret: TotpSecret,
    pub base32: String,
    /// The last step handed out by `next`.
    pub last: Option<u64>,
}

impl AuthenticatorApp {
    pub fn of(base32: &str) -> Self {
        Self {
            secret: TotpSecret::from_base32(base32).expect("a base32 secret"),
            base32: base32.to_owned(),
            last: None,
        }
    }

    /// The code of `step`.
    pub fn code_of_step(&self, step: u64) -> String {
        totp::code_at(&self.secret, step * totp::PERIOD)
    }

    /// The step `next` would use now (waiting for the clock if needed).
    async fn next_step(&self) -> u64 {
        loop {
            let now = now();
            let current = now / totp::PERIOD;
            let earliest = match now % totp::PERIOD < LATE_IN_STEP {
                true => current - 1,
                false => current,
            };
            let step = self.last.map_or(earliest, |last| (last + 1).max(earliest));
            if step <= current + 1 {
                return step;
            }
            // The window is used up: wait for the next step.
            let wait = totp::PERIOD - now % totp::PERIOD;
            tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)).await;
        }
    }

    /// A fresh code, which the server takes once; it is used from now on.
    /// Three steps are at hand at once; past them, this waits for the clock.
    pub async fn next(&mut self) -> String {
        let step = self.next_step().await;
        self.last = Some(step);
        self.code_of_step(step)
    }

    /// The code `next` would give, without using it (for requests refused
    /// before the code is looked at).
    pub fn peek(&self) -> String {
        let now = now();
        let current = now / totp::PERIOD;
        let earliest = match now % totp::PERIOD < LATE_IN_STEP {
            true => current - 1,
            false => current,
        };
        let step = self.last.map_or(earliest, |last| (last + 1).max(earliest));
        self.code_of_step(step)
    }

    /// The code of the last step handed out (a replay).
    pub fn last_code(&self) -> String {
        self.code_of_step(self.last.expect("a code was used"))
    }

    /// A code two steps ahead of the server's clock (outside ±1 step)
    /// whatever the clock does in the next 5 seconds.
    pub fn too_far_ahead(&self) -> String {
        let now = now();
        let current = now / totp::PERIOD;
        match now % totp::PERIOD < LATE_IN_STEP {
            true => self.code_of_step(current + 2),
            false => self.code_of_step(current + 3),
        }
    }

    /// A code two steps behind the server's clock (outside ±1 step).
    pub fn too_far_behind(&self) -> String {
        let current = now() / totp::PERIOD;
        self.code_of_step(current - 2)
    }

    /// Six digits that are the code of no step around now.
    pub fn wrong_code(&self) -> String {
        let current = now() / totp::PERIOD;
        let near: Vec<String> = (current - 3..=current + 3)
            .map(|s| self.code_of_step(s))
            .collect();
        (0u32..)
            .map(|n| format!("{:06}", (n * 7919 + 13) % 1_000_000))
            .find(|c| !near.contains(c))
            .unwrap()
    }
}

/// The key under which the challenge store keeps an `mfa_token`'s pending
/// login: `mfa-login:` and the SHA-256 of the token, hex.
pub fn mfa_token_key(token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("mfa-login:{hex}")
}
