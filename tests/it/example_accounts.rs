//! The example server's usernames and invitations (CONTRACT-accounts §A, §E),
//! end to end: the server runs as a process (`tests/it/common/process.rs`) with
//! `USERNAMES` and `INVITE_ONLY` as a deployment sets them, invitation mails go
//! to the in-process SMTP sink (`tests/it/common/smtp.rs`), and each flow is
//! followed from the mail's `token: …` line, as a client does.

use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::process::{ADMIN_EMAIL, ADMIN_PASSWORD, Credential, ExampleServer, Req, Resp};
use crate::common::smtp::{ReceivedMail, SmtpSink};

const PASSWORD: &str = "account-password-1";

/// The keys of the user object with usernames off.
const USER_KEYS: [&str; 5] = ["email", "id", "is_active", "is_superuser", "is_verified"];
/// The keys of the user object with `USERNAMES=1`.
const USER_KEYS_WITH_USERNAME: [&str; 6] = [
    "email",
    "id",
    "is_active",
    "is_superuser",
    "is_verified",
    "username",
];
/// The keys of an invitation.
const INVITATION_KEYS: [&str; 7] = [
    "accepted_at",
    "created_at",
    "email",
    "expires_at",
    "id",
    "remark",
    "revoked",
];

// ---------------------------------------------------------------------------
// The process

/// The running server; killed on drop, even when the test panics.
struct Server(ExampleServer);

impl Deref for Server {
    type Target = ExampleServer;

    fn deref(&self) -> &ExampleServer {
        &self.0
    }
}

impl Server {
    /// The example server on a new SQLite file with a `SECRET` and the admin
    /// [`ADMIN_EMAIL`], plus `env`.
    async fn start(name: &str, env: &[(&str, &str)]) -> Server {
        Server(ExampleServer::start_sqlite(name, env).await)
    }

    /// `method path` with a JSON body, and the credential when there is one.
    async fn send_json(
        &self,
        method: &str,
        path: &str,
        credential: Option<&Credential>,
        body: &Value,
    ) -> Resp {
        self.call(&with(Req::json(method, path, body), credential))
            .await
    }

    /// `method path` without a body, and the credential when there is one.
    async fn send(&self, method: &str, path: &str, credential: Option<&Credential>) -> Resp {
        self.call(&with(Req::new(method, path), credential)).await
    }

