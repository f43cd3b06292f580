//! `POST /auth/forgot-password` and `POST /auth/reset-password` as the HTTP contract §2,
//! §6, §8 and §10 and issue 4 describe them: 202 whatever the address, a token
//! only for an existing active user, tokens that die when the password changes,
//! are bound to their purpose, and are checked before the new password.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum_users::User;
use axum_users::store::MemoryStore;
use serde_json::{Value, json};

use crate::common::*;

const NEW_PASSWORD: &str = "a-brand-new-secret";

type App = TestApp<MemoryStore<User>, MailHooks>;

fn forgot(email: &str) -> Request<Body> {
    json_request(
        "POST",
        "/auth/forgot-password",
        None,
        &json!({"email": email}),
    )
}

fn reset(token: &str, password: &str) -> Request<Body> {
    json_request(
        "POST",
        "/auth/reset-password",
        None,
        &json!({"token": token, "password": password}),
    )
}

async fn login_status(app: &App, email: &str, password: &str) -> StatusCode {
    app.send(login_request("/auth/jwt/login", email, password))
        .await
        .status()
}

fn assert_bad_token(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, &json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}));
}

fn assert_invalid_password(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_object().expect("detail is an object");
    assert_eq!(detail.len(), 2, "{body}");
    assert_eq!(detail["code"], "RESET_PASSWORD_INVALID_PASSWORD", "{body}");
    assert!(
        !detail["reason"].as_str().expect("a reason").is_empty(),
        "{body}"
    );
}

