//! The example server's mail, end to end: the server runs as a process, launched
//! as the HTTP contract §1 says with `SMTP_URL` pointing at an in-process SMTP sink
//! (`tests/it/common/smtp.rs`), and the reset and verify flows (§6–§9) are
//! followed from the mail's `token: …` line (§7), as a client does.

use std::ops::Deref;

use serde_json::{Value, json};

use crate::common::process::{Credential, ExampleServer, Req, Resp, START_TIMEOUT, free_port};
use crate::common::smtp::{self, ReceivedMail, SmtpSink};

const PASSWORD: &str = "first-password-1";
const NEW_PASSWORD: &str = "second-password-2";

// ---------------------------------------------------------------------------
// The process (`tests/it/common/process.rs`)

/// The running server; killed on drop, even when the test panics.
struct Server(ExampleServer);

impl Deref for Server {
    type Target = ExampleServer;

    fn deref(&self) -> &ExampleServer {
        &self.0
    }
}

impl Server {
    /// The example server with the HTTP contract §1's environment, plus `env`
    /// (`SMTP_URL`, `FRONTEND_URL`, `MAIL_FROM` are removed unless given there).
    async fn start(env: &[(&str, &str)]) -> Server {
        Server(ExampleServer::start_sqlite("example", env).await)
    }

    /// Waits up to 10 s for the log (stdout and stderr) to satisfy `found`.
    async fn wait_log<T>(&self, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
        self.0.wait_log(what, smtp::MAIL_TIMEOUT, found).await
    }

    async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(&Req::json("POST", path, body)).await
    }

    /// Registers `email` with [`PASSWORD`]; the address as stored.
    async fn register(&self, email: &str) -> String {
        let response = self
            .post(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            response.status,
            201,
            "register {email}: {}",
            response.text()
        );
        response.json()["email"]
            .as_str()
            .expect("the user's email")
            .to_owned()
    }

    /// `POST path {"email": email}` and checks the 202 (the HTTP contract §6).
    async fn ask_for_mail(&self, path: &str, email: &str) {
        let response = self.post(path, &json!({ "email": email })).await;
        assert_eq!(response.status, 202, "{path} {email}: {}", response.text());
    }

    async fn login_status(&self, email: &str, password: &str) -> Resp {
        self.login("jwt", email, password).await
    }
}

// ---------------------------------------------------------------------------
// Checks

