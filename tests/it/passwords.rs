//! Stored password hashes from elsewhere (bcrypt, FastAPI Users' argon2) log in
//! and are upgraded when weaker than the configured parameters; passwords and
//! hashes never show in `Debug` output.

use axum::http::StatusCode;
use axum_users::password::{Argon2Params, PasswordHasher};
use axum_users::store::{MemoryStore, UserStore};
use axum_users::{NoHooks, Password, User, UserData, UserHooks, UserManager};
use serde_json::{Value, json};

use crate::common::*;

type App = TestApp<MemoryStore<User>>;

/// A user stored with this hash as is (no hashing by the manager).
async fn store_user_with_hash<S: UserStore<User = User>, H: UserHooks<User>>(
    app: &TestApp<S, H>,
    email: &str,
    hash: String,
) -> User {
    app.users
        .manager()
        .store()
        .create(user_data(email, hash))
        .await
        .unwrap()
}

async fn login_status<S: UserStore<User = User>, H: UserHooks<User>>(
    app: &TestApp<S, H>,
    email: &str,
    password: &str,
) -> (StatusCode, Value) {
    app.call(login_request("/auth/jwt/login", email, password))
        .await
}

async fn stored_hash(app: &App, user: &User) -> String {
    app.reload(user)
        .await
        .unwrap()
        .data
        .hashed_password
        .as_str()
        .to_owned()
}