    async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send_json("POST", path, None, body).await
    }

    /// The admin's bearer token.
    async fn admin(&self) -> Credential {
        self.sign_in("jwt", ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A bearer token through `/auth/jwt/login` for `login` (an address or a
    /// username); fails the test unless the login answers 200.
    async fn bearer(&self, login: &str, password: &str) -> Credential {
        let response = self.login("jwt", login, password).await;
        assert_eq!(
            response.status,
            200,
            "login as {login:?}: {}",
            response.text()
        );
        Credential::from_login(&response).expect("a bearer token")
    }

    /// `POST /auth/register` with `body`; the user object of the 201.
    async fn register_body(&self, body: &Value) -> Value {
        let response = self.post("/auth/register", body).await;
        assert_eq!(response.status, 201, "register {body}: {}", response.text());
        response.json()
    }

    /// `POST /users/invitations` as `credential`.
    async fn invite(&self, credential: Option<&Credential>, body: &Value) -> Resp {
        self.send_json("POST", "/users/invitations", credential, body)
            .await
    }

    /// The admin invites `email`; the invitation (201, its keys checked).
    async fn invited(&self, admin: &Credential, email: &str) -> Value {
        let response = self.invite(Some(admin), &json!({ "email": email })).await;
        assert_eq!(response.status, 201, "invite {email}: {}", response.text());
        let invitation = assert_invitation(&response.json(), email);
        assert_eq!(invitation["accepted_at"], Value::Null, "{invitation}");
        assert_eq!(invitation["revoked"], false, "{invitation}");
        invitation
    }

    /// `POST /auth/accept-invitation` with `body`.
    async fn accept(&self, body: &Value) -> Resp {
        self.post("/auth/accept-invitation", body).await
    }

    /// `GET /openapi.json`.
    async fn openapi(&self) -> Value {
        let response = self.call(&Req::get("/openapi.json")).await;
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()
    }
}

/// `request` carrying `credential` when there is one.
fn with(request: Req, credential: Option<&Credential>) -> Req {
    match credential {
        Some(credential) => request.with(credential),
        None => request,
    }
}

// ---------------------------------------------------------------------------
// Checks

/// The sorted keys of a JSON object.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// A user object with exactly `expected` keys and a UUID id.
#[track_caller]
fn assert_user(user: &Value, expected: &[&str]) {
    assert_eq!(keys(user), expected, "{user}");
    let id = user["id"].as_str().expect("id is a string");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

/// An RFC 3339 time of a body.
#[track_caller]
fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time string: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// An invitation of `email`: exactly its keys, a UUID id, RFC 3339 times.
#[track_caller]
fn assert_invitation(invitation: &Value, email: &str) -> Value {
    assert_eq!(keys(invitation), INVITATION_KEYS, "{invitation}");
    let id = invitation["id"].as_str().expect("id is a string");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(invitation["email"], email, "{invitation}");
    assert!(invitation["revoked"].is_boolean(), "{invitation}");
    time(&invitation["created_at"]);
    time(&invitation["expires_at"]);
    invitation.clone()
}

/// The invitation's lifetime, `expires_at - created_at`.
fn lifetime(invitation: &Value) -> chrono::Duration {
    time(&invitation["expires_at"]) - time(&invitation["created_at"])
}

/// An invitation mail to `email` (one recipient, `text/plain`, a
/// `token: …` line); its token.
fn invitation_token(mail: &ReceivedMail, email: &str) -> String {
    assert_eq!(mail.recipients, [email], "envelope recipients");
    let content_type = mail.header("content-type").unwrap_or_default();
    assert!(
        content_type.to_ascii_lowercase().starts_with("text/plain"),
        "Content-Type {content_type:?}"
    );
    mail.token()
        .unwrap_or_else(|| panic!("no `token: …` line in:\n{}", mail.text_body()))
}

/// 400 `{"detail": {"code": code, "reason": <string>}}`.
#[track_caller]
fn assert_code_with_reason(response: &Resp, code: &str) {
    assert_eq!(response.status, 400, "{}", response.text());
    let body = response.json();
    let detail = &body["detail"];
    assert_eq!(keys(detail), ["code", "reason"], "{body}");
    assert_eq!(detail["code"], code, "{body}");
    assert!(
        detail["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
}

/// Whether `value` holds the string `wanted` anywhere (a key or a value).
fn mentions(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(text) => text == wanted,
        Value::Array(items) => items.iter().any(|item| mentions(item, wanted)),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key == wanted || mentions(item, wanted)),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_usernames_are_off_register_is_mounted_and_invitations_make_verified_accounts() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(
        "accounts-default",
        &[
            ("SMTP_URL", &sink.url()),
            ("FRONTEND_URL", "http://localhost:3000/app/"),
        ],
    )
    .await;

    // No username anywhere: a `username` key in the register body is ignored.
    let plain = "plain.default@example.com";
    let user = server
        .register_body(&json!({"email": plain, "password": PASSWORD, "username": "Arthur_1"}))
        .await;
    assert_user(&user, &USER_KEYS);
    assert_eq!(user["email"], plain);
    let member = server.bearer(plain, PASSWORD).await;
    let me = server.me(&member).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_user(&me.json(), &USER_KEYS);
    let response = server.login("jwt", "Arthur_1", PASSWORD).await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
    let admin = server.admin().await;
    let me = server.me(&admin).await;
    assert_user(&me.json(), &USER_KEYS);

    // An invitation: exactly its keys, 7 days by default, a mail with the
    // token and the frontend's link.
    let email = "invited.default@example.com";
    let invitation = server.invited(&admin, email).await;
    assert_eq!(invitation["remark"], Value::Null, "{invitation}");
    assert_eq!(lifetime(&invitation), chrono::Duration::days(7));
    let created = time(&invitation["created_at"]);
    assert!(
        (Utc::now() - created).num_seconds().abs() < 120,
        "created_at {created} is not now"
    );
    let id = invitation["id"].as_str().unwrap().to_owned();
    let mail = sink.expect_mail("the invitation").await;
    let token = invitation_token(&mail, email);
    let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let link = format!("http://localhost:3000/app/accept-invitation?token={encoded}");
    assert!(
        mail.text_body().lines().any(|line| line.trim() == link),
        "no line {link:?} in:\n{}",
        mail.text_body()
    );
    sink.assert_no_mail("after the one invitation mail").await;

    // Pending: the address cannot be invited again.
    let response = server
        .invite(Some(&admin), &json!({ "email": email }))
        .await;
    response.assert_detail(400, "INVITATION_ALREADY_PENDING");
    // An address with a user cannot be invited (ASCII case folded).
    let response = server
        .invite(Some(&admin), &json!({"email": "PLAIN.DEFAULT@example.com"}))
        .await;
    response.assert_detail(400, "INVITATION_USER_ALREADY_EXISTS");

    // A refused password leaves the token usable.
    let response = server
        .accept(&json!({"token": token, "password": "short"}))
        .await;
    assert_code_with_reason(&response, "INVITATION_INVALID_PASSWORD");
    let response = server
        .accept(&json!({"token": "not-a-token", "password": PASSWORD}))
        .await;
    response.assert_detail(400, "INVITATION_BAD_TOKEN");

    // Accepted: an active, verified user with the invited address, no
    // superuser; the `username` key ignored.
    let response = server
        .accept(&json!({"token": token, "password": PASSWORD, "username": "Invited_1"}))
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let user = response.json();
    assert_user(&user, &USER_KEYS);
    assert_eq!(user["email"], email);
    assert_eq!(
        (
            &user["is_active"],
            &user["is_verified"],
            &user["is_superuser"]
        ),
        (&json!(true), &json!(true), &json!(false)),
        "{user}"
    );
    let invited = server.bearer(email, PASSWORD).await;
    let me = server.me(&invited).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["id"], user["id"]);
    // Single use.
    let response = server
        .accept(&json!({"token": token, "password": "another-password-2"}))
        .await;
    response.assert_detail(400, "INVITATION_BAD_TOKEN");
    let response = server
        .invite(Some(&admin), &json!({ "email": email }))
        .await;
    response.assert_detail(400, "INVITATION_USER_ALREADY_EXISTS");

    // Listed, and readable by id, with `accepted_at` set.
    let response = server.send("GET", "/users/invitations", Some(&admin)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let page = response.json();
    assert_eq!(keys(&page), ["count", "items"], "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(page["count"], items.len(), "{page}");
    let listed = items
        .iter()
        .find(|item| item["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {page}"));
    assert_invitation(listed, email);
    let accepted_at = time(&listed["accepted_at"]);
    assert!(accepted_at >= created, "accepted_at {accepted_at}");
    assert_eq!(listed["revoked"], false);
    let one_path = format!("/users/invitations/{id}");
    let response = server.send("GET", &one_path, Some(&admin)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(&response.json(), listed);

    // Revoked: 204, its token is dead, and it stays listed as revoked.
    let revoked_email = "revoked.default@example.com";
    let revoked = server.invited(&admin, revoked_email).await;
    let revoked_token = invitation_token(
        &sink.expect_mail("the second invitation").await,
        revoked_email,
    );
    let revoked_path = format!("/users/invitations/{}", revoked["id"].as_str().unwrap());
    let response = server.send("DELETE", &revoked_path, Some(&admin)).await;
    assert_eq!(response.status, 204, "{}", response.text());
    assert!(response.body.is_empty(), "{}", response.text());
    let response = server
        .accept(&json!({"token": revoked_token, "password": PASSWORD}))
        .await;
    response.assert_detail(400, "INVITATION_BAD_TOKEN");
    let response = server.send("GET", &revoked_path, Some(&admin)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["revoked"], true, "{}", response.text());
    let response = server.login("jwt", revoked_email, PASSWORD).await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
    // Newest first.
    let response = server.send("GET", "/users/invitations", Some(&admin)).await;
    let page = response.json();
    assert_eq!(page["count"], 2, "{page}");
    assert_eq!(page["items"][0]["id"], revoked["id"], "{page}");
    assert_eq!(page["items"][1]["id"], id.as_str(), "{page}");
    let response = server
        .send("GET", "/users/invitations?offset=1&limit=1", Some(&admin))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let page = response.json();
    assert_eq!(page["count"], 2, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["items"][0]["id"], id.as_str(), "{page}");

    // Unknown ids: 404.
    let unknown = "/users/invitations/3f1c2b4a-1111-4222-8333-944445555666";
    assert_eq!(server.send("GET", unknown, Some(&admin)).await.status, 404);
    assert_eq!(
        server.send("DELETE", unknown, Some(&admin)).await.status,
        404
    );

    // Superusers only: 403 for a user, 401 without a token.
    let someone = json!({"email": "someone.default@example.com"});
    for (credential, status) in [(Some(&member), 403), (None, 401)] {
        let response = server.invite(credential, &someone).await;
        assert_eq!(response.status, status, "POST: {}", response.text());
        for (method, path) in [
            ("GET", "/users/invitations"),
            ("GET", one_path.as_str()),
            ("DELETE", one_path.as_str()),
        ] {
            let response = server.send(method, path, credential).await;
            assert_eq!(
                response.status,
                status,
                "{method} {path}: {}",
                response.text()
            );
        }
    }
    sink.assert_no_mail("invitations refused to a non-superuser")
        .await;

    // Pages and lifetimes out of range: 422.
    for query in ["limit=0", "limit=101", "offset=-1", "limit=ten"] {
        let path = format!("/users/invitations?{query}");
        let response = server.send("GET", &path, Some(&admin)).await;
        assert_eq!(response.status, 422, "{path}: {}", response.text());
    }
    for days in [0, 91] {
        let response = server
            .invite(
                Some(&admin),
                &json!({"email": "someone.default@example.com", "expires_in_days": days}),
            )
            .await;
        assert_eq!(response.status, 422, "{days} days: {}", response.text());
    }
    let response = server
        .invite(
            Some(&admin),
            &json!({"email": "day.default@example.com", "expires_in_days": 1, "remark": "one day"}),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let invitation = assert_invitation(&response.json(), "day.default@example.com");
    assert_eq!(invitation["remark"], "one day");
    assert_eq!(lifetime(&invitation), chrono::Duration::days(1));
    sink.expect_mail("the one-day invitation").await;

    // The document: register and the invitation routes, no username.
    let document = server.openapi().await;
    let paths = &document["paths"];
    assert!(paths["/auth/register"]["post"].is_object(), "no register");
    assert!(paths["/auth/accept-invitation"]["post"].is_object());
    assert!(paths["/users/invitations"]["post"].is_object());
    let user_schema = &document["components"]["schemas"]["User"];
    assert!(user_schema.is_object(), "no User schema");
    assert!(
        !mentions(user_schema, "username"),
        "username in the User schema without USERNAMES: {user_schema}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_only_unmounts_register_and_invitations_still_make_accounts_end_to_end() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(
        "accounts-invite-only",
        &[("SMTP_URL", &sink.url()), ("INVITE_ONLY", "1")],
    )
    .await;

    let response = server
        .post(
            "/auth/register",
            &json!({"email": "walk.in@example.com", "password": PASSWORD}),
        )
        .await;
    response.assert_detail(404, "Not Found");
    let response = server.login("jwt", "walk.in@example.com", PASSWORD).await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");

    // Invite → mail → accept → login.
    let admin = server.admin().await;
    let email = "Guinevere.Invited@example.com";
    let invitation = server.invited(&admin, email).await;
    assert_eq!(lifetime(&invitation), chrono::Duration::days(7));
    let mail = sink.expect_mail("the invitation").await;
    let token = invitation_token(&mail, email);
    assert!(
        !mail.text_body().contains("?token="),
        "a link without FRONTEND_URL:\n{}",
        mail.text_body()
    );
    let response = server
        .accept(&json!({"token": token, "password": PASSWORD}))
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let user = response.json();
    assert_user(&user, &USER_KEYS);
    assert_eq!(user["email"], email, "the address as invited");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_verified"], true);
    let credential = server.bearer(email, PASSWORD).await;
    let me = server.me(&credential).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["email"], email);
    // Another case of the address logs in too.
    server
        .bearer("guinevere.invited@example.com", PASSWORD)
        .await;
    let response = server
        .accept(&json!({"token": token, "password": PASSWORD}))
        .await;
    response.assert_detail(400, "INVITATION_BAD_TOKEN");

    let response = server
        .send("GET", "/users/invitations?limit=10", Some(&admin))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let page = response.json();
    assert_eq!(page["count"], 1, "{page}");
    time(&page["items"][0]["accepted_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_usernames_register_patch_login_and_accept_take_a_unique_case_insensitive_username() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(
        "accounts-usernames",
        &[("SMTP_URL", &sink.url()), ("USERNAMES", "1")],
    )
    .await;

    // Register with a username: kept as written.
    let arthur = "arthur.names@example.com";
    let user = server
        .register_body(&json!({"email": arthur, "password": PASSWORD, "username": "Arthur_1"}))
        .await;
    assert_user(&user, &USER_KEYS_WITH_USERNAME);
    assert_eq!(user["username"], "Arthur_1");
    let credential = server.bearer(arthur, PASSWORD).await;
    let me = server.me(&credential).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_user(&me.json(), &USER_KEYS_WITH_USERNAME);
    assert_eq!(me.json()["username"], "Arthur_1");

    // A user without one: `null`.
    let admin = server.admin().await;
    let me = server.me(&admin).await;
    assert_user(&me.json(), &USER_KEYS_WITH_USERNAME);
    assert_eq!(me.json()["username"], Value::Null);

    // The login form takes the username, in any ASCII case, or the address.
    for login in ["Arthur_1", "arthur_1", "ARTHUR_1", arthur] {
        let token = server.bearer(login, PASSWORD).await;
        let me = server.me(&token).await;
        assert_eq!(me.json()["email"], arthur, "login as {login:?}");
    }
    let response = server.login("jwt", "Arthur_1", "wrong-password-9").await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
    let response = server.login("jwt", "nobody_here", PASSWORD).await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");

    // Unique, case-insensitively.
    let response = server
        .post(
            "/auth/register",
            &json!({"email": "copy.names@example.com", "password": PASSWORD, "username": "arthur_1"}),
        )
        .await;
    response.assert_detail(400, "REGISTER_USERNAME_ALREADY_EXISTS");

    // The rules, on the raw input.
    let bad_names = [
        "a b".to_owned(),
        "a@b".to_owned(),
        "ab".to_owned(),
        "x".repeat(33),
        "\u{212A}ing".to_owned(),
        "\u{FF41}rthur".to_owned(),
        " arthur2".to_owned(),
    ];
    let bella = "bella.names@example.com";
    for name in &bad_names {
        let response = server
            .post(
                "/auth/register",
                &json!({"email": bella, "password": PASSWORD, "username": name}),
            )
            .await;
        assert_code_with_reason(&response, "INVALID_USERNAME");
    }
    // Nothing was made: the address registers now, and 32 characters pass.
    let longest = "y".repeat(32);
    let user = server
        .register_body(&json!({"email": bella, "password": PASSWORD, "username": longest}))
        .await;
    assert_eq!(user["username"], longest.as_str());
    let bella_token = server.bearer(&longest, PASSWORD).await;
    // Without a username: `null`.
    let carl = "carl.names@example.com";
    let user = server
        .register_body(&json!({"email": carl, "password": PASSWORD}))
        .await;
    assert_user(&user, &USER_KEYS_WITH_USERNAME);
    assert_eq!(user["username"], Value::Null);

    // PATCH /users/me: a new name logs in, the old one no more.
    let response = server
        .patch_me(&credential, &json!({"username": "Other.Name"}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["username"], "Other.Name");
    server.bearer("other.name", PASSWORD).await;
    let response = server.login("jwt", "Arthur_1", PASSWORD).await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
    // A taken one (in another case), or a bad one: refused, nothing changes.
    let response = server
        .patch_me(&bella_token, &json!({"username": "OTHER.NAME"}))
        .await;
    response.assert_detail(400, "UPDATE_USER_USERNAME_ALREADY_EXISTS");
    let response = server
        .patch_me(&bella_token, &json!({"username": "a b"}))
        .await;
    assert_code_with_reason(&response, "INVALID_USERNAME");
    let me = server.me(&bella_token).await;
    assert_eq!(me.json()["username"], longest.as_str());
    // The freed name can be taken.
    let response = server
        .patch_me(&bella_token, &json!({"username": "arthur_1"}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["username"], "arthur_1");

    // Accept-invitation takes a username with register's codes; refusals
    // leave the token usable.
    let lancelot = "lancelot.names@example.com";
    server.invited(&admin, lancelot).await;
    let token = invitation_token(&sink.expect_mail("the invitation").await, lancelot);
    let response = server
        .accept(&json!({"token": token, "password": PASSWORD, "username": "a@b"}))
        .await;
    assert_code_with_reason(&response, "INVALID_USERNAME");
    let response = server
        .accept(&json!({"token": token, "password": PASSWORD, "username": "other.NAME"}))
        .await;
    response.assert_detail(400, "REGISTER_USERNAME_ALREADY_EXISTS");
    let response = server
        .accept(&json!({"token": token, "password": PASSWORD, "username": "Lancelot"}))
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let user = response.json();
    assert_user(&user, &USER_KEYS_WITH_USERNAME);
    assert_eq!(user["username"], "Lancelot");
    assert_eq!(user["email"], lancelot);
    assert_eq!(user["is_verified"], true);
    let token = server.bearer("lancelot", PASSWORD).await;
    assert_eq!(server.me(&token).await.json()["email"], lancelot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_by_username_and_by_address_share_one_throttle() {
    let server = Server::start("accounts-throttle", &[("USERNAMES", "1")]).await;
    let percival = "percival.throttle@example.com";
    server
        .register_body(&json!({"email": percival, "password": PASSWORD, "username": "Percival"}))
        .await;
    let gawain = "gawain.throttle@example.com";
    server
        .register_body(&json!({"email": gawain, "password": PASSWORD, "username": "Gawain"}))
        .await;

    // Five failures by name (LOGIN_THROTTLE's default 5/300)...
    for attempt in 1..=5 {
        let response = server.login("jwt", "percival", "wrong-password-9").await;
        assert_eq!(
            response.status,
            400,
            "attempt {attempt}: {}",
            response.text()
        );
        response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
    }
    // ...lock the address, even with the right password, and the name too.
    for login in [percival, "Percival"] {
        let response = server.login("jwt", login, PASSWORD).await;
        response.assert_detail(429, "LOGIN_TOO_MANY_ATTEMPTS");
        let retry_after = response
            .header("retry-after")
            .unwrap_or_else(|| panic!("no Retry-After: {:?}", response.headers));
        let seconds: u64 = retry_after
            .parse()
            .unwrap_or_else(|e| panic!("Retry-After {retry_after:?}: {e}"));
        assert!((1..=300).contains(&seconds), "Retry-After {seconds}");
    }

    // The other way round: failures by address lock the name.
    for _ in 0..5 {
        let response = server.login("jwt", gawain, "wrong-password-9").await;
        response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
    }
    let response = server.login("jwt", "GAWAIN", PASSWORD).await;
    response.assert_detail(429, "LOGIN_TOO_MANY_ATTEMPTS");

    // Another account is not affected.
    let response = server.login("jwt", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_follows_usernames_and_invite_only() {
    let usernames = Server::start("accounts-openapi-usernames", &[("USERNAMES", "1")]).await;
    let document = usernames.openapi().await;
    let paths = &document["paths"];
    let schemas = &document["components"]["schemas"];
    assert!(
        schemas["User"]["properties"]["username"].is_object(),
        "no username in the User schema: {}",
        schemas["User"]
    );
    for schema in ["UserCreate", "UserUpdate"] {
        assert!(
            schemas[schema]["properties"]["username"].is_object(),
            "no username in {schema}: {}",
            schemas[schema]
        );
    }
    let register_400 = &paths["/auth/register"]["post"]["responses"]["400"];
    for code in ["INVALID_USERNAME", "REGISTER_USERNAME_ALREADY_EXISTS"] {
        assert!(
            mentions(register_400, code),
            "POST /auth/register does not document {code}: {register_400}"
        );
    }
    let patch_400 = &paths["/users/me"]["patch"]["responses"]["400"];
    for code in ["INVALID_USERNAME", "UPDATE_USER_USERNAME_ALREADY_EXISTS"] {
        assert!(
            mentions(patch_400, code),
            "PATCH /users/me does not document {code}: {patch_400}"
        );
    }
    let accept_400 = &paths["/auth/accept-invitation"]["post"]["responses"]["400"];
    for code in [
        "INVITATION_BAD_TOKEN",
        "INVITATION_INVALID_PASSWORD",
        "INVALID_USERNAME",
    ] {
        assert!(
            mentions(accept_400, code),
            "POST /auth/accept-invitation does not document {code}: {accept_400}"
        );
    }
    let invitation_routes = [
        ("/users/invitations", "post"),
        ("/users/invitations", "get"),
        ("/users/invitations/{invitation_id}", "get"),
        ("/users/invitations/{invitation_id}", "delete"),
        ("/auth/accept-invitation", "post"),
    ];
    for (path, method) in invitation_routes {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not documented"
        );
    }

    let invite_only = Server::start("accounts-openapi-invite-only", &[("INVITE_ONLY", "1")]).await;
    let document = invite_only.openapi().await;
    let paths = &document["paths"];
    assert!(
        paths.get("/auth/register").is_none(),
        "/auth/register is documented with INVITE_ONLY=1: {}",
        paths["/auth/register"]
    );
    for (path, method) in invitation_routes {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not documented with INVITE_ONLY=1"
        );
    }
    let user_schema = &document["components"]["schemas"]["User"];
    assert!(
        !mentions(user_schema, "username"),
        "username in the User schema without USERNAMES: {user_schema}"
    );
}
