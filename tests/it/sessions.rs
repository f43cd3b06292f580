//! Revocable sessions (the database strategy behind a cookie, as the example's
//! `/auth/session`) and "log out everywhere" through HTTP.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_users::auth::{AuthBackend, CookieTransport, DatabaseStrategy};
use axum_users::store::MemoryStore;
use axum_users::{AxumUsers, LogoutEverywhere, User, UserManager};
use serde_json::json;
use tower::ServiceExt;

use crate::common::*;

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

// ---------------------------------------------------------------------------
// A login racing a password change: the login reads the user (old hash), the
// change completes and logs the user out everywhere, then the login stores its
// session. That session must be dead, whatever the strategy.

mod race {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum_users::async_trait;
    use axum_users::auth::{RedisStrategy, Strategy};
    use axum_users::store::{StoreError, UserChanges, UserStore};
    use axum_users::user::PasswordHash;
    use axum_users::{Password, UserData, UserModel};
    use tokio::sync::Notify;
    use uuid::Uuid;

    use super::*;

    /// Holds a login between reading its user and going on, while the test
    /// changes the password.
    #[derive(Default)]
    struct Gate {
        armed: AtomicBool,
        reached: Notify,
        released: Notify,
    }

    /// A memory store whose `get_by_email` (the login's read), once the gate
    /// is armed, stops after reading until the test releases it.
    #[derive(Clone)]
    struct GatedStore {
        inner: MemoryStore<User>,
        gate: Arc<Gate>,
    }

    #[async_trait]
    impl UserStore for GatedStore {
        type User = User;

        async fn get(&self, id: &Uuid) -> Result<Option<User>, StoreError> {
            self.inner.get(id).await
        }

        async fn get_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
            let user = self.inner.get_by_email(email).await?;
            if self.gate.armed.swap(false, Ordering::SeqCst) {
                self.gate.reached.notify_one();
                self.gate.released.notified().await;
            }
            Ok(user)
        }

        async fn create(&self, data: UserData<axum_users::NoFields>) -> Result<User, StoreError> {
            self.inner.create(data).await
        }

        async fn update(
            &self,
            id: &Uuid,
            changes: UserChanges<axum_users::NoFields>,
        ) -> Result<User, StoreError> {
            self.inner.update(id, changes).await
        }

