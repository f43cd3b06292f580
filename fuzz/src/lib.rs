//! The harness the fuzz targets share: an app like the example server's (every
//! router, five backends, multi-factor login with passkeys, invitations, an
//! OAuth provider that is never reached) over a [`MemoryStore`], driven with
//! `tower::ServiceExt::oneshot` on a current-thread tokio runtime, and the
//! invariant every target checks: no panic, and never a 5xx.
//!
//! Two ways to get an app:
//!
//! - [`App::shared`]: built once per process (a `OnceLock`), for inputs whose
//!   requests cannot change what later inputs see (failed logins, refused
//!   tokens, OAuth callbacks that fail their state check);
//! - [`App::new`]: a fresh app, for inputs that may change the store (a
//!   registration, a `PATCH /users/me`, a planted token used, an `mfa_token`
//!   or a WebAuthn ceremony), so that every such input runs against the same
//!   state and a crash found after a million inputs reproduces from its own
//!   file. It costs no password hash (the planted users get a hash made
//!   once), but about 5 ms under the address sanitizer: such inputs run at
//!   100 to 200 a second, the others at thousands.
//!
//! The planted users: [`ALICE`] (active, verified), [`BOB`] (TOTP on, with
//! recovery codes), [`CAROL`] (not verified) and [`ADMIN`] (a superuser),
//! all with [`PASSWORD`].

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy, RefreshStrategy,
};
use axum_users::client::TrustedProxies;
use axum_users::http::{HeaderValue, Request, StatusCode, header};
use axum_users::mfa::Mfa;
use axum_users::mfa::passkey::RelyingParty;
use axum_users::mfa::recovery::{RecoveryCodes, RecoveryKey};
use axum_users::mfa::secret_box::SecretBox;
use axum_users::mfa::totp::TotpSecret;
use axum_users::oauth::{OAuth2Provider, OAuthConfig, UserInfoMapping};
use axum_users::password::{Argon2Params, PasswordHasher};
use axum_users::session::LoginContext;
use axum_users::store::{MemoryStore, MfaStore, UserStore};
use axum_users::user::PasswordHash;
use axum_users::{AxumUsers, NoFields, NoHooks, Password, User, UserData, UserModel};
use http_body_util::BodyExt;
use tokio::runtime::Runtime;
use tower::ServiceExt;

pub use axum_users;
pub use axum_users::http;

/// Signs every token of the app (JWTs, purpose tokens, OAuth states) and
/// seals the TOTP secrets.
pub const SECRET: &str = "fuzz-secret-0123456789abcdef0123456789abcdef0123456789abcdef";
/// The planted users' password.
pub const PASSWORD: &str = "correct-horse-battery";
/// An active, verified user.
pub const ALICE: &str = "alice@example.com";
/// A user with TOTP on (secret [`BOB_TOTP`]) and recovery codes.
pub const BOB: &str = "bob@example.com";
/// An active user who has not verified the address.
pub const CAROL: &str = "carol@example.com";
/// A superuser.
pub const ADMIN: &str = "admin@example.com";
/// Bob's TOTP secret (20 bytes).
pub const BOB_TOTP: &[u8; 20] = b"12345678901234567890";
/// The relying party of the passkeys.
pub const RP_ID: &str = "localhost";
/// The origin allowed to run WebAuthn ceremonies.
pub const ORIGIN: &str = "http://localhost:8000";
/// The OAuth provider's name: its routers are `/auth/generic/…` (login) and
/// `/auth/associate/generic/…` (linking).
pub const PROVIDER: &str = "generic";
/// The provider's endpoints: loopback port 9 (discard), where nothing
/// listens, so that even a request that got there would be refused at once.
/// None is ever made: a callback whose state a fuzz input could not forge
/// fails before any code exchange, and a 502 (the provider failed) is taken
/// as a finding.
pub const UNREACHABLE: &str = "http://127.0.0.1:9";
/// The reverse proxies whose forwarding headers the app believes (for
/// requests that carry a `ConnectInfo` peer: the client-address target).
pub const TRUSTED_PROXIES: &str = "10.0.0.0/8, 2001:db8::/32";
/// The access cookie of the cookie backends.
pub const JWT_COOKIE: &str = "fastapiusersauth";
/// The session cookie of the database-session backend.
pub const SESSION_COOKIE: &str = "fastapiuserssession";
/// The refresh cookie of the cookie refresh-token backend.
pub const REFRESH_COOKIE: &str = "fastapiusersrefresh";
/// The access cookie of the cookie refresh-token backend.
pub const COOKIE_TOKEN_COOKIE: &str = "fastapiuserscookietoken";
/// The OAuth CSRF cookie.
pub const OAUTH_CSRF_COOKIE: &str = "fastapiusersoauthcsrf";

