//! Several instances, one service (issue 5, point 7): two example-server
//! processes sharing the machine's PostgreSQL (a database of this run's own,
//! created empty, both servers migrating it at once) and Redis behave as one: a
//! token issued by one works on the other, and a logout or a password change on
//! one revokes on both.
//!
//! Needs `AXUM_USERS_TEST_POSTGRES_URL` and `AXUM_USERS_TEST_REDIS_URL`; without
//! them the test prints that it was skipped and passes, unless
//! `AXUM_USERS_REQUIRE_SERVICES=1`.

use std::time::Duration;

use axum_users::redis;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::common::pg::POSTGRES_URL;
use crate::common::process::{Credential, ExampleServer, Req, Resp};
use crate::common::services::{service_url, unreachable_service};

const REDIS_URL: &str = "AXUM_USERS_TEST_REDIS_URL";
const EMAIL: &str = "two-instances@example.com";
const PASSWORD: &str = "first-password-1";
const NEW_PASSWORD: &str = "second-password-2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_and_a_revocation_on_one_holds_on_both() {
    let Some(postgres_url) = service_url(POSTGRES_URL, "PostgreSQL") else {
        return;
    };
    let Some(redis_url) = service_url(REDIS_URL, "Redis") else {
        return;
    };
    assert_redis_answers(&redis_url).await;
    // Declared first, dropped last: after both servers are gone.
    let database = FreshDatabase::create(&postgres_url).await;
    let secret = axum_users::tokens::random_token(48).expect("a random secret");
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("SECRET", secret.as_str()),
    ];
    // Both start at once on the empty database: both migrate it.
    let mut a = ExampleServer::spawn("A", &env);
    let mut b = ExampleServer::spawn("B", &env);
    a.wait_ready().await;
    b.wait_ready().await;

    // Registered on A, the user is B's too.
    let registered = a.register(EMAIL, PASSWORD).await;
    assert_eq!(
        registered.status,
        201,
        "register on A: {}",
        registered.describe()
    );
    let id = registered.json()["id"].clone();

    // A token from A's JWT, session and Redis logins works on B.
    let jwt = a.sign_in("jwt", EMAIL, PASSWORD).await;
    let session = a.sign_in("session", EMAIL, PASSWORD).await;
    let redis_token = a.sign_in("redis", EMAIL, PASSWORD).await;
    for (what, credential) in [
        ("A's JWT", &jwt),
        ("A's database session", &session),
        ("A's Redis token", &redis_token),
    ] {
        assert_is_user(&b.me(credential).await, &id, &format!("{what} on B"));
    }

    // Logging out on B ends the session and the Redis token on A too.
    for (backend, credential) in [("session", &session), ("redis", &redis_token)] {
        let logout = b.logout(backend, credential).await;
        assert_eq!(
            logout.status,
            204,
            "logout of A's {backend} token on B: {}",
            logout.describe()
        );
        for server in [&a, &b] {
            assert_unauthorized(
                &server.me(credential).await,
                &format!(
                    "A's {backend} token on {} after a logout on B",
                    server.name()
                ),
            );
        }
    }

    // Sessions from B work on A; a password change on A ends them on B.
    let session = b.sign_in("session", EMAIL, PASSWORD).await;
    let redis_token = b.sign_in("redis", EMAIL, PASSWORD).await;
    for (what, credential) in [
        ("B's database session", &session),
        ("B's Redis token", &redis_token),
    ] {
        assert_is_user(&a.me(credential).await, &id, &format!("{what} on A"));
    }
    let changed = a.patch_me(&jwt, &json!({ "password": NEW_PASSWORD })).await;
    assert_is_user(&changed, &id, "the password change on A");
    for (what, credential) in [
        ("B's database session", &session),
        ("B's Redis token", &redis_token),
    ] {
        for server in [&b, &a] {
            assert_unauthorized(
                &server.me(credential).await,
                &format!("{what} on {} after a password change on A", server.name()),
            );
        }
    }

    // B checks the new password, not the old one.
    let old = b.login("redis", EMAIL, PASSWORD).await;
    assert_eq!(
        (old.status, old.json()),
        (400, json!({"detail": "LOGIN_BAD_CREDENTIALS"})),
        "the old password on B"
    );
    let fresh = b.sign_in("redis", EMAIL, NEW_PASSWORD).await;
    assert_is_user(
        &a.me(&fresh).await,
        &id,
        "a Redis token from B's login with the new password, on A",
    );
    let logout = a.logout("redis", &fresh).await;
    assert_eq!(logout.status, 204, "logout on A: {}", logout.describe());
}

