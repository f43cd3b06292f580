//! `UserHooks`: which events fire (and which do not) over HTTP and through the
//! manager, what they receive, and how `validate_password` and
//! `on_before_delete` change the outcome.

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use axum_users::http::request::Parts;
use axum_users::store::{MemoryStore, UserStore};
use axum_users::{
    Email, Error, PasswordContext, PasswordRejection, UpdatedFields, User, UserHooks, UserUpdate,
};
use serde_json::{Value, json};

use crate::common::*;

/// Records every event as a line of text; optionally vetoes deletions and
/// requires a digit in passwords.
#[derive(Clone, Default)]
struct Recorder {
    events: Shared<Vec<String>>,
    veto_delete: bool,
    require_digit: bool,
}

fn parts_note(request: Option<&Parts>) -> String {
    match request {
        None => "parts=no".to_owned(),
        Some(parts) => {
            let client = parts
                .headers
                .get("x-client")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            format!("parts=yes x-client={client}")
        }
    }
}

impl Recorder {
    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }

    /// The events whose first word is `kind`.
    fn of(&self, kind: &str) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.split(' ').next() == Some(kind))
            .cloned()
            .collect()
    }

    fn all(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.events.lock().unwrap().clear();
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for Recorder {
    async fn validate_password(
        &self,
        password: &str,
        context: PasswordContext<'_, User>,
    ) -> Result<(), PasswordRejection> {
        self.push(format!(
            "validate email={} user={}",
            context.email,
            context
                .user
                .map_or("none".to_owned(), |u| u.data.email.clone())
        ));
        context.policy.check(password, context.email)?;
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            return Err(PasswordRejection::new("Password should contain a digit"));
        }
        Ok(())
    }

    async fn on_after_register(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "register {} {}",
            user.data.email,
            parts_note(request)
        ));
        Ok(())
    }

    async fn on_after_login(
        &self,
        user: &User,
        request: Option<&Parts>,
        response: Option<&mut Response>,
    ) -> axum_users::Result<()> {
        self.push(format!("login {} {}", user.data.email, parts_note(request)));
        if let Some(response) = response {
            response.headers_mut().insert(
                "x-hook-login",
                HeaderValue::from_str(&user.data.email).unwrap(),
            );
        }
        Ok(())
    }

    async fn on_after_update(
        &self,
        user: &User,
        changes: &UpdatedFields,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "update {} email={} password={} {}",
            user.data.email,
            changes.email,
            changes.password,
            parts_note(request)
        ));
        Ok(())
    }

    async fn on_before_delete(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "before_delete {} {}",
            user.data.email,
            parts_note(request)
        ));
        if self.veto_delete {
            return Err(Error::Forbidden);
        }
        Ok(())
    }

    async fn on_after_delete(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> axum_users::Result<()> {
        self.push(format!(
            "after_delete {} {}",
            user.data.email,
            parts_note(request)
        ));
        Ok(())
    }
}

type HookApp = TestApp<MemoryStore<User>, Recorder>;

fn hook_app(recorder: &Recorder) -> HookApp {
    app_with(MemoryStore::new(), recorder.clone(), Options::default())
}

/// `request` with an `x-client` header, to see whether hooks get the request.
fn tagged(mut request: Request<Body>) -> Request<Body> {
    request
        .headers_mut()
        .insert("x-client", HeaderValue::from_static("test-suite"));
    request
}

fn register(email: &str, password: &str) -> Request<Body> {
    json_request(
        "POST",
        "/auth/register",
        None,
        &json!({"email": email, "password": password}),
    )
}

fn patch_me(token: &str, body: &Value) -> Request<Body> {
    json_request("PATCH", "/users/me", Some(token), body)
}