/// A future of this crate, boxed: the targets poll it through a vtable, so
/// that they do not instantiate the routers' generic code again (each
/// target is a crate of its own, and release builds do not share generic
/// instances between crates: without the box every target took a minute of
/// LLVM time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The runtime every request runs on: one thread, like the fuzzer.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Runs `future` to completion. Not from inside another `block_on`.
pub fn block_on<F: Future>(future: F) -> F::Output {
    // What the apps share is made outside the runtime's `block_on`.
    let _ = shared();
    runtime().block_on(future)
}

/// What every app shares: the hasher (its threads), the planted users' hash,
/// the OAuth configurations (their HTTP client).
struct Shared {
    hasher: PasswordHasher,
    hash: PasswordHash,
    oauth: OAuthConfig,
    oauth_associate: OAuthConfig,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        // Fast argon2 parameters: every hash of the store is of the
        // hasher's own class, so failed logins are not padded.
        let hasher = PasswordHasher::builder()
            .params(Argon2Params {
                m_kib: 1024,
                t: 1,
                p: 1,
            })
            .build();
        let hash = runtime()
            .block_on(hasher.hash(&Password::new(PASSWORD)))
            .expect("hashing the planted password");
        let provider = || {
            OAuth2Provider::new(
                PROVIDER,
                "fuzz-client",
                "fuzz-client-secret",
                &format!("{UNREACHABLE}/authorize"),
                &format!("{UNREACHABLE}/token"),
                &format!("{UNREACHABLE}/userinfo"),
                UserInfoMapping::openid(),
            )
            .expect("the OAuth provider")
        };
        let oauth = OAuthConfig::new(
            provider(),
            SECRET,
            format!("{ORIGIN}/auth/{PROVIDER}/callback"),
        )
        .expect("the OAuth login configuration")
        .associate_by_email(true);
        let oauth_associate = OAuthConfig::new(
            provider(),
            SECRET,
            format!("{ORIGIN}/auth/associate/{PROVIDER}/callback"),
        )
        .expect("the OAuth association configuration");
        Shared {
            hasher,
            hash,
            oauth,
            oauth_associate,
        }
    })
}

/// The app and what was planted in it.
pub struct App {
    pub router: Router,
    pub users: AxumUsers<MemoryStore<User>, NoHooks>,
    pub store: MemoryStore<User>,
    /// `/auth/jwt`: JWT in a bearer token.
    pub jwt: AuthBackend<User>,
    /// `/auth/cookie`: JWT in a cookie.
    pub cookie: AuthBackend<User>,
    /// `/auth/session`: database sessions in a cookie.
    pub session: AuthBackend<User>,
    /// `/auth/token`: refresh tokens, bearer.
    pub token: AuthBackend<User>,
    /// `/auth/cookie-token`: refresh tokens, cookies.
    pub cookie_token: AuthBackend<User>,
    pub alice: User,
    pub bob: User,
    pub carol: User,
    pub admin: User,
    /// Alice's bearer JWT (`/auth/jwt`).
    pub alice_token: String,
    /// Bob's bearer JWT.
    pub bob_token: String,
    /// The superuser's bearer JWT.
    pub admin_token: String,
    /// Bob's recovery codes, as shown to him.
    pub bob_recovery_codes: Vec<String>,
}

