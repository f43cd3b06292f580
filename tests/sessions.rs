//! Revocable sessions (the database strategy behind a cookie, as the example's
//! `/auth/session`) and "log out everywhere" through HTTP.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_users::auth::{AuthBackend, CookieTransport, DatabaseStrategy};
use axum_users::store::MemoryStore;
use axum_users::{AxumUsers, LogoutEverywhere, User, UserManager};
use common::*;
use serde_json::json;
use tower::ServiceExt;

struct SessionApp {
    router: Router,
    mailbox: Mailbox,
    manager: UserManager<MemoryStore<User>, MailHooks>,
}

fn session_app(policy: LogoutEverywhere) -> SessionApp {
    let (hooks, mailbox) = MailHooks::new();
    let store = MemoryStore::<User>::new();
    let manager = UserManager::builder(store.clone())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .logout_everywhere(policy)
        .hooks(hooks)
        .build();
    let (bearer, cookie) = backends();
    let session = AuthBackend::new(
        "session",
        CookieTransport::new().name("fastapiuserssession"),
        DatabaseStrategy::new(store),
    );
    let users = AxumUsers::new(
        manager.clone(),
        vec![bearer.clone(), cookie, session.clone()],
    );
    let router = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth/session", users.auth_router(&session))
        .nest("/auth", users.register_router())
        .nest("/auth", users.reset_password_router())
        .nest("/users", users.users_router());
    SessionApp {
        router,
        mailbox,
        manager,
    }
}