/// An app with MailHooks, one active unverified user, and a reset token for it
/// obtained through forgot-password.
async fn with_token() -> (App, Mailbox, User, String) {
    let (app, mut mailbox) = mail_app();
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, _) = app.call(forgot("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let sent = mailbox.reset_token().await;
    assert_eq!(sent.user_id, user.id);
    (app, mailbox, user, sent.token)
}

/// A superuser's bearer token in `app`.
async fn admin_token(app: &App) -> String {
    app.create_user("admin@example.com", true, true, true).await;
    app.login("admin@example.com").await
}

// ---------------------------------------------------------------------------
// POST /auth/forgot-password

#[tokio::test]
async fn forgot_password_answers_202_with_null_and_sends_a_token_to_an_active_user() {
    let (app, mut mailbox) = mail_app();
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call_text(forgot("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, "null");
    let sent = mailbox.reset_token().await;
    assert_eq!(sent.user_id, user.id);
    assert_eq!(sent.email, "user@example.com");
    assert!(!sent.token.is_empty());
    assert!(sent.with_request, "the hook gets the request's parts");
    // Exactly one token per request.
    mailbox.assert_no_reset_token().await;
}

#[tokio::test]
async fn forgot_password_answers_202_and_sends_nothing_for_an_unknown_address() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call_text(forgot("nobody@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, "null");
    mailbox.assert_no_reset_token().await;
}

#[tokio::test]
async fn forgot_password_answers_202_and_sends_nothing_for_an_inactive_user() {
    let (app, mut mailbox) = mail_app();
    app.create_user("off@example.com", false, false, false)
        .await;
    let (status, body) = app.call_text(forgot("off@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, "null");
    mailbox.assert_no_reset_token().await;
}

#[tokio::test]
async fn forgot_password_sends_a_token_to_a_verified_user_too() {
    let (app, mut mailbox) = mail_app();
    let user = app.create_user("done@example.com", true, true, false).await;
    let (status, _) = app.call(forgot("done@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(mailbox.reset_token().await.user_id, user.id);
}

#[tokio::test]
async fn forgot_password_in_another_ascii_case_sends_the_token_to_the_stored_user() {
    let (app, mut mailbox) = mail_app();
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, _) = app.call(forgot("USER@Example.COM")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let sent = mailbox.reset_token().await;
    assert_eq!(sent.user_id, user.id);
    assert_eq!(sent.email, "user@example.com", "the stored address");
    // The token works for that user.
    let (status, body) = app.call(reset(&sent.token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn forgot_password_sends_the_token_only_to_the_requested_user() {
    let (app, mut mailbox) = mail_app();
    app.create_user("other@example.com", true, false, false)
        .await;
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    app.call(forgot("user@example.com")).await;
    let sent = mailbox.reset_token().await;
    assert_eq!(sent.user_id, user.id);
    assert_eq!(sent.email, "user@example.com");
    mailbox.assert_no_reset_token().await;
}

#[tokio::test]
async fn forgot_password_does_not_issue_a_verify_token() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    app.call(forgot("user@example.com")).await;
    mailbox.reset_token().await;
    mailbox.assert_no_verify_token().await;
}

#[tokio::test]
async fn forgot_password_answers_202_when_the_mail_hook_fails() {
    let (mut hooks, mut mailbox) = MailHooks::new();
    hooks.fail_mail = true;
    let app = app_with(MemoryStore::new(), hooks, Options::default());
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call_text(forgot("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, "null");
    // The hook did run (and failed after taking the token).
    assert_eq!(mailbox.reset_token().await.user_id, user.id);
    // The server keeps serving.
    let (status, _) = app.call(forgot("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn forgot_password_rejects_invalid_addresses_with_422() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    for email in [
        "not-an-email",
        "missing-at.example.com",
        "@example.com",
        "user@",
        "two@@example.com",
        "",
    ] {
        let (status, body) = app.call(forgot(email)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email:?}: {body}"
        );
    }
    mailbox.assert_no_reset_token().await;
}

#[tokio::test]
async fn forgot_password_rejects_bad_bodies_with_422() {
    let (app, _mailbox) = mail_app();
    let uri = "/auth/forgot-password";
    for body in [json!({}), json!({"email": null}), json!({"email": 42})] {
        let (status, answer) = app.call(json_request("POST", uri, None, &body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    let bad_bodies: [(Option<&str>, &str); 4] = [
        (Some("application/json"), "not json"),
        (Some("application/json"), "[\"user@example.com\"]"),
        (Some("text/plain"), "{\"email\": \"user@example.com\"}"),
        (None, "{\"email\": \"user@example.com\"}"),
    ];
    for (content_type, body) in bad_bodies {
        let (status, _) = app
            .call(raw_request("POST", uri, None, content_type, body))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type:?} {body}"
        );
    }
}

// ---------------------------------------------------------------------------
// POST /auth/reset-password: the happy path

#[tokio::test]
async fn reset_password_changes_the_password() {
    let (app, _mailbox, _user, token) = with_token().await;
    let (status, body) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        login_status(&app, "user@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        login_status(&app, "user@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn reset_password_leaves_the_other_fields_alone() {
    let (app, _mailbox, user, token) = with_token().await;
    let (status, _) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    let after = app.reload(&user).await.unwrap();
    assert_eq!(after.data.email, "user@example.com");
    assert!(after.data.is_active);
    assert!(!after.data.is_verified);
    assert!(!after.data.is_superuser);
}

#[tokio::test]
async fn reset_password_token_is_single_use() {
    let (app, _mailbox, _user, token) = with_token().await;
    let (status, _) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(reset(&token, "yet-another-secret")).await;
    assert_bad_token(status, &body);
    // The second attempt changed nothing.
    assert_eq!(
        login_status(&app, "user@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_with_the_newer_token_kills_the_older_one() {
    let (app, mut mailbox, _user, older) = with_token().await;
    app.call(forgot("user@example.com")).await;
    let newer = mailbox.reset_token().await.token;
    let (status, _) = app.call(reset(&newer, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(reset(&older, "yet-another-secret")).await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn reset_with_the_older_token_kills_the_newer_one() {
    let (app, mut mailbox, _user, older) = with_token().await;
    app.call(forgot("user@example.com")).await;
    let newer = mailbox.reset_token().await.token;
    let (status, _) = app.call(reset(&older, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(reset(&newer, "yet-another-secret")).await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn patch_me_password_change_kills_an_outstanding_token() {
    let (app, _mailbox, _user, token) = with_token().await;
    let access = app.login("user@example.com").await;
    let (status, body) = app
        .call(json_request(
            "PATCH",
            "/users/me",
            Some(&access),
            &json!({"password": NEW_PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(reset(&token, "yet-another-secret")).await;
    assert_bad_token(status, &body);
    assert_eq!(
        login_status(&app, "user@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn superuser_password_change_kills_an_outstanding_token() {
    let (app, _mailbox, user, token) = with_token().await;
    let admin = admin_token(&app).await;
    let (status, body) = app
        .call(json_request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            &json!({"password": NEW_PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(reset(&token, "yet-another-secret")).await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn patch_me_without_a_password_change_leaves_the_token_usable() {
    let (app, _mailbox, _user, token) = with_token().await;
    let access = app.login("user@example.com").await;
    let (status, body) = app
        .call(json_request(
            "PATCH",
            "/users/me",
            Some(&access),
            &json!({"email": "moved@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        login_status(&app, "moved@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------
// Tokens that are not reset tokens for this user

#[tokio::test]
async fn reset_password_refuses_garbage_tokens() {
    let (app, _mailbox, _user, token) = with_token().await;
    for garbage in [
        "garbage",
        "a.b.c",
        "",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        &tamper_signature(&token),
    ] {
        let (status, body) = app.call(reset(garbage, NEW_PASSWORD)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{garbage:?}: {body}");
        assert_eq!(
            body,
            json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}),
            "{garbage:?}"
        );
    }
    // The genuine token still works: the refusals were about the tokens.
    let (status, _) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reset_password_refuses_an_access_token() {
    let (app, _mailbox, _user, _token) = with_token().await;
    let access = app.login("user@example.com").await;
    let (status, body) = app.call(reset(&access, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
    assert_eq!(
        login_status(&app, "user@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_password_refuses_a_verify_token() {
    let (app, mut mailbox, _user, _token) = with_token().await;
    let (status, _) = app
        .call(json_request(
            "POST",
            "/auth/request-verify-token",
            None,
            &json!({"email": "user@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let verify = mailbox.verify_token().await.token;
    let (status, body) = app.call(reset(&verify, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
    assert_eq!(
        login_status(&app, "user@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_password_refuses_a_token_signed_with_another_secret() {
    let (app, _mailbox, _user, token) = with_token().await;
    let claims = jwt_payload(&token);
    let forged = sign_hs256(&claims, "another-secret-0123456789abcdef0123456789");
    let (status, body) = app.call(reset(&forged, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
    // The same claims under the app's secret are accepted: only the key differed.
    let resigned = sign_hs256(&claims, SECRET);
    let (status, body) = app.call(reset(&resigned, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn reset_password_refuses_a_token_for_another_audience() {
    let (app, _mailbox, _user, token) = with_token().await;
    let mut claims = jwt_payload(&token);
    for aud in [
        json!("fastapi-users:auth"),
        json!(["fastapi-users:verify"]),
        json!(null),
    ] {
        claims["aud"] = aud.clone();
        let (status, body) = app
            .call(reset(&sign_hs256(&claims, SECRET), NEW_PASSWORD))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "aud {aud}: {body}");
        assert_eq!(body, json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}));
    }
}

#[tokio::test]
async fn reset_password_refuses_an_expired_token() {
    let (app, _mailbox, _user, token) = with_token().await;
    let mut claims = jwt_payload(&token);
    claims["exp"] = json!(unix_now() - 10);
    let (status, body) = app
        .call(reset(&sign_hs256(&claims, SECRET), NEW_PASSWORD))
        .await;
    assert_bad_token(status, &body);
    // The same claims, unexpired, are accepted: only `exp` differed.
    claims["exp"] = json!(unix_now() + 600);
    let (status, body) = app
        .call(reset(&sign_hs256(&claims, SECRET), NEW_PASSWORD))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn reset_password_refuses_a_token_without_exp() {
    let (app, _mailbox, _user, token) = with_token().await;
    let mut claims = jwt_payload(&token);
    claims.as_object_mut().unwrap().remove("exp");
    let (status, body) = app
        .call(reset(&sign_hs256(&claims, SECRET), NEW_PASSWORD))
        .await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn reset_token_lifetime_is_configurable_and_expires() {
    let (hooks, mut mailbox) = MailHooks::new();
    let manager = mail_manager(hooks)
        .token_secret(SECRET)
        .reset_password_token(SECRET, Duration::from_secs(1))
        .build();
    let app = app_from_manager(manager, Options::default());
    app.create_user("user@example.com", true, false, false)
        .await;
    app.call(forgot("user@example.com")).await;
    let token = mailbox.reset_token().await.token;
    let claims = jwt_payload(&token);
    let lifetime = claims["exp"].as_i64().unwrap() - unix_now();
    assert!((0..=1).contains(&lifetime), "exp {lifetime} s ahead");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn reset_token_lifetime_defaults_to_one_hour() {
    let (_app, _mailbox, _user, token) = with_token().await;
    let lifetime = jwt_payload(&token)["exp"].as_i64().unwrap() - unix_now();
    assert!((3540..=3600).contains(&lifetime), "exp {lifetime} s ahead");
}

#[tokio::test]
async fn reset_password_refuses_a_token_for_an_inactive_user() {
    let (app, _mailbox, user, token) = with_token().await;
    let admin = admin_token(&app).await;
    let (status, _) = app
        .call(json_request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            &json!({"is_active": false}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
    // Reactivated, the user still has the old password.
    let (status, _) = app
        .call(json_request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            &json!({"is_active": true}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        login_status(&app, "user@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_password_refuses_a_token_for_a_deleted_user() {
    let (app, _mailbox, user, token) = with_token().await;
    let admin = admin_token(&app).await;
    let response = app
        .send(raw_request(
            "DELETE",
            &format!("/users/{}", user.id),
            Some(&admin),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn reset_token_of_a_deleted_user_does_not_work_for_a_new_account_at_that_address() {
    let (app, _mailbox, user, token) = with_token().await;
    app.users
        .manager()
        .delete(user.clone(), None)
        .await
        .unwrap();
    app.create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
    assert_eq!(
        login_status(&app, "user@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_password_refuses_a_token_whose_subject_is_tampered() {
    let (app, _mailbox, _user, token) = with_token().await;
    let other = app
        .create_user("other@example.com", true, false, false)
        .await;
    for sub in [
        json!(other.id.to_string()),
        json!("not-a-uuid"),
        json!(42),
        json!(null),
    ] {
        let mut claims = jwt_payload(&token);
        claims["sub"] = sub.clone();
        let (status, body) = app
            .call(reset(&sign_hs256(&claims, SECRET), NEW_PASSWORD))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "sub {sub}: {body}");
        assert_eq!(body, json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}));
    }
    assert_eq!(
        login_status(&app, "other@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------
// The new password

#[tokio::test]
async fn reset_password_rejects_weak_passwords_and_keeps_the_token_usable() {
    let (app, _mailbox, _user, token) = with_token().await;
    let too_long = "x".repeat(1025);
    for password in [
        "short",
        "äääääää",
        "12345678",
        "password",
        "my-user@example.com-pw",
        "xxUSER@EXAMPLE.COMxx",
        too_long.as_str(),
    ] {
        let (status, body) = app.call(reset(&token, password)).await;
        assert_invalid_password(status, &body);
    }
    assert_eq!(
        login_status(&app, "user@example.com", PASSWORD).await,
        StatusCode::OK,
        "the rejected passwords changed nothing"
    );
    let (status, body) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        login_status(&app, "user@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_password_accepts_eight_unicode_characters() {
    let (app, _mailbox, _user, token) = with_token().await;
    let (status, body) = app.call(reset(&token, "äöüßäöüß")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        login_status(&app, "user@example.com", "äöüßäöüß").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_password_checks_the_token_before_the_password() {
    let (app, _mailbox, _user, token) = with_token().await;
    for bad in ["garbage", &tamper_signature(&token)] {
        for password in ["short", "12345678", "user@example.com!"] {
            let (status, body) = app.call(reset(bad, password)).await;
            assert_bad_token(status, &body);
        }
    }
}

#[tokio::test]
async fn reset_password_with_a_used_token_and_a_bad_password_is_a_bad_token() {
    let (app, _mailbox, _user, token) = with_token().await;
    let (status, _) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(reset(&token, "short")).await;
    assert_bad_token(status, &body);
}

// ---------------------------------------------------------------------------
// Request validation

#[tokio::test]
async fn reset_password_rejects_bad_bodies_with_422() {
    let (app, _mailbox, _user, token) = with_token().await;
    let uri = "/auth/reset-password";
    for body in [
        json!({}),
        json!({"token": token}),
        json!({"password": NEW_PASSWORD}),
        json!({"token": null, "password": NEW_PASSWORD}),
        json!({"token": token, "password": null}),
        json!({"token": 42, "password": NEW_PASSWORD}),
        json!({"token": token, "password": 12345678}),
        json!({"token": [token], "password": NEW_PASSWORD}),
    ] {
        let (status, answer) = app.call(json_request("POST", uri, None, &body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    let good = json!({"token": token, "password": NEW_PASSWORD}).to_string();
    let bad_bodies: [(Option<&str>, String); 5] = [
        (Some("application/json"), "not json".into()),
        (Some("application/json"), good[..good.len() - 3].into()),
        (Some("application/json"), String::new()),
        (Some("text/plain"), good.clone()),
        (None, good.clone()),
    ];
    for (content_type, body) in bad_bodies {
        let (status, _) = app
            .call(raw_request("POST", uri, None, content_type, body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type:?} {body}"
        );
    }
    // None of them consumed the token.
    let (status, _) = app
        .call(raw_request(
            "POST",
            uri,
            None,
            Some("application/json; charset=utf-8"),
            good,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reset_password_ignores_unknown_keys() {
    let (app, _mailbox, user, token) = with_token().await;
    let (status, body) = app
        .call(json_request(
            "POST",
            "/auth/reset-password",
            None,
            &json!({"token": token, "password": NEW_PASSWORD, "is_superuser": true, "x": 1}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!app.reload(&user).await.unwrap().data.is_superuser);
}

#[tokio::test]
async fn reset_routes_answer_405_to_other_methods() {
    let (app, _mailbox) = mail_app();
    for uri in ["/auth/forgot-password", "/auth/reset-password"] {
        let response = app.send(get(uri, None)).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{uri}");
    }
}

// ---------------------------------------------------------------------------
// Hooks

#[tokio::test]
async fn on_after_reset_password_fires_on_success_only() {
    let (app, mailbox, _user, token) = with_token().await;
    app.call(reset("garbage", NEW_PASSWORD)).await;
    app.call(reset(&token, "short")).await;
    app.call(json_request(
        "POST",
        "/auth/reset-password",
        None,
        &json!({"token": token}),
    ))
    .await;
    assert!(mailbox.events().is_empty(), "{:?}", mailbox.events());
    let (status, _) = app.call(reset(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mailbox.events(), ["reset user@example.com"]);
    app.call(reset(&token, "yet-another-secret")).await;
    assert_eq!(mailbox.events(), ["reset user@example.com"]);
}

#[tokio::test]
async fn on_after_forgot_password_fires_once_per_token_and_never_otherwise() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    app.create_user("off@example.com", false, false, false)
        .await;
    for email in ["nobody@example.com", "off@example.com", "not-an-email"] {
        app.call(forgot(email)).await;
    }
    mailbox.assert_no_reset_token().await;
    for _ in 0..3 {
        app.call(forgot("user@example.com")).await;
    }
    for _ in 0..3 {
        assert_eq!(mailbox.reset_token().await.email, "user@example.com");
    }
    mailbox.assert_no_reset_token().await;
    assert!(mailbox.events().is_empty(), "{:?}", mailbox.events());
}

#[tokio::test]
async fn manager_forgot_password_hands_the_hook_no_request() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    app.users
        .manager()
        .forgot_password("user@example.com", None)
        .await
        .unwrap();
    assert!(!mailbox.reset_token().await.with_request);
}

// ---------------------------------------------------------------------------
// The token itself

#[tokio::test]
async fn reset_token_does_not_contain_the_password_hash() {
    let (app, _mailbox, user, token) = with_token().await;
    let hash = app
        .reload(&user)
        .await
        .unwrap()
        .data
        .hashed_password
        .as_str()
        .to_owned();
    assert!(hash.starts_with("$argon2"), "an argon2 hash: test premise");
    let claims = jwt_payload(&token);
    assert_eq!(claims["sub"], json!(user.id.to_string()));
    assert_eq!(claims["aud"], json!("fastapi-users:reset"));
    let fingerprint = claims["password_fgpt"].as_str().expect("a fingerprint");
    assert!(!fingerprint.is_empty());
    assert!(!fingerprint.contains("$argon2"), "{fingerprint}");
    assert_ne!(fingerprint, hash);
    let payload = claims.to_string();
    for part in hash.split('$').filter(|p| p.len() >= 16) {
        assert!(!payload.contains(part), "the payload carries {part}");
        assert!(!token.contains(part), "the token carries {part}");
    }
}

#[tokio::test]
async fn separate_reset_secret_refuses_tokens_signed_with_the_shared_secret() {
    let store = MemoryStore::new();
    let (shared_hooks, mut shared_mailbox) = MailHooks::new();
    let shared = app_with(store.clone(), shared_hooks, Options::default());
    let (own_hooks, mut own_mailbox) = MailHooks::new();
    let manager = axum_users::UserManager::builder(store)
        .hasher(fast_hasher())
        .hooks(own_hooks)
        .token_secret(SECRET)
        .reset_password_token(
            "a separate reset secret of 32 bytes or more",
            Duration::from_secs(3600),
        )
        .build();
    let own = app_from_manager(manager, Options::default());
    shared
        .create_user("user@example.com", true, false, false)
        .await;

    shared.call(forgot("user@example.com")).await;
    let shared_token = shared_mailbox.reset_token().await.token;
    own.call(forgot("user@example.com")).await;
    let own_token = own_mailbox.reset_token().await.token;

    let (status, body) = own.call(reset(&shared_token, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
    let (status, body) = shared.call(reset(&own_token, NEW_PASSWORD)).await;
    assert_bad_token(status, &body);
    // Each app takes its own token.
    let (status, body) = own.call(reset(&own_token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn separate_reset_secret_keeps_verify_tokens_on_the_shared_secret() {
    let (hooks, mut mailbox) = MailHooks::new();
    let manager = mail_manager(hooks)
        .token_secret(SECRET)
        .reset_password_token(
            "a separate reset secret of 32 bytes or more",
            Duration::from_secs(3600),
        )
        .build();
    let app = app_from_manager(manager, Options::default());
    app.create_user("user@example.com", true, false, false)
        .await;
    app.call(json_request(
        "POST",
        "/auth/request-verify-token",
        None,
        &json!({"email": "user@example.com"}),
    ))
    .await;
    let verify = mailbox.verify_token().await.token;
    // The verify token is signed with SECRET: its claims re-signed with SECRET
    // are accepted.
    let resigned = sign_hs256(&jwt_payload(&verify), SECRET);
    let (status, body) = app
        .call(json_request(
            "POST",
            "/auth/verify",
            None,
            &json!({"token": resigned}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_resets_with_one_token_succeed_once() {
    let (app, _mailbox, _user, token) = with_token().await;
    let passwords = ["first-new-secret", "second-new-secret", "third-new-secret"];
    let answers = send_three_resets_at_once(&app, &token, &passwords).await;
    let winners: Vec<_> = passwords
        .iter()
        .zip(&answers)
        .filter(|(_, (status, _))| *status == StatusCode::OK)
        .map(|(password, _)| *password)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_bad_token(*status, body);
    }
    assert_eq!(
        login_status(&app, "user@example.com", winners[0]).await,
        StatusCode::OK
    );
}

/// The three resets sent at once.
async fn send_three_resets_at_once(
    app: &App,
    token: &str,
    passwords: &[&str; 3],
) -> Vec<(StatusCode, Value)> {
    let (a, b, c) = tokio::join!(
        app.call(reset(token, passwords[0])),
        app.call(reset(token, passwords[1])),
        app.call(reset(token, passwords[2])),
    );
    vec![a, b, c]
}