        async fn delete(&self, id: &Uuid) -> Result<(), StoreError> {
            self.inner.delete(id).await
        }
    }

    struct RaceApp {
        router: Router,
        manager: UserManager<GatedStore>,
        gate: Arc<Gate>,
    }

    /// The app with a session backend over `strategy` at `/auth/session` (a
    /// bearer transport, so that the token comes back in the body) and
    /// the users router.
    fn race_app(
        store: MemoryStore<User>,
        hasher: axum_users::password::PasswordHasher,
        strategy: impl Strategy<User>,
    ) -> RaceApp {
        let gate = Arc::new(Gate::default());
        let gated = GatedStore {
            inner: store.clone(),
            gate: Arc::clone(&gate),
        };
        let manager = UserManager::builder(gated)
            .hasher(hasher)
            .token_secret(SECRET)
            .build();
        let session = AuthBackend::new(
            "session",
            axum_users::auth::BearerTransport::new("auth/session/login"),
            strategy,
        );
        let users = AxumUsers::new(manager.clone(), vec![session.clone()]);
        let router = Router::new()
            .nest("/auth/session", users.auth_router(&session))
            .nest("/users", users.users_router());
        RaceApp {
            router,
            manager,
            gate,
        }
    }

    impl RaceApp {
        async fn call(&self, request: Request<Body>) -> (StatusCode, serde_json::Value) {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            (status, body_json(response).await)
        }

        /// A login of `email` that reads its user, waits while `change` runs
        /// to the end, then finishes: its answer.
        async fn login_racing<F, Fut>(
            &self,
            email: &str,
            change: F,
        ) -> (StatusCode, serde_json::Value)
        where
            F: FnOnce() -> Fut,
            Fut: std::future::Future<Output = ()>,
        {
            self.gate.armed.store(true, Ordering::SeqCst);
            let reached = self.gate.reached.notified();
            let router = self.router.clone();
            let request = login_request("/auth/session/login", email, PASSWORD);
            let login = tokio::spawn(async move {
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                (status, body_json(response).await)
            });
            reached.await;
            change().await;
            self.gate.released.notify_one();
            login.await.unwrap()
        }

        async fn me(&self, token: &str) -> StatusCode {
            self.call(get("/users/me", Some(token))).await.0
        }
    }

    /// Every interleaving a session strategy must survive: a reset, a change
    /// of one's own password and a superuser's change, each completing
    /// between the login's read and its session write.
    async fn a_login_racing_a_password_change_stores_a_dead_session(make: impl Fn() -> RaceApp) {
        for change in ["reset", "own change", "superuser change"] {
            let app = make();
            let user = app
                .manager
                .create(
                    axum_users::UserCreate::new(
                        axum_users::Email::parse("racer@example.com").unwrap(),
                        PASSWORD,
                    ),
                    false,
                    None,
                )
                .await
                .unwrap();
            let manager = app.manager.clone();
            let (status, body) = app
                .login_racing("racer@example.com", || async move {
                    let new = Password::new("a completely new password");
                    match change {
                        "reset" => {
                            let token = manager.reset_password_token(&user).unwrap();
                            manager.reset_password(&token, &new, None).await.unwrap();
                        }
                        "own change" => {
                            let update = axum_users::UserUpdate {
                                password: Some(new),
                                ..Default::default()
                            };
                            manager.update(user, update, true, None).await.unwrap();
                        }
                        _ => {
                            let update = axum_users::UserUpdate {
                                password: Some(new),
                                ..Default::default()
                            };
                            manager.update(user, update, false, None).await.unwrap();
                        }
                    }
                })
                .await;
            // The login checked the old password against the hash it read:
            // it may answer with a token, but that token must be dead.
            if status == StatusCode::OK {
                let token = body["access_token"].as_str().unwrap();
                assert_eq!(
                    app.me(token).await,
                    StatusCode::UNAUTHORIZED,
                    "a session opened with the old password outlived the {change}"
                );
            } else {
                assert_eq!(
                    (status, &body["detail"]),
                    (StatusCode::BAD_REQUEST, &json!("LOGIN_BAD_CREDENTIALS")),
                    "{change}"
                );
            }
            // The store was not left holding it either way as a live one: a
            // fresh login with the new password works.
            let (status, _) = app
                .call(login_request(
                    "/auth/session/login",
                    "racer@example.com",
                    "a completely new password",
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "{change}");
        }
    }

    #[tokio::test]
    async fn a_database_session_opened_by_a_login_racing_a_password_change_is_refused() {
        a_login_racing_a_password_change_stores_a_dead_session(|| {
            let store = MemoryStore::<User>::new();
            race_app(store.clone(), fast_hasher(), DatabaseStrategy::new(store))
        })
        .await;
    }

    #[tokio::test]
    async fn a_redis_session_opened_by_a_login_racing_a_password_change_is_refused() {
        let Some(url) = services::service_url("AXUM_USERS_TEST_REDIS_URL", "Redis") else {
            return;
        };
        let strategy = RedisStrategy::connect(&url)
            .await
            .unwrap_or_else(|e| services::unreachable_service("Redis", &e))
            .prefix(format!("axum-users-race-{}:", Uuid::new_v4()));
        a_login_racing_a_password_change_stores_a_dead_session(|| {
            race_app(MemoryStore::new(), fast_hasher(), strategy.clone())
        })
        .await;
    }

    #[tokio::test]
    async fn a_login_whose_hash_upgrade_loses_to_a_reset_fails() {
        // The stored hash is weaker than the hasher's parameters, so the login
        // upgrades it with a compare-and-set, which the reset makes fail.
        let store = MemoryStore::<User>::new();
        let app = race_app(
            store.clone(),
            fast_hasher(),
            DatabaseStrategy::new(store.clone()),
        );
        let weak = PasswordHash::new(bcrypt::hash(PASSWORD, 4).unwrap());
        let user = store
            .create(UserData::new(
                "weak@example.com",
                weak,
                axum_users::NoFields {},
            ))
            .await
            .unwrap();
        let manager = app.manager.clone();
        let (status, body) = app
            .login_racing("weak@example.com", || async move {
                let token = manager.reset_password_token(&user).unwrap();
                let new = Password::new("a completely new password");
                manager.reset_password(&token, &new, None).await.unwrap();
            })
            .await;
        assert_eq!(
            (status, &body["detail"]),
            (StatusCode::BAD_REQUEST, &json!("LOGIN_BAD_CREDENTIALS")),
            "the old password no longer logs in, upgrade or not"
        );
        let stored = store
            .get_by_email("weak@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.data().token_generation,
            1,
            "the reset's write stands"
        );
    }
}

#[tokio::test]
async fn a_hash_upgrade_at_login_keeps_the_users_sessions() {
    // A user whose bcrypt hash was kept from FastAPI Users, with a session
    // carried over too; the next password login upgrades the hash.
    use axum_users::auth::Strategy;
    use axum_users::store::UserStore;
    use axum_users::user::PasswordHash;
    use axum_users::{UserData, UserModel};

    let app = session_app(LogoutEverywhere::default());
    let store = app.manager.store().clone();
    let bcrypt = PasswordHash::new(bcrypt::hash(PASSWORD, 4).unwrap());
    let user = store
        .create(UserData::new(
            "migrated@example.com",
            bcrypt,
            axum_users::NoFields {},
        ))
        .await
        .unwrap();
    let carried_over = Strategy::<User>::write_token(
        &DatabaseStrategy::new(store.clone()),
        &user,
        &axum_users::session::LoginContext::internal("test"),
    )
    .await
    .unwrap()
    .access_token;
    assert_eq!(app.me_with_session(&carried_over).await, StatusCode::OK);
    app.bearer("migrated@example.com").await;
    let upgraded = store.get(user.id()).await.unwrap().unwrap();
    assert!(
        upgraded
            .data
            .hashed_password
            .as_str()
            .starts_with("$argon2id$"),
        "the login upgraded the hash"
    );
    assert_eq!(
        app.me_with_session(&carried_over).await,
        StatusCode::OK,
        "the same password hashed again ends no session"
    );
    // A new password does.
    let token = app.manager.reset_password_token(&upgraded).unwrap();
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
        app.me_with_session(&carried_over).await,
        StatusCode::UNAUTHORIZED
    );
}