async fn login_with(app: &HookApp, email: &str, password: &str) -> String {
    let (status, body) = app
        .call(login_request("/auth/jwt/login", email, password))
        .await;
    assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn assert_invalid_password(status: StatusCode, body: &Value, code: &str, what: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
    let detail = body["detail"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: {body}"));
    let mut keys: Vec<_> = detail.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["code", "reason"], "{what}: {body}");
    assert_eq!(detail["code"], code, "{what}: {body}");
    assert!(
        detail["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{what}: a non-empty reason: {body}"
    );
}

// ---- on_after_register ----------------------------------------------------

#[tokio::test]
async fn on_after_register_fires_once_on_register_with_the_request() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    let (status, body) = app.call(tagged(register("a@example.com", PASSWORD))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        recorder.of("register"),
        ["register a@example.com parts=yes x-client=test-suite"]
    );
}

#[tokio::test]
async fn on_after_register_does_not_fire_on_rejected_register() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    let (status, _) = app.call(register("a@example.com", PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED);
    recorder.clear();

    let rejected = [
        (
            "duplicate",
            register("a@example.com", PASSWORD),
            StatusCode::BAD_REQUEST,
        ),
        (
            "duplicate in another case",
            register("A@EXAMPLE.COM", PASSWORD),
            StatusCode::BAD_REQUEST,
        ),
        (
            "short password",
            register("b@example.com", "short"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "common password",
            register("b@example.com", "12345678"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid e-mail",
            register("not-an-email", PASSWORD),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "missing password",
            json_request(
                "POST",
                "/auth/register",
                None,
                &json!({"email": "b@example.com"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "not labelled JSON",
            raw_request(
                "POST",
                "/auth/register",
                None,
                Some("text/plain"),
                json!({"email": "b@example.com", "password": PASSWORD}).to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (what, request, expected) in rejected {
        let (status, body) = app.call(request).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(
            recorder.of("register").is_empty(),
            "{what}: {:?}",
            recorder.all()
        );
    }
}

#[tokio::test]
async fn on_after_register_gets_no_request_when_manager_is_called_directly() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, false, false).await;
    assert_eq!(recorder.of("register"), ["register a@example.com parts=no"]);
}

// ---- on_after_login -------------------------------------------------------

#[tokio::test]
async fn on_after_login_fires_on_bearer_and_cookie_login() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, false, false).await;
    let (status, _) = app
        .call(tagged(login_request(
            "/auth/jwt/login",
            "a@example.com",
            PASSWORD,
        )))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        recorder.of("login"),
        ["login a@example.com parts=yes x-client=test-suite"]
    );
    let (status, _) = app
        .call(login_request(
            "/auth/cookie/login",
            "a@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(recorder.of("login").len(), 2, "{:?}", recorder.all());
}

#[tokio::test]
async fn on_after_login_does_not_fire_on_failed_login() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, false, false).await;
    app.create_user("inactive@example.com", false, false, false)
        .await;
    for uri in ["/auth/jwt/login", "/auth/cookie/login"] {
        for (username, password, expected) in [
            (
                "a@example.com",
                "wrong-password-123",
                StatusCode::BAD_REQUEST,
            ),
            ("nobody@example.com", PASSWORD, StatusCode::BAD_REQUEST),
            ("inactive@example.com", PASSWORD, StatusCode::BAD_REQUEST),
            ("", PASSWORD, StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (status, body) = app.call(login_request(uri, username, password)).await;
            assert_eq!(status, expected, "{uri} {username:?}: {body}");
        }
    }
    assert!(recorder.of("login").is_empty(), "{:?}", recorder.all());
}

#[tokio::test]
async fn on_after_login_does_not_fire_for_unverified_user_when_verification_is_required() {
    let recorder = Recorder::default();
    let app = app_with(
        MemoryStore::new(),
        recorder.clone(),
        Options {
            requires_verification: true,
            ..Options::default()
        },
    );
    app.create_user("a@example.com", true, false, false).await;
    let (status, body) = app
        .call(login_request("/auth/jwt/login", "a@example.com", PASSWORD))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(recorder.of("login").is_empty(), "{:?}", recorder.all());
}

#[tokio::test]
async fn on_after_login_can_amend_the_response() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, false, false).await;

    let response = app
        .send(login_request("/auth/jwt/login", "a@example.com", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("x-hook-login")
            .map(|v| v.to_str().unwrap()),
        Some("a@example.com"),
        "bearer login"
    );
    let body = body_json(response).await;
    assert_eq!(body["token_type"], "bearer", "the body is kept: {body}");

    let response = app
        .send(login_request(
            "/auth/cookie/login",
            "a@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response
            .headers()
            .get("x-hook-login")
            .map(|v| v.to_str().unwrap()),
        Some("a@example.com"),
        "cookie login"
    );
    assert!(
        response.headers().get(header::SET_COOKIE).is_some(),
        "the auth cookie is kept"
    );
}

// ---- on_after_update --------------------------------------------------------

#[tokio::test]
async fn on_after_update_reports_an_email_change() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, true, false).await;
    let token = app.login("a@example.com").await;
    let (status, body) = app
        .call(tagged(patch_me(&token, &json!({"email": "b@example.com"}))))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        recorder.of("update"),
        ["update b@example.com email=true password=false parts=yes x-client=test-suite"]
    );
}

#[tokio::test]
async fn on_after_update_reports_a_password_change() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let (status, body) = app
        .call(patch_me(
            &token,
            &json!({"password": "another-good-password"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        recorder.of("update"),
        ["update a@example.com email=false password=true parts=yes x-client=-"]
    );
}

#[tokio::test]
async fn on_after_update_reports_no_email_change_for_the_same_address() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, true, false).await;
    let token = app.login("a@example.com").await;
    let (status, body) = app
        .call(patch_me(&token, &json!({"email": "a@example.com"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_verified"], true, "{body}");
    assert_eq!(
        recorder.of("update"),
        ["update a@example.com email=false password=false parts=yes x-client=-"]
    );
}

#[tokio::test]
async fn on_after_update_does_not_fire_on_rejected_update() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("a@example.com", true, false, false).await;
    app.create_user("taken@example.com", true, false, false)
        .await;
    let token = app.login("a@example.com").await;
    let rejected = [
        (
            "address taken",
            patch_me(&token, &json!({"email": "Taken@example.com"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "password too short",
            patch_me(&token, &json!({"password": "short"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "null e-mail",
            patch_me(&token, &json!({"email": null})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "invalid e-mail",
            patch_me(&token, &json!({"email": "not-an-email"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "not JSON",
            raw_request(
                "PATCH",
                "/users/me",
                Some(&token),
                Some("application/json"),
                "{",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "no token",
            json_request(
                "PATCH",
                "/users/me",
                None,
                &json!({"email": "c@example.com"}),
            ),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, request, expected) in rejected {
        let (status, body) = app.call(request).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(
            recorder.of("update").is_empty(),
            "{what}: {:?}",
            recorder.all()
        );
    }
}

#[tokio::test]
async fn on_after_update_gets_no_request_when_manager_is_called_directly() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    let user = app.create_user("a@example.com", true, false, false).await;
    let update = UserUpdate {
        email: Some(Email::parse("b@example.com").unwrap()),
        ..UserUpdate::default()
    };
    app.users
        .manager()
        .update(user, update, true, None)
        .await
        .unwrap();
    assert_eq!(
        recorder.of("update"),
        ["update b@example.com email=true password=false parts=no"]
    );
}

// ---- delete ------------------------------------------------------------------

#[tokio::test]
async fn delete_fires_before_and_after_delete_hooks_in_order() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("admin@example.com", true, true, true).await;
    let victim = app
        .create_user("victim@example.com", true, false, false)
        .await;
    let token = app.login("admin@example.com").await;
    recorder.clear();
    let (status, body) = app
        .call(tagged(raw_request(
            "DELETE",
            &format!("/users/{}", victim.id),
            Some(&token),
            None,
            Body::empty(),
        )))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        recorder.all(),
        [
            "before_delete victim@example.com parts=yes x-client=test-suite",
            "after_delete victim@example.com parts=yes x-client=test-suite",
        ]
    );
    assert!(app.reload(&victim).await.is_none(), "the user is gone");
}

#[tokio::test]
async fn delete_hooks_do_not_fire_when_delete_is_refused() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    app.create_user("plain@example.com", true, true, false)
        .await;
    let victim = app
        .create_user("victim@example.com", true, false, false)
        .await;
    let token = app.login("plain@example.com").await;
    recorder.clear();
    let uri = format!("/users/{}", victim.id);
    let (status, _) = app
        .call(raw_request(
            "DELETE",
            &uri,
            Some(&token),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not a superuser");
    let (status, _) = app
        .call(raw_request("DELETE", &uri, None, None, Body::empty()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(recorder.all().is_empty(), "{:?}", recorder.all());
}

#[tokio::test]
async fn on_before_delete_error_keeps_the_user() {
    let recorder = Recorder {
        veto_delete: true,
        ..Recorder::default()
    };
    let app = hook_app(&recorder);
    app.create_user("admin@example.com", true, true, true).await;
    let victim = app
        .create_user("victim@example.com", true, false, false)
        .await;
    let token = app.login("admin@example.com").await;
    recorder.clear();
    let uri = format!("/users/{}", victim.id);
    let (status, body) = app
        .call(raw_request(
            "DELETE",
            &uri,
            Some(&token),
            None,
            Body::empty(),
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        recorder.all(),
        ["before_delete victim@example.com parts=yes x-client=-"],
        "no after_delete"
    );
    assert!(app.reload(&victim).await.is_some(), "the user is kept");
    let (status, body) = app.call(get(&uri, Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "victim@example.com");
    // The vetoed user can still log in.
    app.login("victim@example.com").await;
}

#[tokio::test]
async fn delete_hooks_get_no_request_when_manager_is_called_directly() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    let user = app.create_user("a@example.com", true, false, false).await;
    recorder.clear();
    app.users
        .manager()
        .delete(user.clone(), None)
        .await
        .unwrap();
    assert_eq!(
        recorder.all(),
        [
            "before_delete a@example.com parts=no",
            "after_delete a@example.com parts=no",
        ]
    );
    assert!(
        app.users
            .manager()
            .store()
            .get(&user.id)
            .await
            .unwrap()
            .is_none()
    );
}

// ---- validate_password --------------------------------------------------------

fn digit_app(recorder: &Recorder) -> HookApp {
    assert!(recorder.require_digit);
    hook_app(recorder)
}

#[tokio::test]
async fn validate_password_override_rejects_at_register() {
    let recorder = Recorder {
        require_digit: true,
        ..Recorder::default()
    };
    let app = digit_app(&recorder);
    let (status, body) = app
        .call(register("a@example.com", "correct-horse-battery"))
        .await;
    assert_invalid_password(status, &body, "REGISTER_INVALID_PASSWORD", "no digit");
    assert_eq!(
        body["detail"]["reason"], "Password should contain a digit",
        "the hook's reason reaches the client"
    );
    assert!(recorder.of("register").is_empty());
    let (status, body) = app
        .call(register("a@example.com", "correct-horse-battery-9"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "with a digit: {body}");
}

#[tokio::test]
async fn validate_password_override_keeps_the_default_policy_at_register() {
    let recorder = Recorder {
        require_digit: true,
        ..Recorder::default()
    };
    let app = digit_app(&recorder);
    let huge = format!("{}9", "x".repeat(100_000));
    for (what, password) in [
        ("too short, with a digit", "abc1"),
        ("very common, digits only", "12345678"),
        ("contains the e-mail", "xx-a@example.com-1"),
        ("100 kB long, with a digit", huge.as_str()),
    ] {
        let (status, body) = app.call(register("a@example.com", password)).await;
        assert_invalid_password(status, &body, "REGISTER_INVALID_PASSWORD", what);
        assert_ne!(
            body["detail"]["reason"], "Password should contain a digit",
            "{what}: the default policy's reason"
        );
    }
    assert!(recorder.of("register").is_empty(), "{:?}", recorder.all());
}

#[tokio::test]
async fn validate_password_override_rejects_at_patch_me() {
    let recorder = Recorder {
        require_digit: true,
        ..Recorder::default()
    };
    let app = digit_app(&recorder);
    let (status, _) = app
        .call(register("a@example.com", "correct-horse-battery-9"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = login_with(&app, "a@example.com", "correct-horse-battery-9").await;

    let (status, body) = app
        .call(patch_me(&token, &json!({"password": "no-digits-in-here"})))
        .await;
    assert_invalid_password(status, &body, "UPDATE_USER_INVALID_PASSWORD", "no digit");
    assert_eq!(body["detail"]["reason"], "Password should contain a digit");
    let (status, body) = app
        .call(patch_me(&token, &json!({"password": "abc1"})))
        .await;
    assert_invalid_password(status, &body, "UPDATE_USER_INVALID_PASSWORD", "too short");
    assert!(recorder.of("update").is_empty(), "{:?}", recorder.all());

    // The old password still works; a valid new one is taken.
    let (status, body) = app
        .call(patch_me(
            &token,
            &json!({"password": "brand-new-password-7"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    login_with(&app, "a@example.com", "brand-new-password-7").await;
}

#[tokio::test]
async fn validate_password_context_has_the_owner_and_the_stored_address() {
    let recorder = Recorder::default();
    let app = hook_app(&recorder);
    let (status, _) = app.call(register("a@example.com", PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        recorder.of("validate"),
        ["validate email=a@example.com user=none"]
    );
    recorder.clear();

    let token = app.login("a@example.com").await;
    let (status, body) = app
        .call(patch_me(
            &token,
            &json!({"email": "new@example.com", "password": "another-good-password"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        recorder.of("validate"),
        ["validate email=a@example.com user=a@example.com"],
        "checked against the address stored before the update"
    );
}