async fn argon2_hash(params: Argon2Params, password: &str) -> String {
    PasswordHasher::builder()
        .params(params)
        .build()
        .hash(&Password::new(password))
        .await
        .unwrap()
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn bcrypt_hash_logs_in_and_is_upgraded_to_argon2id() {
    let app = app();
    let bcrypt_hash = bcrypt::hash(PASSWORD, 4).unwrap();
    assert!(bcrypt_hash.starts_with("$2"));
    let user = store_user_with_hash(&app, "legacy@example.com", bcrypt_hash.clone()).await;

    let (status, body) = login_status(&app, "legacy@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");

    let upgraded = stored_hash(&app, &user).await;
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    assert_ne!(upgraded, bcrypt_hash);

    // The same password still logs in, against the new hash, which is kept.
    let (status, body) = login_status(&app, "legacy@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stored_hash(&app, &user).await, upgraded);
    let (status, body) = login_status(&app, "legacy@example.com", "wrong-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn bcrypt_hash_with_a_wrong_password_answers_400_and_keeps_the_hash() {
    let app = app();
    let bcrypt_hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let user = store_user_with_hash(&app, "legacy@example.com", bcrypt_hash.clone()).await;
    // Compared exactly: another case is another password.
    for wrong in ["wrong-password", "Correct-horse-battery"] {
        let (status, body) = login_status(&app, "legacy@example.com", wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}: {body}");
        assert_eq!(body, json!({"detail": "LOGIN_BAD_CREDENTIALS"}));
    }
    assert_eq!(stored_hash(&app, &user).await, bcrypt_hash);
}

#[tokio::test]
async fn fastapi_users_default_argon2_hash_logs_in_and_is_kept() {
    // FastAPI Users (pwdlib / argon2-cffi) hashes with m=65536, t=3, p=4: stronger
    // than our default configuration (m=19456, t=2, p=1), so it is kept. The app
    // is configured with the default parameters here, not the fast test ones.
    let fastapi_hash = argon2_hash(
        Argon2Params {
            m_kib: 65536,
            t: 3,
            p: 4,
        },
        PASSWORD,
    )
    .await;
    assert!(
        fastapi_hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
        "{fastapi_hash}"
    );

    let manager = UserManager::builder(MemoryStore::<User>::new())
        .hasher(PasswordHasher::default())
        .build();
    assert_eq!(manager.hasher().params(), Argon2Params::default());
    let app = default_params_app(manager);
    let user = store_user_with_hash(&app, "fastapi@example.com", fastapi_hash.clone()).await;

    let (status, body) = login_status(&app, "fastapi@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = app.reload(&user).await.unwrap();
    assert_eq!(stored.data.hashed_password.as_str(), fastapi_hash, "kept");
}

/// The example server's routes over a manager configured by the caller.
fn default_params_app(manager: UserManager<MemoryStore<User>>) -> TestApp<MemoryStore<User>> {
    use axum::Router;
    use axum_users::AxumUsers;
    let (bearer, cookie) = backends();
    let users = AxumUsers::new(manager, vec![bearer.clone(), cookie.clone()]);
    let router = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth/cookie", users.auth_router(&cookie))
        .nest("/auth", users.register_router())
        .nest("/users", users.users_router())
        .layer(users.layer());
    TestApp { router, users }
}

#[tokio::test]
async fn argon2_hash_weaker_than_the_configured_params_is_upgraded() {
    let app = app(); // configured: m=1024, t=1, p=1
    let weak = argon2_hash(
        Argon2Params {
            m_kib: 512,
            t: 1,
            p: 1,
        },
        PASSWORD,
    )
    .await;
    assert!(weak.starts_with("$argon2id$v=19$m=512,t=1,p=1$"), "{weak}");
    let user = store_user_with_hash(&app, "weak@example.com", weak.clone()).await;

    let (status, body) = login_status(&app, "weak@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let upgraded = stored_hash(&app, &user).await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "{upgraded}"
    );

    let (status, body) = login_status(&app, "weak@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stored_hash(&app, &user).await,
        upgraded,
        "no second upgrade"
    );
}

#[tokio::test]
async fn argon2_hash_as_strong_as_the_configured_params_is_kept() {
    let app = app();
    let same = argon2_hash(
        Argon2Params {
            m_kib: 1024,
            t: 1,
            p: 1,
        },
        PASSWORD,
    )
    .await;
    let user = store_user_with_hash(&app, "same@example.com", same.clone()).await;
    let (status, body) = login_status(&app, "same@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stored_hash(&app, &user).await, same);
}

#[tokio::test]
async fn a_wrong_password_against_an_argon2_hash_does_not_upgrade_it() {
    let app = app();
    let weak = argon2_hash(
        Argon2Params {
            m_kib: 512,
            t: 1,
            p: 1,
        },
        PASSWORD,
    )
    .await;
    let user = store_user_with_hash(&app, "weak@example.com", weak.clone()).await;
    let (status, body) = login_status(&app, "weak@example.com", "not-the-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(stored_hash(&app, &user).await, weak);
}

#[tokio::test]
async fn user_debug_output_redacts_the_password_hash() {
    let app = app();
    let user = app
        .create_user("debug@example.com", true, false, false)
        .await;
    let hash = user.data.hashed_password.as_str().to_owned();
    assert!(hash.starts_with("$argon2id$"));
    for shown in [
        format!("{user:?}"),
        format!("{user:#?}"),
        format!("{:?}", user.data),
        format!("{:?}", user.data.hashed_password),
    ] {
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(&hash), "{shown}");
        assert!(!shown.contains("$argon2"), "{shown}");
    }
    // The rest of the user is still there to debug with.
    assert!(format!("{user:?}").contains("debug@example.com"));
}

#[tokio::test]
async fn password_debug_output_does_not_show_the_password() {
    let password = Password::new("secret");
    for shown in [format!("{password:?}"), format!("{password:#?}")] {
        assert!(!shown.contains("secret"), "{shown}");
    }
    assert_eq!(password.expose(), "secret");

    let create = axum_users::UserCreate::<axum_users::NoFields>::new(
        axum_users::Email::parse("debug@example.com").unwrap(),
        "hunter2-hunter2",
    );
    let shown = format!("{create:?}");
    assert!(!shown.contains("hunter2"), "{shown}");

    let update: axum_users::UserUpdate<axum_users::NoFields> =
        serde_json::from_value(json!({"password": "hunter2-hunter2"})).unwrap();
    let shown = format!("{update:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn bcrypt_user_debug_output_redacts_the_hash() {
    let app = app();
    let bcrypt_hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let user = store_user_with_hash(&app, "legacy@example.com", bcrypt_hash.clone()).await;
    let shown = format!("{user:?}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains(&bcrypt_hash), "{shown}");
    // The manager's Debug shows no secrets either.
    let manager: &UserManager<MemoryStore<User>, NoHooks> = app.users.manager();
    let shown = format!("{manager:?}");
    assert!(!shown.contains(&bcrypt_hash), "{shown}");
}

/// A store that deactivates a user right after handing it out by e-mail, as an
/// administrator would while the login verifies the password.
struct DeactivatesAfterRead(MemoryStore<User>);

#[axum_users::async_trait]
impl UserStore for DeactivatesAfterRead {
    type User = User;
    async fn get(&self, id: &uuid::Uuid) -> Result<Option<User>, axum_users::store::StoreError> {
        self.0.get(id).await
    }
    async fn get_by_email(
        &self,
        email: &str,
    ) -> Result<Option<User>, axum_users::store::StoreError> {
        let user = self.0.get_by_email(email).await?;
        if let Some(user) = &user {
            let deactivate = axum_users::store::UserChanges {
                is_active: Some(false),
                ..Default::default()
            };
            self.0.update(&user.id, deactivate).await?;
        }
        Ok(user)
    }
    async fn create(
        &self,
        data: UserData<axum_users::NoFields>,
    ) -> Result<User, axum_users::store::StoreError> {
        self.0.create(data).await
    }
    async fn update(
        &self,
        id: &uuid::Uuid,
        changes: axum_users::store::UserChanges<axum_users::NoFields>,
    ) -> Result<User, axum_users::store::StoreError> {
        self.0.update(id, changes).await
    }
    async fn delete(&self, id: &uuid::Uuid) -> Result<(), axum_users::store::StoreError> {
        self.0.delete(id).await
    }
}

#[tokio::test]
async fn a_hash_upgrade_at_login_never_undoes_a_concurrent_deactivation() {
    let inner = MemoryStore::<User>::new();
    let bcrypt_hash = bcrypt::hash("old-bcrypt-pass", 4).unwrap();
    let user = inner
        .create(user_data("race@example.com", bcrypt_hash))
        .await
        .unwrap();
    let manager = UserManager::builder(DeactivatesAfterRead(inner.clone()))
        .hasher(fast_hasher())
        .build();
    manager
        .authenticate("race@example.com", &Password::new("old-bcrypt-pass"))
        .await
        .unwrap()
        .expect("the password matches");
    let stored = inner.get(&user.id).await.unwrap().unwrap();
    assert!(
        stored
            .data
            .hashed_password
            .as_str()
            .starts_with("$argon2id$"),
        "the hash was upgraded"
    );
    assert!(
        !stored.data.is_active,
        "the deactivation survived the upgrade"
    );
}

// ---------------------------------------------------------------------------
// Every login attempt costs exactly one password verification, account or
// not: an unknown address that skipped the dummy verification would answer
// faster and tell that the account does not exist.

#[tokio::test]
async fn every_login_attempt_costs_exactly_one_password_verification() {
    let app = app();
    app.create_user("known@example.com", true, false, false)
        .await;
    app.create_user("inactive@example.com", false, false, false)
        .await;
    // A hash kept from FastAPI Users (bcrypt): verified, then upgraded.
    store_user_with_hash(
        &app,
        "migrated@example.com",
        bcrypt::hash(PASSWORD, 4).unwrap(),
    )
    .await;
    let hasher = app.users.manager().hasher().clone();
    let cases = [
        (
            "an unknown address",
            "nobody@example.com",
            PASSWORD,
            StatusCode::BAD_REQUEST,
        ),
        (
            "a wrong password",
            "known@example.com",
            "wrong password",
            StatusCode::BAD_REQUEST,
        ),
        (
            "the right password",
            "known@example.com",
            PASSWORD,
            StatusCode::OK,
        ),
        (
            "an inactive user",
            "inactive@example.com",
            PASSWORD,
            StatusCode::BAD_REQUEST,
        ),
        (
            "a wrong password, inactive",
            "inactive@example.com",
            "wrong",
            StatusCode::BAD_REQUEST,
        ),
        (
            "a migrated hash, wrong",
            "migrated@example.com",
            "wrong",
            StatusCode::BAD_REQUEST,
        ),
        (
            "a migrated hash, upgraded",
            "migrated@example.com",
            PASSWORD,
            StatusCode::OK,
        ),
        (
            "unknown again",
            "other@example.com",
            "whatever",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (case, email, password, expected) in cases {
        for route in ["/auth/jwt/login", "/auth/cookie/login"] {
            let before = hasher.stats().verifications;
            let (status, body) = app.call(login_request(route, email, password)).await;
            let expected = match (route, expected) {
                ("/auth/cookie/login", StatusCode::OK) => StatusCode::NO_CONTENT,
                (_, expected) => expected,
            };
            assert_eq!(status, expected, "{case} at {route}: {body}");
            assert_eq!(
                hasher.stats().verifications - before,
                1,
                "{case} at {route}: exactly one verification"
            );
        }
    }
}
