//! `/users/me` and the superuser routes `/users/{id}` as the HTTP contract §2, §3,
//! §5, §6 and §10 describe them.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum_users::User;
use axum_users::store::MemoryStore;
use serde_json::{Value, json};

use crate::common::*;

const NEW_PASSWORD: &str = "a-brand-new-secret";
const UNKNOWN_ID: &str = "0b6c4c3e-8b7a-4f0e-9a57-4d2a1c3b5e6f";

type App = TestApp<MemoryStore<User>>;

fn patch(uri: &str, token: Option<&str>, body: Value) -> axum::http::Request<Body> {
    json_request("PATCH", uri, token, &body)
}

fn delete(uri: &str, token: Option<&str>) -> axum::http::Request<Body> {
    raw_request("DELETE", uri, token, None, Body::empty())
}

async fn login_status(app: &App, email: &str, password: &str) -> (StatusCode, Value) {
    app.call(login_request("/auth/jwt/login", email, password))
        .await
}

fn assert_bad_credentials(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, &json!({"detail": "LOGIN_BAD_CREDENTIALS"}));
}

fn assert_update_invalid_password(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_object().expect("detail is an object");
    assert_eq!(detail["code"], "UPDATE_USER_INVALID_PASSWORD", "{body}");
    assert!(
        !detail["reason"].as_str().expect("a reason").is_empty(),
        "{body}"
    );
}

/// An app with a superuser and a plain user, both logged in.
struct Fixture {
    app: App,
    admin_token: String,
    user: User,
    user_token: String,
}

async fn fixture() -> Fixture {
    let app = app();
    app.create_user("admin@example.com", true, true, true).await;
    let user = app
        .create_user("user@example.com", true, false, false)
        .await;
    let admin_token = app.login("admin@example.com").await;
    let user_token = app.login("user@example.com").await;
    Fixture {
        app,
        admin_token,
        user,
        user_token,
    }
}

fn user_uri(user: &User) -> String {
    format!("/users/{}", user.id)
}

// ---------------------------------------------------------------------------
// GET /users/me