/// A JSON or text answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl App {
    /// The app built once for this process.
    pub fn shared() -> &'static App {
        static APP: OnceLock<App> = OnceLock::new();
        APP.get_or_init(|| block_on(App::build()))
    }

    /// A fresh app over an empty store, with the planted users.
    pub fn new() -> BoxFuture<'static, App> {
        Box::pin(Self::build())
    }

    async fn build() -> App {
        let shared = shared();
        let store = MemoryStore::<User>::new();
        let relying_party = RelyingParty::new(RP_ID, ORIGIN).expect("the relying party");
        let mfa = Mfa::new(store.clone())
            .issuer("axum-users fuzz")
            .passkeys(relying_party);
        let manager = axum_users::UserManager::builder(store.clone())
            .hasher(shared.hasher.clone())
            .token_secret(SECRET)
            .mfa(mfa)
            .build();
        let jwt = JwtStrategy::hs256(SECRET).expect("the JWT strategy");
        let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
        let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt.clone());
        let session = AuthBackend::new(
            "session",
            CookieTransport::new().name(SESSION_COOKIE),
            DatabaseStrategy::new(store.clone()),
        );
        let token = AuthBackend::new(
            "token",
            BearerTransport::new("auth/token/login"),
            RefreshStrategy::new(jwt.clone(), store.clone()),
        );
        let cookie_token = AuthBackend::new(
            "cookie-token",
            CookieTransport::new()
                .name(COOKIE_TOKEN_COOKIE)
                .refresh_name(REFRESH_COOKIE),
            RefreshStrategy::new(jwt, store.clone()),
        );
        let users = AxumUsers::new(
            manager,
            vec![
                bearer.clone(),
                cookie.clone(),
                session.clone(),
                token.clone(),
                cookie_token.clone(),
            ],
        )
        .trusted_proxies(TrustedProxies::parse(TRUSTED_PROXIES).expect("the trusted proxies"));
        let router = users
            .routes()
            .auth("/auth/jwt", &bearer)
            .auth("/auth/cookie", &cookie)
            .auth("/auth/session", &session)
            .auth("/auth/token", &token)
            .auth("/auth/cookie-token", &cookie_token)
            .register("/auth")
            .reset_password("/auth")
            .verify("/auth")
            .users("/users")
            .mfa("/users")
            .invitations("/users", "/auth")
            .oauth(&format!("/auth/{PROVIDER}"), &shared.oauth, &bearer)
            .oauth_associate(
                &format!("/auth/associate/{PROVIDER}"),
                &shared.oauth_associate,
            )
            .into_router()
            .layer(users.layer());

        let plant = |email: &str, verified: bool, superuser: bool| {
            let mut data = UserData::new(email, shared.hash.clone(), NoFields {});
            data.is_verified = verified;
            data.is_superuser = superuser;
            let store = store.clone();
            async move { store.create(data).await.expect("planting a user") }
        };
        let alice = plant(ALICE, true, false).await;
        let bob = plant(BOB, true, false).await;
        let carol = plant(CAROL, false, false).await;
        let admin = plant(ADMIN, true, true).await;
        let bob_recovery_codes = plant_totp(&store, &bob).await;
        let alice_token = access_token(&bearer, &alice).await;
        let bob_token = access_token(&bearer, &bob).await;
        let admin_token = access_token(&bearer, &admin).await;
        App {
            router,
            users,
            store,
            jwt: bearer,
            cookie,
            session,
            token,
            cookie_token,
            alice,
            bob,
            carol,
            admin,
            alice_token,
            bob_token,
            admin_token,
            bob_recovery_codes,
        }
    }

    /// Sends a request and reads the whole answer; panics on a 5xx.
    pub fn send(&self, request: Request<Body>) -> BoxFuture<'_, Answer> {
        Box::pin(self.send_now(request))
    }

    async fn send_now(&self, request: Request<Body>) -> Answer {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("reading the answer")
            .to_bytes()
            .to_vec();
        assert_no_5xx(&what, status, &body);
        // The planted users' hash (its salt is random per process, so no
        // input can contain it) never goes out, in a body or a header.
        let hash = shared().hash.as_str().as_bytes();
        let leaks = |bytes: &[u8]| bytes.windows(hash.len()).any(|w| w == hash);
        assert!(
            !leaks(&body) && !headers.values().any(|v| leaks(v.as_bytes())),
            "{what} answered a password hash"
        );
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The `mfa_token` of a password login of Bob through `backend`'s prefix
    /// (`"/auth/jwt"`).
    pub fn bob_mfa_token<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, String> {
        Box::pin(self.bob_mfa_token_now(prefix))
    }

    async fn bob_mfa_token_now(&self, prefix: &str) -> String {
        let answer = self
            .send(form(
                &format!("{prefix}/login"),
                &format!("username={BOB}&password={PASSWORD}"),
            ))
            .await;
        let body = answer.json();
        body["detail"]["mfa_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no mfa_token for Bob: {} {body}", answer.status))
            .to_owned()
    }

    /// A refresh token (and its access token) for Alice through `backend`.
    pub fn refresh_token<'a>(&'a self, backend: &'a AuthBackend<User>) -> BoxFuture<'a, String> {
        Box::pin(self.refresh_token_now(backend))
    }

    async fn refresh_token_now(&self, backend: &AuthBackend<User>) -> String {
        let issued = backend
            .strategy()
            .write_token(&self.alice, &LoginContext::internal(backend.name()))
            .await
            .expect("issuing a refresh token");
        issued.refresh_token.expect("a refresh-token backend")
    }

    /// Alice's reset-password token.
    pub fn reset_token(&self) -> String {
        self.users
            .manager()
            .reset_password_token(&self.alice)
            .expect("a reset token")
    }

    /// A verification token for a user.
    pub fn verify_token(&self, user: &User) -> String {
        self.users
            .manager()
            .verify_token(user)
            .expect("a verification token")
    }
}