/// Refresh-token sessions (`/auth/token`) on two instances sharing one
/// PostgreSQL and Redis: a refresh on one is honoured on the other, a reuse
/// detected on one ends the session on both, and a revoke on one ends the
/// session on both at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_refresh_sessions_and_their_revocation() {
    let Some(postgres_url) = service_url(POSTGRES_URL, "PostgreSQL") else {
        return;
    };
    let Some(redis_url) = service_url(REDIS_URL, "Redis") else {
        return;
    };
    assert_redis_answers(&redis_url).await;
    let database = FreshDatabase::create(&postgres_url).await;
    let secret = axum_users::tokens::random_token(48).expect("a random secret");
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("SECRET", secret.as_str()),
    ];
    let mut a = ExampleServer::spawn("A", &env);
    let mut b = ExampleServer::spawn("B", &env);
    a.wait_ready().await;
    b.wait_ready().await;
    let registered = a.register(EMAIL, PASSWORD).await;
    assert_eq!(registered.status, 201, "{}", registered.describe());
    let id = registered.json()["id"].clone();

    // Logged in on A; refreshed on B; the new tokens work on A.
    let login = a.login("token", EMAIL, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.describe());
    let first = login.json()["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = refresh(&b, &first).await;
    assert_eq!(
        refreshed.status,
        200,
        "refresh on B: {}",
        refreshed.describe()
    );
    let second = refreshed.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let access = Credential::Bearer(
        refreshed.json()["access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_is_user(&a.me(&access).await, &id, "B's refreshed access token on A");
    let again = refresh(&a, &second).await;
    assert_eq!(
        again.status,
        200,
        "B's refresh token on A: {}",
        again.describe()
    );
    let third = again.json()["refresh_token"].as_str().unwrap().to_owned();
    let access = Credential::Bearer(again.json()["access_token"].as_str().unwrap().to_owned());

    // The token rotated on B, presented on A: reuse ends the session on both.
    let reused = refresh(&a, &second).await;
    assert_eq!(
        (reused.status, reused.json()),
        (401, json!({"detail": "REFRESH_TOKEN_INVALID"})),
        "a rotated token presented again on A"
    );
    for server in [&a, &b] {
        assert_unauthorized(
            &server.me(&access).await,
            &format!(
                "the session's access token on {} after reuse",
                server.name()
            ),
        );
        let newest = refresh(server, &third).await;
        assert_eq!(
            newest.status,
            401,
            "the newest refresh token on {}",
            server.name()
        );
    }

    // A session listed on B and revoked on A ends on both at once.
    let login = b.login("token", EMAIL, PASSWORD).await;
    let access = Credential::Bearer(login.json()["access_token"].as_str().unwrap().to_owned());
    let refresh_token = login.json()["refresh_token"].as_str().unwrap().to_owned();
    let other = a.sign_in("jwt", EMAIL, PASSWORD).await;
    let listed = b
        .call(&Req::new("GET", "/users/me/sessions").with(&access))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.describe());
    let sessions = listed.json();
    let current: Vec<&Value> = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter(|session| session["current"] == json!(true))
        .collect();
    assert_eq!(current.len(), 1, "one current session: {sessions}");
    let session_id = current[0]["id"].as_str().unwrap().to_owned();
    let revoked = a
        .call(&Req::new("DELETE", &format!("/users/me/sessions/{session_id}")).with(&other))
        .await;
    assert_eq!(revoked.status, 204, "revoke on A: {}", revoked.describe());
    for server in [&b, &a] {
        assert_unauthorized(
            &server.me(&access).await,
            &format!("a revoked session's access token on {}", server.name()),
        );
        assert_eq!(refresh(server, &refresh_token).await.status, 401);
    }
}

/// `POST /auth/token/refresh`.
async fn refresh(server: &ExampleServer, token: &str) -> Resp {
    server
        .call(&Req::json(
            "POST",
            "/auth/token/refresh",
            &json!({ "refresh_token": token }),
        ))
        .await
}

fn assert_is_user(response: &Resp, id: &Value, what: &str) {
    assert_eq!(response.status, 200, "{what}: {}", response.describe());
    assert_eq!(&response.json()["id"], id, "{what}: the user");
}

fn assert_unauthorized(response: &Resp, what: &str) {
    assert_eq!(
        (response.status, response.json()),
        (401, json!({"detail": "Unauthorized"})),
        "{what}: must be revoked"
    );
}

/// Fails the test, as a configured but unreachable service does, unless Redis
/// answers PING.
async fn assert_redis_answers(url: &str) {
    let ping = async {
        let client = redis::Client::open(url)?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => unreachable_service("Redis", &e),
        Err(_) => unreachable_service("Redis", &"no answer to PING within 5 s"),
    }
}

/// A database of this run's own on the server of `AXUM_USERS_TEST_POSTGRES_URL`,
/// created empty and dropped (with `FORCE`) on drop, even when the test panics.
struct FreshDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    url: String,
}

impl FreshDatabase {
    async fn create(admin_url: &str) -> FreshDatabase {
        let mut admin = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| unreachable_service("PostgreSQL", &e));
        let name = format!("axum_users_two_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        FreshDatabase {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let drop_database = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: a
        // thread with a runtime of its own does the clean-up.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(drop_database))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("could not drop the database {}: {e}", self.name);
        }
    }
}

/// `url` with its database (the path) replaced by `name`, the query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "db"),
        "postgres://postgres@127.0.0.1:5432/db"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "db"),
        "postgres://u:p@h/db?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "db"),
        "postgres://h:5432/db"
    );
}