impl SessionApp {
    async fn call(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, serde_json::Value, Option<String>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned());
        (status, body_json(response).await, cookie)
    }

    async fn register(&self, email: &str) {
        let (status, body, _) = self
            .call(json_request(
                "POST",
                "/auth/register",
                None,
                &json!({"email": email, "password": PASSWORD}),
            ))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// A session token through `/auth/session/login`.
    async fn session(&self, email: &str, password: &str) -> String {
        let (status, body, cookie) = self
            .call(login_request("/auth/session/login", email, password))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let cookie = cookie.expect("a session cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("Secure"));
        let value = cookie
            .strip_prefix("fastapiuserssession=")
            .expect("named fastapiuserssession")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert!(value.len() >= 43 && !value.contains('.'), "an opaque token");
        value
    }

    async fn me_with_session(&self, token: &str) -> StatusCode {
        let request = Request::builder()
            .uri("/users/me")
            .header(header::COOKIE, format!("fastapiuserssession={token}"))
            .body(Body::empty())
            .unwrap();
        self.call(request).await.0
    }

    async fn bearer(&self, email: &str) -> String {
        let (status, body, _) = self
            .call(login_request("/auth/jwt/login", email, PASSWORD))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn session_logout_revokes_the_session() {
    let app = session_app(LogoutEverywhere::default());
    app.register("a@example.com").await;
    let token = app.session("a@example.com", PASSWORD).await;
    assert_eq!(app.me_with_session(&token).await, StatusCode::OK);
    let logout = Request::builder()
        .method("POST")
        .uri("/auth/session/logout")
        .header(header::COOKIE, format!("fastapiuserssession={token}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, cookie) = app.call(logout).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(
        app.me_with_session(&token).await,
        StatusCode::UNAUTHORIZED,
        "unlike a JWT, a logged-out session is dead"
    );
}

#[tokio::test]
async fn a_password_change_ends_every_session_of_the_user_only() {
    let app = session_app(LogoutEverywhere::default());
    app.register("a@example.com").await;
    app.register("b@example.com").await;
    let first = app.session("a@example.com", PASSWORD).await;
    let second = app.session("a@example.com", PASSWORD).await;
    let other = app.session("b@example.com", PASSWORD).await;
    let jwt = app.bearer("a@example.com").await;
    let patch = Request::builder()
        .method("PATCH")
        .uri("/users/me")
        .header(header::COOKIE, format!("fastapiuserssession={first}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"password": "a brand new password"}).to_string(),
        ))
        .unwrap();
    let (status, body, _) = app.call(patch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.me_with_session(&first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_with_session(&second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.me_with_session(&other).await,
        StatusCode::OK,
        "b is untouched"
    );
    // JWTs cannot be revoked: documented, and pinned here.
    let (status, _, _) = app.call(get("/users/me", Some(&jwt))).await;
    assert_eq!(status, StatusCode::OK);
    // A new session with the new password works.
    let fresh = app.session("a@example.com", "a brand new password").await;
    assert_eq!(app.me_with_session(&fresh).await, StatusCode::OK);
}

#[tokio::test]
async fn a_reset_ends_every_session() {
    let mut app = session_app(LogoutEverywhere::default());
    app.register("a@example.com").await;
    let session = app.session("a@example.com", PASSWORD).await;
    let (status, _, _) = app
        .call(json_request(
            "POST",
            "/auth/forgot-password",
            None,
            &json!({"email": "a@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = app.mailbox.reset_token().await.token;
    let (status, body, _) = app
        .call(json_request(
            "POST",
            "/auth/reset-password",
            None,
            &json!({"token": token, "password": "a brand new password"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.me_with_session(&session).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn with_logout_everywhere_off_a_password_change_keeps_sessions() {
    let app = session_app(LogoutEverywhere {
        on_password_change: false,
        ..LogoutEverywhere::default()
    });
    app.register("a@example.com").await;
    let session = app.session("a@example.com", PASSWORD).await;
    let patch = Request::builder()
        .method("PATCH")
        .uri("/users/me")
        .header(header::COOKIE, format!("fastapiuserssession={session}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"password": "a brand new password"}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.call(patch).await.0, StatusCode::OK);
    assert_eq!(app.me_with_session(&session).await, StatusCode::OK);
}

#[tokio::test]
async fn session_tokens_are_not_accepted_as_bearer_jwts_nor_the_reverse() {
    let app = session_app(LogoutEverywhere::default());
    app.register("a@example.com").await;
    let jwt = app.bearer("a@example.com").await;
    assert_eq!(app.me_with_session(&jwt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.me_with_session("garbage").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sessions_ended_by_a_deactivation_stay_dead_after_reactivation() {
    let app = session_app(LogoutEverywhere::default());
    app.register("a@example.com").await;
    let mut create = axum_users::UserCreate::new(
        axum_users::Email::parse("admin@example.com").unwrap(),
        PASSWORD,
    );
    create.is_superuser = Some(true);
    app.manager.create(create, false, None).await.unwrap();
    let admin = app.bearer("admin@example.com").await;
    let session = app.session("a@example.com", PASSWORD).await;
    let id = {
        let request = Request::builder()
            .uri("/users/me")
            .header(header::COOKIE, format!("fastapiuserssession={session}"))
            .body(Body::empty())
            .unwrap();
        app.call(request).await.1["id"].as_str().unwrap().to_owned()
    };
    let set_active = |active: bool| {
        json_request(
            "PATCH",
            &format!("/users/{id}"),
            Some(&admin),
            &json!({"is_active": active}),
        )
    };
    assert_eq!(app.call(set_active(false)).await.0, StatusCode::OK);
    assert_eq!(
        app.me_with_session(&session).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.call(set_active(true)).await.0, StatusCode::OK);
    assert_eq!(
        app.me_with_session(&session).await,
        StatusCode::UNAUTHORIZED,
        "the session was deleted, not suspended"
    );
    let fresh = app.session("a@example.com", PASSWORD).await;
    assert_eq!(app.me_with_session(&fresh).await, StatusCode::OK);
    // An update that does not deactivate keeps sessions.
    let rename = json_request(
        "PATCH",
        &format!("/users/{id}"),
        Some(&admin),
        &json!({"is_verified": true}),
    );
    assert_eq!(app.call(rename).await.0, StatusCode::OK);
    assert_eq!(app.me_with_session(&fresh).await, StatusCode::OK);
}