#[tokio::test]
async fn get_me_answers_the_callers_user_object_as_json() {
    let f = fixture().await;
    let response = f.app.send(get("/users/me", Some(&f.user_token))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body = body_json(response).await;
    assert_user_object(&body);
    assert_eq!(
        body,
        json!({
            "id": f.user.id.to_string(),
            "email": "user@example.com",
            "is_active": true,
            "is_superuser": false,
            "is_verified": false,
        })
    );
}

#[tokio::test]
async fn me_routes_without_a_token_answer_401() {
    let app = app();
    let (status, _) = app.call(get("/users/me", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(patch("/users/me", None, json!({"email": "x@example.com"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Auth is decided before the body is looked at.
    let (status, _) = app
        .call(raw_request(
            "PATCH",
            "/users/me",
            None,
            Some("text/plain"),
            "garbage",
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.call(get("/users/me", Some("garbage"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------
// PATCH /users/me

#[tokio::test]
async fn patch_me_with_an_empty_object_changes_nothing() {
    let app = app();
    let user = app
        .create_user("still@example.com", true, true, false)
        .await;
    let token = app.login("still@example.com").await;
    let (status, body) = app.call(patch("/users/me", Some(&token), json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    assert_eq!(body["email"], "still@example.com");
    assert_eq!(body["is_verified"], true);
    let stored = app.reload(&user).await.unwrap();
    assert_eq!(stored.data.email, "still@example.com");
    assert!(stored.data.is_verified && stored.data.is_active && !stored.data.is_superuser);
    assert_eq!(stored.data.hashed_password, user.data.hashed_password);
    let (status, _) = login_status(&app, "still@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn patch_me_email_change_sets_new_address_and_unverifies() {
    let app = app();
    let user = app.create_user("old@example.com", true, true, false).await;
    let token = app.login("old@example.com").await;
    let (status, body) = app
        .call(patch(
            "/users/me",
            Some(&token),
            json!({"email": "fresh@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    assert_eq!(body["email"], "fresh@example.com");
    assert_eq!(body["is_verified"], false);
    let stored = app.reload(&user).await.unwrap();
    assert_eq!(stored.data.email, "fresh@example.com");
    assert!(!stored.data.is_verified);
    // Login follows the address.
    let (status, _) = login_status(&app, "fresh@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = login_status(&app, "old@example.com", PASSWORD).await;
    assert_bad_credentials(status, &body);
}

#[tokio::test]
async fn patch_me_to_the_exact_current_address_keeps_is_verified() {
    let app = app();
    app.create_user("same@example.com", true, true, false).await;
    let token = app.login("same@example.com").await;
    let (status, body) = app
        .call(patch(
            "/users/me",
            Some(&token),
            json!({"email": "same@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "same@example.com");
    assert_eq!(body["is_verified"], true);
}

#[tokio::test]
async fn patch_me_case_only_change_of_own_address_is_allowed() {
    let app = app();
    let user = app.create_user("case@example.com", true, true, false).await;
    let token = app.login("case@example.com").await;
    let (status, body) = app
        .call(patch(
            "/users/me",
            Some(&token),
            json!({"email": "Case@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "Case@example.com");
    // Not the exact current address: it counts as a change.
    assert_eq!(body["is_verified"], false);
    assert_eq!(
        app.reload(&user).await.unwrap().data.email,
        "Case@example.com"
    );
}

#[tokio::test]
async fn patch_me_to_an_address_taken_in_another_case_is_rejected() {
    let f = fixture().await;
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            Some(&f.user_token),
            json!({"email": "ADMIN@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, json!({"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"}));
    assert_eq!(
        f.app.reload(&f.user).await.unwrap().data.email,
        "user@example.com"
    );
}

#[tokio::test]
async fn patch_me_rejects_an_invalid_password_with_code_and_reason() {
    let f = fixture().await;
    let too_long = "p".repeat(100_000);
    for bad in [
        "short",
        "1234567",
        "ä".repeat(7).as_str(),
        "xxUSER@EXAMPLE.COMxx",
        "12345678",
        too_long.as_str(),
    ] {
        let (status, body) = f
            .app
            .call(patch(
                "/users/me",
                Some(&f.user_token),
                json!({"password": bad}),
            ))
            .await;
        assert_update_invalid_password(status, &body);
    }
    // The password did not change.
    let (status, _) = login_status(&f.app, "user@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn patch_me_checks_the_password_against_the_address_stored_before_the_update() {
    let f = fixture().await;
    // Contains the old address while moving to a new one: rejected, nothing changes.
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            Some(&f.user_token),
            json!({"email": "moved@example.com", "password": "my user@example.com pw"}),
        ))
        .await;
    assert_update_invalid_password(status, &body);
    let stored = f.app.reload(&f.user).await.unwrap();
    assert_eq!(stored.data.email, "user@example.com");
    assert_eq!(stored.data.hashed_password, f.user.data.hashed_password);

    // Contains only the new address: the old one is what is checked, so it passes.
    let password = "my moved@example.com pw";
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            Some(&f.user_token),
            json!({"email": "moved@example.com", "password": password}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "moved@example.com");
    let (status, _) = login_status(&f.app, "moved@example.com", password).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn patch_me_password_change_makes_the_new_password_log_in_and_the_old_fail() {
    let f = fixture().await;
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            Some(&f.user_token),
            json!({"password": NEW_PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    let (status, body) = login_status(&f.app, "user@example.com", NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = login_status(&f.app, "user@example.com", PASSWORD).await;
    assert_bad_credentials(status, &body);
}

#[tokio::test]
async fn patch_me_ignores_privileged_fields() {
    let f = fixture().await;
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            Some(&f.user_token),
            json!({"is_superuser": true, "is_active": false, "is_verified": true}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_superuser"], false);
    assert_eq!(body["is_active"], true);
    assert_eq!(body["is_verified"], false);
    let stored = f.app.reload(&f.user).await.unwrap();
    assert!(!stored.data.is_superuser && stored.data.is_active && !stored.data.is_verified);
    // Still no superuser powers, still logged in.
    let (status, _) = f
        .app
        .call(get(&user_uri(&f.user), Some(&f.user_token)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f.app.call(get("/users/me", Some(&f.user_token))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn patch_me_with_null_for_a_core_field_answers_422() {
    let f = fixture().await;
    for body in [
        json!({"email": null}),
        json!({"password": null}),
        json!({"is_active": null}),
    ] {
        let (status, answer) = f
            .app
            .call(patch("/users/me", Some(&f.user_token), body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    let stored = f.app.reload(&f.user).await.unwrap();
    assert_eq!(stored.data.email, "user@example.com");
    assert!(stored.data.is_active);
}

#[tokio::test]
async fn patch_me_with_a_body_that_is_not_json_or_has_wrong_types_answers_422() {
    let f = fixture().await;
    let (status, _) = f
        .app
        .call(raw_request(
            "PATCH",
            "/users/me",
            Some(&f.user_token),
            Some("text/plain"),
            r#"{"email": "x@example.com"}"#,
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for body in [
        json!({"email": 5}),
        json!({"email": "not-an-email"}),
        json!({"password": 12345678}),
    ] {
        let (status, answer) = f
            .app
            .call(patch("/users/me", Some(&f.user_token), body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
}

// ---------------------------------------------------------------------------
// /users/{id}: authentication and authorisation come first

#[tokio::test]
async fn superuser_routes_without_a_token_answer_401_even_for_bad_ids_and_bodies() {
    let f = fixture().await;
    let good = user_uri(&f.user);
    let uris = [
        good.as_str(),
        "/users/not-a-uuid",
        "/users/123",
        &format!("/users/{UNKNOWN_ID}"),
    ];
    for uri in uris {
        let (status, _) = f.app.call(get(uri, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "GET {uri}");
        let (status, _) = f.app.call(delete(uri, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "DELETE {uri}");
        let (status, _) = f
            .app
            .call(patch(uri, None, json!({"is_superuser": true})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "PATCH {uri}");
        let (status, _) = f
            .app
            .call(raw_request(
                "PATCH",
                uri,
                None,
                Some("text/plain"),
                "{not json",
            ))
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "PATCH {uri} with a bad body"
        );
        let (status, _) = f
            .app
            .call(patch(uri, None, json!({"is_active": null})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "PATCH {uri} with a null");
    }
    // Nothing happened to the user.
    let stored = f.app.reload(&f.user).await.unwrap();
    assert!(!stored.data.is_superuser && stored.data.is_active);
}

#[tokio::test]
async fn superuser_routes_answer_403_to_a_non_superuser_even_for_their_own_id() {
    let f = fixture().await;
    let own = user_uri(&f.user);
    let uris = [
        own.as_str(),
        "/users/not-a-uuid",
        "/users/123",
        &format!("/users/{UNKNOWN_ID}"),
    ];
    let token = Some(f.user_token.as_str());
    for uri in uris {
        let (status, _) = f.app.call(get(uri, token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "GET {uri}");
        let (status, _) = f
            .app
            .call(patch(uri, token, json!({"is_superuser": true})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "PATCH {uri}");
        let (status, _) = f
            .app
            .call(raw_request(
                "PATCH",
                uri,
                token,
                Some("text/plain"),
                "{not json",
            ))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "PATCH {uri} with a bad body");
        let (status, _) = f.app.call(delete(uri, token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "DELETE {uri}");
    }
    let stored = f.app.reload(&f.user).await.unwrap();
    assert!(!stored.data.is_superuser, "no self-promotion");
    assert!(f.app.reload(&f.user).await.is_some(), "no self-deletion");
}

#[tokio::test]
async fn superuser_routes_answer_404_for_unknown_and_malformed_ids() {
    let f = fixture().await;
    let token = Some(f.admin_token.as_str());
    for uri in [
        format!("/users/{UNKNOWN_ID}"),
        "/users/not-a-uuid".to_owned(),
        "/users/123".to_owned(),
    ] {
        let (status, _) = f.app.call(get(&uri, token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {uri}");
        let (status, _) = f
            .app
            .call(patch(&uri, token, json!({"is_active": false})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "PATCH {uri}");
        let (status, _) = f.app.call(delete(&uri, token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {uri}");
    }
}

#[tokio::test]
async fn superuser_get_by_id_answers_the_user_object() {
    let f = fixture().await;
    let response = f
        .app
        .send(get(&user_uri(&f.user), Some(&f.admin_token)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body = body_json(response).await;
    assert_user_object(&body);
    assert_eq!(body["id"], f.user.id.to_string());
    assert_eq!(body["email"], "user@example.com");
}

// ---------------------------------------------------------------------------
// PATCH /users/{id}

#[tokio::test]
async fn deactivation_by_a_superuser_locks_the_user_out_and_reactivation_lets_them_back() {
    let f = fixture().await;
    let uri = user_uri(&f.user);
    let (status, body) = f
        .app
        .call(patch(
            &uri,
            Some(&f.admin_token),
            json!({"is_active": false}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    assert_eq!(body["is_active"], false);

    let (status, _) = f.app.call(get("/users/me", Some(&f.user_token))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old token is dead at once"
    );
    let (status, body) = login_status(&f.app, "user@example.com", PASSWORD).await;
    assert_bad_credentials(status, &body);

    let (status, body) = f
        .app
        .call(patch(
            &uri,
            Some(&f.admin_token),
            json!({"is_active": true}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_active"], true);
    let token = f.app.login("user@example.com").await;
    let (status, _) = f.app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_user_promoted_to_superuser_can_use_the_superuser_routes() {
    let f = fixture().await;
    let other = f
        .app
        .create_user("other@example.com", true, false, false)
        .await;
    let other_uri = user_uri(&other);
    let (status, _) = f.app.call(get(&other_uri, Some(&f.user_token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = f
        .app
        .call(patch(
            &user_uri(&f.user),
            Some(&f.admin_token),
            json!({"is_superuser": true}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_superuser"], true);

    // The same token: every request reloads the user.
    let (status, body) = f.app.call(get(&other_uri, Some(&f.user_token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "other@example.com");
}

#[tokio::test]
async fn superuser_patch_sets_is_verified_and_changes_email_and_password() {
    let f = fixture().await;
    let uri = user_uri(&f.user);
    let (status, body) = f
        .app
        .call(patch(
            &uri,
            Some(&f.admin_token),
            json!({"is_verified": true}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_verified"], true);
    let (status, body) = f
        .app
        .call(patch(
            &uri,
            Some(&f.admin_token),
            json!({"email": "renamed@example.com", "password": NEW_PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "renamed@example.com");
    assert_eq!(body["is_verified"], false, "a new address is unverified");
    let (status, _) = login_status(&f.app, "renamed@example.com", NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn superuser_patch_with_null_answers_422() {
    let f = fixture().await;
    let uri = user_uri(&f.user);
    for body in [
        json!({"is_active": null}),
        json!({"is_superuser": null}),
        json!({"is_verified": null}),
        json!({"email": null}),
        json!({"password": null}),
    ] {
        let (status, answer) = f
            .app
            .call(patch(&uri, Some(&f.admin_token), body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    assert!(f.app.reload(&f.user).await.unwrap().data.is_active);
}

#[tokio::test]
async fn superuser_patch_to_a_taken_address_is_rejected() {
    let f = fixture().await;
    let (status, body) = f
        .app
        .call(patch(
            &user_uri(&f.user),
            Some(&f.admin_token),
            json!({"email": "Admin@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, json!({"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"}));
}

#[tokio::test]
async fn superuser_patch_rejects_an_invalid_password_with_code_and_reason() {
    let f = fixture().await;
    let (status, body) = f
        .app
        .call(patch(
            &user_uri(&f.user),
            Some(&f.admin_token),
            json!({"password": "1234567"}),
        ))
        .await;
    assert_update_invalid_password(status, &body);
}

// ---------------------------------------------------------------------------
// DELETE /users/{id}

#[tokio::test]
async fn delete_by_a_superuser_removes_the_user_and_frees_the_address() {
    let f = fixture().await;
    let uri = user_uri(&f.user);
    let response = f.app.send(delete(&uri, Some(&f.admin_token))).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(bytes.is_empty(), "204 body is empty: {bytes:?}");

    let (status, _) = f.app.call(get(&uri, Some(&f.admin_token))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f.app.call(delete(&uri, Some(&f.admin_token))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f.app.call(get("/users/me", Some(&f.user_token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old token is dead");
    let (status, body) = login_status(&f.app, "user@example.com", PASSWORD).await;
    assert_bad_credentials(status, &body);

    let (status, body) = f
        .app
        .call(json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "user@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_ne!(body["id"], f.user.id.to_string());
}

// ---------------------------------------------------------------------------
// Routing

#[tokio::test]
async fn unknown_path_answers_404() {
    let f = fixture().await;
    for uri in ["/nowhere", "/users/me/extra", "/auth/unknown"] {
        let (status, _) = f.app.call(get(uri, Some(&f.admin_token))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test]
async fn known_path_with_another_method_answers_405() {
    let f = fixture().await;
    let token = Some(f.user_token.as_str());
    let (status, _) = f
        .app
        .call(json_request("PUT", "/users/me", token, &json!({})))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "PUT /users/me");
    let (status, _) = f
        .app
        .call(json_request("POST", "/users/me", token, &json!({})))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "POST /users/me");
    let (status, _) = f.app.call(get("/auth/register", None)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "GET /auth/register");
    let (status, _) = f.app.call(get("/auth/jwt/login", None)).await;
    assert_eq!(
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "GET /auth/jwt/login"
    );
}
