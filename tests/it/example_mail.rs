//! The example server's mail, end to end: the server runs as a process, launched
//! as the HTTP contract §1 says with `SMTP_URL` pointing at an in-process SMTP sink
//! (`tests/it/common/smtp.rs`), and the reset and verify flows (§6–§9) are
//! followed from the mail's `token: …` line (§7), as a client does.

use std::ops::Deref;

use serde_json::{Value, json};

use crate::common::process::{ExampleServer, Req, Resp, free_port};
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