/// Bob's TOTP factor, confirmed, written to the store directly (sealed
/// under the key the manager derives from [`SECRET`]); his recovery codes.
async fn plant_totp(store: &MemoryStore<User>, bob: &User) -> Vec<String> {
    let secret = TotpSecret::from_bytes(BOB_TOTP).expect("a 20-byte secret");
    let sealed = SecretBox::new(SECRET)
        .expect("the secret box")
        .seal(secret.as_bytes(), bob.id().to_string().as_bytes())
        .expect("sealing the TOTP secret");
    let key = RecoveryKey::new(SECRET).expect("the recovery key");
    let (shown, stored) = RecoveryCodes::generate(&key).expect("recovery codes");
    let now = chrono::Utc::now();
    assert!(
        store
            .set_pending_totp(bob.id(), &sealed, now)
            .await
            .expect("a pending TOTP factor")
    );
    assert!(
        store
            .confirm_totp(bob.id(), &sealed, 0, &stored, now)
            .await
            .expect("confirming the TOTP factor")
    );
    shown
}

async fn access_token(backend: &AuthBackend<User>, user: &User) -> String {
    backend
        .strategy()
        .write_token(user, &LoginContext::internal(backend.name()))
        .await
        .expect("an access token")
        .access_token
}

/// The invariant of every request: the server never fails (no 5xx). (The
/// other one [`App::send`] checks: no answer carries a password hash.)
pub fn assert_no_5xx(what: &str, status: StatusCode, body: &[u8]) {
    assert!(
        !status.is_server_error(),
        "{what} answered {status}: {}",
        String::from_utf8_lossy(body)
    );
}

/// A request builder with the usual headers of a browser-less client.
pub fn request(method: &str, uri: &str) -> http::request::Builder {
    Request::builder().method(method).uri(uri)
}

/// `POST uri` with a form body.
pub fn form(uri: &str, body: &str) -> Request<Body> {
    request("POST", uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("a form request")
}

/// `method uri` with a JSON body (any bytes) and an optional bearer token.
pub fn json(method: &str, uri: &str, token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = request(method, uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(body.into()).expect("a JSON request")
}

/// A header value of fuzzed bytes, or `None` when `http` refuses them (a
/// client cannot send those either).
pub fn header_value(bytes: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(bytes).ok()
}

/// Splits a fuzz input at the first `sep`: `(before, after)`; the whole
/// input and nothing when there is none.
pub fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// The bytes as a query string (`query`) or one path segment: the
/// characters a URI allows there as they are (so `&`, `=`, `%` and `+` keep
/// their meaning), the others percent-encoded.
pub fn uri_part(bytes: &[u8], query: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(byte as char),
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
            | b',' | b';' | b'=' | b':' | b'@' | b'%' => out.push(byte as char),
            b'/' | b'?' if query => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Percent-encodes `text` for a query string or form value.
pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A token-like input succeeds exactly when it is the token that was
/// planted, byte for byte (and the planted one does succeed: the harness
/// reaches what it fuzzes).
pub fn assert_only_planted_succeeds(what: &str, status: StatusCode, sent: &str, planted: &str) {
    assert!(
        !status.is_success() || sent == planted,
        "{what}: a token that is not the planted one was accepted ({status}): {sent:?}, planted {planted:?}"
    );
    assert!(
        status.is_success() || sent != planted,
        "{what}: the planted token was refused ({status})"
    );
}

/// The planted `token` changed by `edits`: each pair of bytes `(at, xor)`
/// XORs the byte at `at` (modulo the length) with `xor`; an odd last byte
/// cuts the token to that length (modulo the length plus one). No edit (or
/// only XORs with 0) leaves it as it was. What a tampering client sends.
pub fn tamper(token: &str, edits: &[u8]) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    let mut pairs = edits.chunks_exact(2);
    for pair in &mut pairs {
        if bytes.is_empty() {
            break;
        }
        let at = usize::from(pair[0]) % bytes.len();
        bytes[at] ^= pair[1];
    }
    if let [cut] = pairs.remainder() {
        let len = usize::from(*cut) % (bytes.len() + 1);
        bytes.truncate(len);
    }
    bytes
}

/// Cuts a fuzz input into `n` parts: each but the last is a length byte and
/// that many bytes (fewer when the input ends), the last is the rest. For
/// binary parts, where a separator byte would not do.
pub fn parts(mut data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    for _ in 1..n {
        let Some((&len, rest)) = data.split_first() else {
            out.push(&data[..0]);
            continue;
        };
        let len = usize::from(len).min(rest.len());
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    out.push(data);
    out
}