/// A mail as the HTTP contract §7 wants it: one recipient, the stored address, a
/// `text/plain` body with a `token: …` line. Returns the token.
fn assert_token_mail(mail: &ReceivedMail, stored: &str) -> String {
    assert_eq!(mail.recipients, [stored], "envelope recipients");
    let content_type = mail.header("content-type").unwrap_or_default();
    assert!(
        content_type.to_ascii_lowercase().starts_with("text/plain"),
        "Content-Type {content_type:?}"
    );
    mail.token()
        .unwrap_or_else(|| panic!("no `token: …` line in:\n{}", mail.text_body()))
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_mails_one_token_to_the_stored_address_that_resets_the_password() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    let stored = server.register("Reset.Walker@example.com").await;
    assert_eq!(stored, "Reset.Walker@example.com");

    // Asked in another case: the mail goes to the stored address (§4, §7).
    server
        .ask_for_mail("/auth/forgot-password", "RESET.WALKER@EXAMPLE.COM")
        .await;
    let mail = sink.expect_mail("forgot-password").await;
    let token = assert_token_mail(&mail, &stored);
    assert_eq!(mail.from, "noreply@axum-users.invalid", "default sender");
    let raw = String::from_utf8_lossy(&mail.data);
    assert!(
        raw.contains(&format!("\r\ntoken: {token}\r\n")),
        "the token line is not intact on the wire:\n{raw}"
    );
    assert!(!mail.smtputf8, "SMTPUTF8 asked for an ASCII envelope");
    assert!(
        !mail.text_body().contains("?token="),
        "a link without FRONTEND_URL:\n{}",
        mail.text_body()
    );
    sink.assert_no_mail("after the one reset mail").await;

    // The token resets the password; the new one logs in, the old one no more.
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let response = server.login_status(&stored, NEW_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.json()["access_token"].is_string());
    let response = server.login_status(&stored, PASSWORD).await;
    response.assert_detail(400, "LOGIN_BAD_CREDENTIALS");
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": token, "password": "third-password-3"}),
        )
        .await;
    response.assert_detail(400, "RESET_PASSWORD_BAD_TOKEN");

    // The reset is announced to the address (CONTRACT-accounts §D), with no
    // token in the notice.
    let notice = sink.expect_mail("the notice of the new password").await;
    assert_eq!(notice.recipients, vec![stored.clone()]);
    assert_eq!(notice.token(), None, "a notice carries no token");

    // An unknown address: the same 202, and no mail.
    server
        .ask_for_mail("/auth/forgot-password", "nobody-here@example.com")
        .await;
    sink.assert_no_mail("forgot-password for an unknown address")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_verify_token_mails_a_token_that_verifies_and_links_to_frontend_url() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[
        ("SMTP_URL", &sink.url()),
        ("FRONTEND_URL", "http://localhost:3000/app/"),
        ("MAIL_FROM", "Example App <app@example.com>"),
    ])
    .await;
    let stored = server.register("verify.me@example.com").await;

    server
        .ask_for_mail("/auth/request-verify-token", &stored)
        .await;
    let mail = sink.expect_mail("request-verify-token").await;
    let token = assert_token_mail(&mail, &stored);
    assert_eq!(mail.from, "app@example.com", "MAIL_FROM is the sender");
    let link = format!("http://localhost:3000/app/verify?token={token}");
    assert!(
        mail.text_body().lines().any(|line| line.trim() == link),
        "no line {link:?} in:\n{}",
        mail.text_body()
    );
    sink.assert_no_mail("after the one verify mail").await;

    let response = server
        .post("/auth/verify", &json!({ "token": token }))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let user = response.json();
    assert_eq!(user["email"], stored.as_str());
    assert_eq!(user["is_verified"], true, "{user}");

    // Verified now, or unknown: 202 and no mail.
    server
        .ask_for_mail("/auth/request-verify-token", &stored)
        .await;
    sink.assert_no_mail("request-verify-token for a verified user")
        .await;
    server
        .ask_for_mail("/auth/request-verify-token", "nobody-here@example.com")
        .await;
    sink.assert_no_mail("request-verify-token for an unknown address")
        .await;

    // The reset mail links to the frontend's reset page.
    server.ask_for_mail("/auth/forgot-password", &stored).await;
    let mail = sink.expect_mail("forgot-password").await;
    let token = assert_token_mail(&mail, &stored);
    let link = format!("http://localhost:3000/app/reset-password?token={token}");
    assert!(
        mail.text_body().lines().any(|line| line.trim() == link),
        "no line {link:?} in:\n{}",
        mail.text_body()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_addresses_get_their_mail_through_smtputf8() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    for email in [
        "jürgen-mail@example.com",
        "δοκιμή-mail@παράδειγμα.δοκιμή",
        "ascii-local@bücher.example.com",
    ] {
        let stored = server.register(email).await;
        assert_eq!(stored, email, "stored as given (NFC, lowercase)");

        server
            .ask_for_mail("/auth/request-verify-token", email)
            .await;
        let mail = sink.expect_mail(email).await;
        let token = assert_token_mail(&mail, &stored);
        assert!(mail.smtputf8, "{email}: MAIL FROM without SMTPUTF8");
        let to = mail.header("to").unwrap_or_default();
        assert!(to.contains(email), "{email}: To: {to:?}");
        let response = server
            .post("/auth/verify", &json!({ "token": token }))
            .await;
        assert_eq!(response.status, 200, "{email}: {}", response.text());
        assert_eq!(response.json()["is_verified"], true);

        server.ask_for_mail("/auth/forgot-password", email).await;
        let mail = sink.expect_mail(email).await;
        assert_token_mail(&mail, &stored);
        assert!(mail.smtputf8, "{email}: MAIL FROM without SMTPUTF8");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_url_the_development_mailer_prints_the_token_after_a_startup_warning() {
    let server = Server::start(&[]).await;
    let log = server.log_text();
    assert!(
        log.contains("SMTP_URL is not set") && log.contains("TOKENS INCLUDED"),
        "no startup warning about printed tokens:\n{log}"
    );
    let stored = server.register("console.mail@example.com").await;

    server.ask_for_mail("/auth/forgot-password", &stored).await;
    let token = server
        .wait_log("the printed mail's token line", |log| {
            // Only a mail printed to its end: the file may be read mid-write.
            let (mail, _) = log.split_once("----- end of mail -----")?;
            mail.lines()
                .find_map(|line| line.strip_prefix("token: "))
                .map(|token| token.trim().to_owned())
        })
        .await;
    let log = server.log_text();
    assert!(
        log.contains(&format!("To: {stored}")),
        "the printed mail has no To: {stored}:\n{log}"
    );
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let response = server.login_status(&stored, NEW_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_refuses_connections_is_logged_and_the_client_still_gets_202() {
    let closed = format!("smtp://127.0.0.1:{}", free_port());
    let server = Server::start(&[("SMTP_URL", &closed)]).await;
    let stored = server.register("unlucky@example.com").await;

    server.ask_for_mail("/auth/forgot-password", &stored).await;
    server
        .wait_log("the failed hook", |log| {
            log.lines()
                .find(|line| {
                    line.contains("user hook failed") && line.contains("on_after_forgot_password")
                })
                .map(str::to_owned)
        })
        .await;
    server
        .ask_for_mail("/auth/request-verify-token", &stored)
        .await;
    server
        .wait_log("the failed hook", |log| {
            log.lines()
                .find(|line| {
                    line.contains("user hook failed") && line.contains("on_after_request_verify")
                })
                .map(str::to_owned)
        })
        .await;
    // The server keeps serving.
    let response = server.login_status(&stored, PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

// ---------------------------------------------------------------------------
// Account security (CONTRACT-accounts §A, §C, §D): the login throttle, the
// notice mails, the confirmation of a new address and the mail cap.

const THIRD_PASSWORD: &str = "third-password-3";

/// An address no other test uses (`<who>-<uuid>@example.com`).
fn unique_email(who: &str) -> String {
    format!("{who}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// `POST path body` with `credential`.
async fn post_with(server: &Server, path: &str, body: &Value, credential: &Credential) -> Resp {
    server
        .call(&Req::json("POST", path, body).with(credential))
        .await
}

/// Fails unless `response` is 400 `LOGIN_BAD_CREDENTIALS`.
#[track_caller]
fn assert_bad_credentials(response: &Resp, what: &str) {
    assert_eq!(
        (response.status, response.json()),
        (400, json!({"detail": "LOGIN_BAD_CREDENTIALS"})),
        "{what}"
    );
}

/// Fails unless `response` is the lock of CONTRACT-accounts §C: 429
/// `LOGIN_TOO_MANY_ATTEMPTS` with `Retry-After` a whole number of seconds in
/// `1..=window`.
#[track_caller]
fn assert_locked(response: &Resp, window: u64, what: &str) {
    assert_eq!(
        (response.status, response.json()),
        (429, json!({"detail": "LOGIN_TOO_MANY_ATTEMPTS"})),
        "{what}"
    );
    let retry_after = response
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: a 429 without Retry-After: {:?}", response.headers));
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Retry-After {retry_after:?} is no integer: {e}"));
    assert!(
        (1..=window).contains(&seconds),
        "{what}: Retry-After {seconds} outside 1..={window}"
    );
}

/// `n` logins of `email` through `/auth/jwt` with a wrong password, each
/// answered 400 `LOGIN_BAD_CREDENTIALS`.
async fn fail_logins(server: &Server, email: &str, n: usize) {
    for i in 1..=n {
        let response = server.login_status(email, "wrong-password-0").await;
        assert_bad_credentials(&response, &format!("wrong password #{i} for {email}"));
    }
}

/// Fails when `mail`'s body holds one of `secrets`.
#[track_caller]
fn assert_body_lacks(mail: &ReceivedMail, secrets: &[&str], what: &str) {
    let body = mail.text_body();
    for secret in secrets {
        assert!(
            !body.contains(secret),
            "{what}: the body holds the secret {secret:?}:\n{body}"
        );
    }
}

/// The next mail, which must be a notice to `address`: no `token:` line and
/// none of `secrets` in the body.
async fn expect_notice(
    sink: &mut SmtpSink,
    address: &str,
    secrets: &[&str],
    what: &str,
) -> ReceivedMail {
    let notice = sink.expect_mail(what).await;
    assert_eq!(notice.recipients, [address], "{what}: recipients");
    assert_eq!(
        notice.token(),
        None,
        "{what}: a notice carries no token:\n{}",
        notice.text_body()
    );
    assert_body_lacks(&notice, secrets, what);
    notice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_login_throttle_locks_an_address_after_five_failures_even_with_the_right_password()
 {
    // LOGIN_THROTTLE unset: 5 failures per 300 s.
    let server = Server::start(&[]).await;
    let locked = server.register(&unique_email("locked")).await;
    let other = server.register(&unique_email("other")).await;

    fail_logins(&server, &locked, 5).await;
    let response = server.login_status(&locked, PASSWORD).await;
    assert_locked(&response, 300, "the right password after 5 failures");
    // Every login route of every backend, any case of the address, and a
    // wrong password: the same 429.
    for backend in ["cookie", "session", "token"] {
        let response = server.login(backend, &locked, PASSWORD).await;
        assert_locked(
            &response,
            300,
            &format!("/auth/{backend}/login when locked"),
        );
    }
    let response = server.login_status(&locked.to_uppercase(), PASSWORD).await;
    assert_locked(&response, 300, "the locked address in upper case");
    let response = server.login_status(&locked, "wrong-password-0").await;
    assert_locked(&response, 300, "a wrong password when locked");

    // An unknown address is counted and locked the same way.
    let unknown = unique_email("nobody");
    fail_logins(&server, &unknown, 5).await;
    let response = server.login_status(&unknown, PASSWORD).await;
    assert_locked(&response, 300, "an unknown address after 5 failures");

    // Another address is not affected.
    let response = server.login_status(&other, PASSWORD).await;
    assert_eq!(
        response.status,
        200,
        "another address: {}",
        response.describe()
    );

    // A success before the limit clears the count: 4 + 1 + 4 + 1 attempts
    // never lock.
    for round in 1..=2 {
        fail_logins(&server, &other, 4).await;
        let response = server.login_status(&other, PASSWORD).await;
        assert_eq!(
            response.status,
            200,
            "round {round}: the right password after 4 failures: {}",
            response.describe()
        );
    }

    // A wrong current password (POST /users/me/change-password) counts as a
    // failed login; once locked, the right one is refused with 429 too.
    let checked = server.register(&unique_email("checked")).await;
    let credential = server.sign_in("jwt", &checked, PASSWORD).await;
    for i in 1..=5 {
        let response = post_with(
            &server,
            "/users/me/change-password",
            &json!({"current_password": "wrong-password-0", "new_password": NEW_PASSWORD}),
            &credential,
        )
        .await;
        assert_eq!(
            (response.status, response.json()),
            (400, json!({"detail": "INVALID_CURRENT_PASSWORD"})),
            "wrong current password #{i}"
        );
    }
    let response = post_with(
        &server,
        "/users/me/change-password",
        &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        &credential,
    )
    .await;
    assert_locked(&response, 300, "the right current password when locked");
    let response = server.login_status(&checked, PASSWORD).await;
    assert_locked(&response, 300, "a login after 5 wrong current passwords");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_throttle_off_never_answers_429() {
    let server = Server::start(&[("LOGIN_THROTTLE", "off")]).await;
    let known = server.register(&unique_email("unthrottled")).await;
    fail_logins(&server, &known, 20).await;
    let response = server.login_status(&known, PASSWORD).await;
    assert_eq!(
        response.status,
        200,
        "the right password after 20 failures: {}",
        response.describe()
    );
    fail_logins(&server, &unique_email("nobody"), 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_throttle_2_per_60_locks_an_address_after_two_failures() {
    let server = Server::start(&[("LOGIN_THROTTLE", "2/60")]).await;
    let locked = server.register(&unique_email("locked")).await;
    let other = server.register(&unique_email("other")).await;

    fail_logins(&server, &locked, 2).await;
    let response = server.login_status(&locked, PASSWORD).await;
    assert_locked(&response, 60, "the right password after 2 failures");

    // One failure and a success, twice: the count starts again each time.
    for round in 1..=2 {
        fail_logins(&server, &other, 1).await;
        let response = server.login_status(&other, PASSWORD).await;
        assert_eq!(
            response.status,
            200,
            "round {round}: {}",
            response.describe()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_login_throttle_stops_the_server_with_a_message_naming_the_variable() {
    let secret = axum_users::tokens::random_token(48).expect("random bytes");
    let mut servers: Vec<(&str, ExampleServer)> = ["5", "x/y", "0/60", "5/0", "5/300/1"]
        .into_iter()
        .map(|value| {
            let server = ExampleServer::spawn(
                &format!("LOGIN_THROTTLE={value}"),
                &[
                    ("DATABASE_URL", "memory://"),
                    ("SECRET", secret.as_str()),
                    ("LOGIN_THROTTLE", value),
                ],
            );
            (value, server)
        })
        .collect();
    for (value, server) in &mut servers {
        let status = server.wait_exit(START_TIMEOUT).await;
        let log = server.log_text();
        assert!(
            !status.success(),
            "LOGIN_THROTTLE={value}: {status}:\n{log}"
        );
        // One line says which setting is wrong and what it holds.
        assert!(
            log.lines()
                .any(|line| line.contains("LOGIN_THROTTLE") && line.contains(*value)),
            "LOGIN_THROTTLE={value}: no line names the variable and its value:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_or_reset_mails_a_notice_without_the_password_or_a_token() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    let email = server.register(&unique_email("changer")).await;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    // Refusals change nothing and mail nothing.
    let response = server
        .post("/users/me/change-password", &change(PASSWORD, NEW_PASSWORD))
        .await;
    assert_eq!(
        (response.status, response.json()),
        (401, json!({"detail": "Unauthorized"})),
        "no credential"
    );
    let current = server.sign_in("session", &email, PASSWORD).await;
    let other_session = server.sign_in("session", &email, PASSWORD).await;
    let response = post_with(
        &server,
        "/users/me/change-password",
        &change("wrong-password-0", NEW_PASSWORD),
        &current,
    )
    .await;
    response.assert_detail(400, "INVALID_CURRENT_PASSWORD");
    let response = post_with(
        &server,
        "/users/me/change-password",
        &change(PASSWORD, "short"),
        &current,
    )
    .await;
    assert_eq!(response.status, 400, "{}", response.describe());
    let detail = &response.json()["detail"];
    assert_eq!(
        detail["code"], "CHANGE_PASSWORD_INVALID_PASSWORD",
        "{detail}"
    );
    assert!(detail["reason"].is_string(), "{detail}");
    let response = post_with(
        &server,
        "/users/me/change-password",
        &json!({"current_password": PASSWORD}),
        &current,
    )
    .await;
    assert_eq!(response.status, 422, "{}", response.describe());
    sink.assert_no_mail("refused password changes").await;
    let response = server.login_status(&email, PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.describe());

    // The change: 204, a notice, the new password logs in, the old one not;
    // the request's session stays, the other one ends.
    let response = post_with(
        &server,
        "/users/me/change-password",
        &change(PASSWORD, NEW_PASSWORD),
        &current,
    )
    .await;
    assert_eq!(response.status, 204, "{}", response.describe());
    assert!(response.body.is_empty(), "{}", response.describe());
    expect_notice(
        &mut sink,
        &email,
        &[PASSWORD, NEW_PASSWORD],
        "the notice of a password change",
    )
    .await;
    sink.assert_no_mail("after the notice of the change").await;
    let response = server.me(&current).await;
    assert_eq!(
        response.status,
        200,
        "the current session: {}",
        response.describe()
    );
    let response = server.me(&other_session).await;
    assert_eq!(
        response.status,
        401,
        "another session: {}",
        response.describe()
    );
    let response = server.login_status(&email, NEW_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.describe());
    assert_bad_credentials(
        &server.login_status(&email, PASSWORD).await,
        "the old password",
    );

    // A reset: the token mail, then a notice without the token.
    server.ask_for_mail("/auth/forgot-password", &email).await;
    let mail = sink.expect_mail("forgot-password").await;
    let token = assert_token_mail(&mail, &email);
    assert_body_lacks(&mail, &[PASSWORD, NEW_PASSWORD], "the reset mail");
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": token, "password": THIRD_PASSWORD}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.describe());
    expect_notice(
        &mut sink,
        &email,
        &[PASSWORD, NEW_PASSWORD, THIRD_PASSWORD, &token],
        "the notice of a reset",
    )
    .await;
    sink.assert_no_mail("after the notice of the reset").await;
    let response = server.login_status(&email, THIRD_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_mails_a_token_to_the_new_address_and_a_notice_to_the_old_and_waits_for_the_token()
 {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    let old = server.register(&unique_email("old")).await;
    let taken = server.register(&unique_email("taken")).await;
    let new = unique_email("new");
    let credential = server.sign_in("jwt", &old, PASSWORD).await;
    let me = server.me(&credential).await.json();
    let request = |email: &str, current: &str| json!({"email": email, "current_password": current});

    // Refusals: nothing changes, nothing is mailed.
    let response = server
        .post("/users/me/change-email", &request(&new, PASSWORD))
        .await;
    assert_eq!(
        (response.status, response.json()),
        (401, json!({"detail": "Unauthorized"})),
        "no credential"
    );
    let refusals = [
        (
            request(&new, "wrong-password-0"),
            400,
            Some("INVALID_CURRENT_PASSWORD"),
        ),
        (
            request(&taken, PASSWORD),
            400,
            Some("UPDATE_USER_EMAIL_ALREADY_EXISTS"),
        ),
        (
            request(&old, PASSWORD),
            400,
            Some("UPDATE_USER_EMAIL_ALREADY_EXISTS"),
        ),
        (request("not-an-address", PASSWORD), 422, None),
        (json!({"email": new}), 422, None),
    ];
    for (body, status, detail) in refusals {
        let response = post_with(&server, "/users/me/change-email", &body, &credential).await;
        assert_eq!(response.status, status, "{body}: {}", response.describe());
        if let Some(detail) = detail {
            assert_eq!(response.json(), json!({ "detail": detail }), "{body}");
        }
    }
    sink.assert_no_mail("refused changes of address").await;

    // A reset token mailed to the old address before the change.
    server.ask_for_mail("/auth/forgot-password", &old).await;
    let reset_token = assert_token_mail(&sink.expect_mail("forgot-password").await, &old);

    // The request: 202, a token to the new address, a notice to the old one.
    let response = post_with(
        &server,
        "/users/me/change-email",
        &request(&new, PASSWORD),
        &credential,
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.describe());
    let first = sink.expect_mail("the change of address").await;
    let second = sink.expect_mail("the change of address").await;
    let (confirmation, notice) = if first.recipients == [new.as_str()] {
        (first, second)
    } else {
        (second, first)
    };
    let token = assert_token_mail(&confirmation, &new);
    assert_body_lacks(&confirmation, &[PASSWORD], "the confirmation mail");
    assert_eq!(notice.recipients, [old.as_str()], "the notice's recipients");
    assert_eq!(
        notice.token(),
        None,
        "the old address gets no token:\n{}",
        notice.text_body()
    );
    assert_body_lacks(
        &notice,
        &[PASSWORD, &token],
        "the notice to the old address",
    );
    sink.assert_no_mail("after the two mails of the change")
        .await;

    // Nothing changed yet.
    let response = server.me(&credential).await;
    assert_eq!(response.status, 200, "{}", response.describe());
    assert_eq!(response.json()["email"], old.as_str());
    assert_eq!(response.json()["is_verified"], false);
    assert_bad_credentials(
        &server.login_status(&new, PASSWORD).await,
        "the new address before the confirmation",
    );
    let response = server.login_status(&old, PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.describe());

    // A bad token changes nothing; the mailed one confirms, once.
    for bad in ["", "not-a-token", &reset_token] {
        let response = server
            .post("/auth/confirm-email-change", &json!({ "token": bad }))
            .await;
        response.assert_detail(400, "CHANGE_EMAIL_BAD_TOKEN");
    }
    let response = server
        .post("/auth/confirm-email-change", &json!({ "token": token }))
        .await;
    assert_eq!(response.status, 200, "{}", response.describe());
    let user = response.json();
    assert_eq!(user["id"], me["id"], "{user}");
    assert_eq!(user["email"], new.as_str(), "{user}");
    assert_eq!(user["is_verified"], true, "{user}");
    let response = server
        .post("/auth/confirm-email-change", &json!({ "token": token }))
        .await;
    response.assert_detail(400, "CHANGE_EMAIL_BAD_TOKEN");

    // The account answers to the new address only; the reset token mailed
    // to the old one died.
    let response = server.login_status(&new, PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.describe());
    assert_bad_credentials(
        &server.login_status(&old, PASSWORD).await,
        "the old address after the confirmation",
    );
    let response = server
        .post(
            "/auth/reset-password",
            &json!({"token": reset_token, "password": NEW_PASSWORD}),
        )
        .await;
    response.assert_detail(400, "RESET_PASSWORD_BAD_TOKEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mail_route_sends_at_most_three_mails_per_address_and_answers_202_past_the_cap() {
    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    let capped = server.register(&unique_email("capped")).await;
    let other = server.register(&unique_email("other")).await;

    for route in ["/auth/forgot-password", "/auth/request-verify-token"] {
        for _ in 0..5 {
            server.ask_for_mail(route, &capped).await;
        }
        // The same address in another case counts as the same address.
        server.ask_for_mail(route, &capped.to_uppercase()).await;
        for i in 1..=3 {
            let mail = sink.expect_mail(&format!("{route} #{i}")).await;
            assert_token_mail(&mail, &capped);
        }
        sink.assert_no_mail(&format!("{route} past the cap of 3"))
            .await;
    }

    // Another address has its own share.
    for route in ["/auth/forgot-password", "/auth/request-verify-token"] {
        server.ask_for_mail(route, &other).await;
        let mail = sink
            .expect_mail(&format!("{route} for another address"))
            .await;
        assert_token_mail(&mail, &other);
    }
    sink.assert_no_mail("after one mail per route for another address")
        .await;
}

#[tokio::test]
async fn mail_cap_sets_the_cap_and_off_lifts_it() {
    let mut sink = SmtpSink::start().await;
    let lifted = Server::start(&[("SMTP_URL", &sink.url()), ("MAIL_CAP", "off")]).await;
    let address = lifted.register(&unique_email("uncapped")).await;
    for _ in 0..5 {
        lifted.ask_for_mail("/auth/forgot-password", &address).await;
    }
    for i in 1..=5 {
        let mail = sink.expect_mail(&format!("uncapped #{i}")).await;
        assert_token_mail(&mail, &address);
    }
    sink.assert_no_mail("after five uncapped requests").await;

    let tight = Server::start(&[("SMTP_URL", &sink.url()), ("MAIL_CAP", "1/3600")]).await;
    let address = tight.register(&unique_email("tight")).await;
    for _ in 0..3 {
        tight.ask_for_mail("/auth/forgot-password", &address).await;
    }
    let mail = sink.expect_mail("the one mail of 1/3600").await;
    assert_token_mail(&mail, &address);
    sink.assert_no_mail("past a cap of 1").await;
}

/// CONTRACT-accounts §D: turning TOTP on and off mails the account a notice
/// each time, carrying neither the TOTP secret nor a recovery code; a
/// refused enrolment mails nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_totp_on_and_off_mails_a_notice_without_the_secret_or_the_codes() {
    use axum_users::mfa::totp::{TotpSecret, code_at};

    let mut sink = SmtpSink::start().await;
    let server = Server::start(&[("SMTP_URL", &sink.url())]).await;
    let email = server.register(&unique_email("mfa-notice")).await;
    let session = server.sign_in("session", &email, PASSWORD).await;

    // A wrong current password: refused, no mail.
    let response = post_with(
        &server,
        "/users/me/mfa/totp",
        &json!({"current_password": "wrong-password-0"}),
        &session,
    )
    .await;
    response.assert_detail(400, "INVALID_CURRENT_PASSWORD");
    let response = post_with(
        &server,
        "/users/me/mfa/totp",
        &json!({ "current_password": PASSWORD }),
        &session,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.describe());
    let secret = response.json()["secret"].as_str().unwrap().to_owned();
    sink.assert_no_mail("a pending enrolment").await;

    // Confirmed: TOTP is on, and the account hears of it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = code_at(&TotpSecret::from_base32(&secret).unwrap(), now);
    let response = post_with(
        &server,
        "/users/me/mfa/totp/confirm",
        &json!({ "code": code }),
        &session,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.describe());
    let codes: Vec<String> = response.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    let mut secrets: Vec<&str> = codes.iter().map(String::as_str).collect();
    secrets.extend([secret.as_str(), PASSWORD, code.as_str()]);
    let on = expect_notice(&mut sink, &email, &secrets, "the notice of TOTP on").await;
    assert!(
        on.header("subject").unwrap_or_default().contains("on"),
        "{:?}",
        on.header("subject")
    );

    // Turned off with the password: another notice.
    let response = server
        .call(
            &Req::json(
                "DELETE",
                "/users/me/mfa/totp",
                &json!({ "current_password": PASSWORD }),
            )
            .with(&session),
        )
        .await;
    assert_eq!(response.status, 204, "{}", response.describe());
    let off = expect_notice(&mut sink, &email, &secrets, "the notice of TOTP off").await;
    assert!(
        off.header("subject").unwrap_or_default().contains("off"),
        "{:?}",
        off.header("subject")
    );
    sink.assert_no_mail("after the notices").await;
}
