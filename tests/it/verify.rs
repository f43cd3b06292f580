//! `POST /auth/request-verify-token` and `POST /auth/verify` as the HTTP contract §2,
//! §6, §9 and §10 and issue 4 describe them: 202 whatever the address, a token
//! only for an existing, active, unverified user, bound to the user and the
//! address it was issued for.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_users::User;
use axum_users::store::MemoryStore;
use serde_json::{Value, json};

use crate::common::*;

type App = TestApp<MemoryStore<User>, MailHooks>;

fn request_verify(email: &str) -> Request<Body> {
    json_request(
        "POST",
        "/auth/request-verify-token",
        None,
        &json!({"email": email}),
    )
}

fn verify(token: &str) -> Request<Body> {
    json_request("POST", "/auth/verify", None, &json!({"token": token}))
}

fn patch_me(access: &str, body: Value) -> Request<Body> {
    json_request("PATCH", "/users/me", Some(access), &body)
}

fn assert_bad_token(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, &json!({"detail": "VERIFY_USER_BAD_TOKEN"}));
}

async fn is_verified(app: &App, user: &User) -> bool {
    app.reload(user)
        .await
        .expect("the user exists")
        .data
        .is_verified
}

/// An app with MailHooks, one active unverified user, and a verify token for it
/// obtained through request-verify-token.
async fn with_token() -> (App, Mailbox, User, String) {
    let (app, mut mailbox) = mail_app();
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, _) = app.call(request_verify("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let sent = mailbox.verify_token().await;
    assert_eq!(sent.user_id, user.id);
    (app, mailbox, user, sent.token)
}

// ---------------------------------------------------------------------------
// POST /auth/request-verify-token

#[tokio::test]
async fn request_verify_token_answers_202_with_null_and_sends_a_token_to_an_unverified_user() {
    let (app, mut mailbox) = mail_app();
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call_text(request_verify("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, "null");
    let sent = mailbox.verify_token().await;
    assert_eq!(sent.user_id, user.id);
    assert_eq!(sent.email, "user@example.com");
    assert!(!sent.token.is_empty());
    assert!(sent.with_request, "the hook gets the request's parts");
    mailbox.assert_no_verify_token().await;
    mailbox.assert_no_reset_token().await;
}

#[tokio::test]
async fn request_verify_token_answers_202_and_sends_nothing_for_an_unknown_address() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call_text(request_verify("nobody@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, "null");
    mailbox.assert_no_verify_token().await;
}

#[tokio::test]
async fn request_verify_token_answers_202_and_sends_nothing_for_an_inactive_user() {
    let (app, mut mailbox) = mail_app();
    app.create_user("off@example.com", false, false, false)
        .await;
    let (status, body) = app.call_text(request_verify("off@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, "null");
    mailbox.assert_no_verify_token().await;
}

#[tokio::test]
async fn request_verify_token_answers_202_and_sends_nothing_for_a_verified_user() {
    let (app, mut mailbox) = mail_app();
    app.create_user("done@example.com", true, true, false).await;
    let (status, body) = app.call_text(request_verify("done@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, "null");
    mailbox.assert_no_verify_token().await;
}

#[tokio::test]
async fn request_verify_token_in_another_ascii_case_sends_the_token_to_the_stored_user() {
    let (app, mut mailbox) = mail_app();
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, _) = app.call(request_verify("User@EXAMPLE.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let sent = mailbox.verify_token().await;
    assert_eq!(sent.user_id, user.id);
    assert_eq!(sent.email, "user@example.com", "the stored address");
    let (status, body) = app.call(verify(&sent.token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "user@example.com");
}

#[tokio::test]
async fn request_verify_token_answers_202_when_the_mail_hook_fails() {
    let (mut hooks, mut mailbox) = MailHooks::new();
    hooks.fail_mail = true;
    let app = app_with(MemoryStore::new(), hooks, Options::default());
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call_text(request_verify("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, "null");
    // The hook did run (and failed after taking the token).
    let sent = mailbox.verify_token().await;
    assert_eq!(sent.user_id, user.id);
    // The token it got is good, and the server keeps serving.
    let (status, body) = app.call(verify(&sent.token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn request_verify_token_rejects_invalid_addresses_with_422() {
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
        let (status, body) = app.call(request_verify(email)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email:?}: {body}"
        );
    }
    mailbox.assert_no_verify_token().await;
}

#[tokio::test]
async fn request_verify_token_rejects_bad_bodies_with_422() {
    let (app, _mailbox) = mail_app();
    let uri = "/auth/request-verify-token";
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
// POST /auth/verify: the happy path

#[tokio::test]
async fn verify_answers_the_verified_user_object() {
    let (app, _mailbox, user, token) = with_token().await;
    let response = app.send(verify(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let body = body_json(response).await;
    assert_user_object(&body);
    assert_eq!(
        body,
        json!({
            "id": user.id.to_string(),
            "email": "user@example.com",
            "is_active": true,
            "is_superuser": false,
            "is_verified": true,
        })
    );
    assert!(is_verified(&app, &user).await, "stored");
    let access = app.login("user@example.com").await;
    let (status, me) = app.call(get("/users/me", Some(&access))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["is_verified"], true);
}

#[tokio::test]
async fn verify_fires_on_after_verify_on_success_only() {
    let (app, mailbox, _user, token) = with_token().await;
    app.call(verify("garbage")).await;
    app.call(json_request("POST", "/auth/verify", None, &json!({})))
        .await;
    assert!(mailbox.events().is_empty(), "{:?}", mailbox.events());
    let (status, _) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mailbox.events(), ["verify user@example.com"]);
    // A second use is refused and fires nothing.
    app.call(verify(&token)).await;
    assert_eq!(mailbox.events(), ["verify user@example.com"]);
}

#[tokio::test]
async fn verify_twice_is_already_verified() {
    let (app, _mailbox, _user, token) = with_token().await;
    let (status, _) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, json!({"detail": "VERIFY_USER_ALREADY_VERIFIED"}));
}

#[tokio::test]
async fn verify_of_a_user_verified_by_a_superuser_is_already_verified() {
    let (app, _mailbox, user, token) = with_token().await;
    app.create_user("admin@example.com", true, true, true).await;
    let admin = app.login("admin@example.com").await;
    let (status, _) = app
        .call(json_request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            &json!({"is_verified": true}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, json!({"detail": "VERIFY_USER_ALREADY_VERIFIED"}));
}

#[tokio::test]
async fn verify_request_after_verification_sends_nothing() {
    let (app, mut mailbox, _user, token) = with_token().await;
    let (status, _) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(request_verify("user@example.com")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    mailbox.assert_no_verify_token().await;
}

// ---------------------------------------------------------------------------
// Tokens that are not verify tokens for this user and address

#[tokio::test]
async fn verify_refuses_garbage_tokens() {
    let (app, _mailbox, user, token) = with_token().await;
    for garbage in [
        "garbage",
        "a.b.c",
        "",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        &tamper_signature(&token),
    ] {
        let (status, body) = app.call(verify(garbage)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{garbage:?}: {body}");
        assert_eq!(
            body,
            json!({"detail": "VERIFY_USER_BAD_TOKEN"}),
            "{garbage:?}"
        );
    }
    assert!(!is_verified(&app, &user).await);
    // The genuine token still works: the refusals were about the tokens.
    let (status, _) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn verify_refuses_an_access_token() {
    let (app, _mailbox, user, _token) = with_token().await;
    let access = app.login("user@example.com").await;
    let (status, body) = app.call(verify(&access)).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &user).await);
}

#[tokio::test]
async fn verify_refuses_a_reset_token() {
    let (app, mut mailbox, user, _token) = with_token().await;
    let (status, _) = app
        .call(json_request(
            "POST",
            "/auth/forgot-password",
            None,
            &json!({"email": "user@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let reset = mailbox.reset_token().await.token;
    let (status, body) = app.call(verify(&reset)).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &user).await);
}

#[tokio::test]
async fn verify_token_is_not_an_access_token() {
    let (app, _mailbox, _user, token) = with_token().await;
    let (status, _) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn verify_refuses_a_token_signed_with_another_secret() {
    let (app, _mailbox, user, token) = with_token().await;
    let claims = jwt_payload(&token);
    let forged = sign_hs256(&claims, "another-secret-0123456789abcdef0123456789");
    let (status, body) = app.call(verify(&forged)).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &user).await);
    // The same claims under the app's secret are accepted: only the key differed.
    let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn verify_refuses_a_token_for_another_audience() {
    let (app, _mailbox, user, token) = with_token().await;
    let mut claims = jwt_payload(&token);
    for aud in [
        json!("fastapi-users:auth"),
        json!(["fastapi-users:reset"]),
        json!(null),
    ] {
        claims["aud"] = aud.clone();
        let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "aud {aud}: {body}");
        assert_eq!(body, json!({"detail": "VERIFY_USER_BAD_TOKEN"}));
    }
    assert!(!is_verified(&app, &user).await);
}

#[tokio::test]
async fn verify_accepts_a_token_minted_with_the_fastapi_users_claims() {
    let (app, _mailbox) = mail_app();
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let token = sign_hs256(
        &json!({
            "sub": user.id.to_string(),
            "email": "user@example.com",
            "aud": "fastapi-users:verify",
            "exp": unix_now() + 3600,
        }),
        SECRET,
    );
    let (status, body) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_verified"], true);
}

#[tokio::test]
async fn verify_refuses_an_expired_token() {
    let (app, _mailbox, user, token) = with_token().await;
    let mut claims = jwt_payload(&token);
    claims["exp"] = json!(unix_now() - 10);
    let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &user).await);
    // The same claims, unexpired, are accepted: only `exp` differed.
    claims["exp"] = json!(unix_now() + 600);
    let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn verify_refuses_a_token_without_exp() {
    let (app, _mailbox, _user, token) = with_token().await;
    let mut claims = jwt_payload(&token);
    claims.as_object_mut().unwrap().remove("exp");
    let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn verify_token_lifetime_is_configurable_and_expires() {
    let (hooks, mut mailbox) = MailHooks::new();
    let manager = mail_manager(hooks)
        .token_secret(SECRET)
        .verification_token(SECRET, Duration::from_secs(1))
        .build();
    let app = app_from_manager(manager, Options::default());
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    app.call(request_verify("user@example.com")).await;
    let token = mailbox.verify_token().await.token;
    let lifetime = jwt_payload(&token)["exp"].as_i64().unwrap() - unix_now();
    assert!((0..=1).contains(&lifetime), "exp {lifetime} s ahead");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = app.call(verify(&token)).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &user).await);
}

#[tokio::test]
async fn verify_token_lifetime_defaults_to_one_hour() {
    let (_app, _mailbox, _user, token) = with_token().await;
    let lifetime = jwt_payload(&token)["exp"].as_i64().unwrap() - unix_now();
    assert!((3540..=3600).contains(&lifetime), "exp {lifetime} s ahead");
}

#[tokio::test]
async fn separate_verify_secret_refuses_tokens_signed_with_the_shared_secret() {
    let (hooks, mut mailbox) = MailHooks::new();
    let manager = mail_manager(hooks)
        .token_secret(SECRET)
        .verification_token(
            "a separate verify secret of 32 bytes or more",
            Duration::from_secs(3600),
        )
        .build();
    let app = app_from_manager(manager, Options::default());
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    app.call(request_verify("user@example.com")).await;
    let token = mailbox.verify_token().await.token;
    let claims = jwt_payload(&token);
    let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &user).await);
    let (status, body) = app.call(verify(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn verify_refuses_a_token_after_the_email_changed() {
    let (app, _mailbox, user, token) = with_token().await;
    let access = app.login("user@example.com").await;
    let (status, body) = app
        .call(patch_me(&access, json!({"email": "moved@example.com"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(verify(&token)).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &user).await);
}

#[tokio::test]
async fn verify_refuses_a_token_for_an_address_now_owned_by_another_account() {
    let (app, _mailbox, a, token) = with_token().await;
    let access = app.login("user@example.com").await;
    let (status, body) = app
        .call(patch_me(&access, json!({"email": "user2@example.com"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "user@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b_id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = app.call(verify(&token)).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &a).await, "A stays unverified");
    let b = app
        .users
        .manager()
        .get_by_email("user@example.com")
        .await
        .unwrap();
    assert_eq!(b.id.to_string(), b_id);
    assert!(!b.data.is_verified, "B stays unverified");
}

#[tokio::test]
async fn verify_refuses_a_token_whose_address_is_tampered() {
    let (app, _mailbox, user, token) = with_token().await;
    let other = app
        .create_user("other@example.com", true, false, false)
        .await;
    for email in [
        json!("other@example.com"),
        json!("USER@example.com"),
        json!("nobody@example.com"),
        json!(null),
    ] {
        let mut claims = jwt_payload(&token);
        claims["email"] = email.clone();
        let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "email {email}: {body}");
        assert_eq!(body, json!({"detail": "VERIFY_USER_BAD_TOKEN"}));
    }
    assert!(!is_verified(&app, &user).await);
    assert!(!is_verified(&app, &other).await);
}

#[tokio::test]
async fn verify_refuses_a_token_whose_subject_is_tampered() {
    let (app, _mailbox, user, token) = with_token().await;
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
        let (status, body) = app.call(verify(&sign_hs256(&claims, SECRET))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "sub {sub}: {body}");
        assert_eq!(body, json!({"detail": "VERIFY_USER_BAD_TOKEN"}));
    }
    assert!(!is_verified(&app, &user).await);
    assert!(!is_verified(&app, &other).await);
}

#[tokio::test]
async fn verify_refuses_a_token_for_a_deleted_user() {
    let (app, _mailbox, user, token) = with_token().await;
    app.create_user("admin@example.com", true, true, true).await;
    let admin = app.login("admin@example.com").await;
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
    let (status, body) = app.call(verify(&token)).await;
    assert_bad_token(status, &body);
}

#[tokio::test]
async fn verify_token_of_a_deleted_user_does_not_verify_a_new_account_at_that_address() {
    let (app, _mailbox, user, token) = with_token().await;
    app.users
        .manager()
        .delete(user.clone(), None)
        .await
        .unwrap();
    let newcomer = app
        .create_user("user@example.com", true, false, false)
        .await;
    let (status, body) = app.call(verify(&token)).await;
    assert_bad_token(status, &body);
    assert!(!is_verified(&app, &newcomer).await);
}

// ---------------------------------------------------------------------------
// Request validation

#[tokio::test]
async fn verify_rejects_bad_bodies_with_422() {
    let (app, _mailbox, user, token) = with_token().await;
    let uri = "/auth/verify";
    for body in [
        json!({}),
        json!({"token": null}),
        json!({"token": 42}),
        json!({"token": [token]}),
        json!({"email": "user@example.com"}),
    ] {
        let (status, answer) = app.call(json_request("POST", uri, None, &body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    let good = json!({"token": token}).to_string();
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
    assert!(!is_verified(&app, &user).await);
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
async fn verify_routes_answer_405_to_other_methods() {
    let (app, _mailbox) = mail_app();
    for uri in ["/auth/request-verify-token", "/auth/verify"] {
        let response = app.send(get(uri, None)).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{uri}");
    }
}

// ---------------------------------------------------------------------------
// Hooks

#[tokio::test]
async fn on_after_request_verify_fires_once_per_token_and_never_otherwise() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    app.create_user("off@example.com", false, false, false)
        .await;
    app.create_user("done@example.com", true, true, false).await;
    for email in [
        "nobody@example.com",
        "off@example.com",
        "done@example.com",
        "not-an-email",
    ] {
        app.call(request_verify(email)).await;
    }
    mailbox.assert_no_verify_token().await;
    for _ in 0..3 {
        app.call(request_verify("user@example.com")).await;
    }
    for _ in 0..3 {
        assert_eq!(mailbox.verify_token().await.email, "user@example.com");
    }
    mailbox.assert_no_verify_token().await;
    assert!(mailbox.events().is_empty(), "{:?}", mailbox.events());
}

#[tokio::test]
async fn manager_request_verify_hands_the_hook_no_request() {
    let (app, mut mailbox) = mail_app();
    app.create_user("user@example.com", true, false, false)
        .await;
    app.users
        .manager()
        .request_verify("user@example.com", None)
        .await
        .unwrap();
    assert!(!mailbox.verify_token().await.with_request);
}

#[tokio::test]
async fn register_sends_no_verify_token() {
    let (app, mut mailbox) = mail_app();
    let (status, _) = app
        .call(json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "new@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    mailbox.assert_no_verify_token().await;
    mailbox.assert_no_reset_token().await;
}
