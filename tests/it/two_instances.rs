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

use crate::common::pg::{FreshDatabase, POSTGRES_URL};
use crate::common::process::{Credential, ExampleServer, Req, Resp};
use crate::common::services::{service_url, unreachable_service};
use crate::common::smtp::SmtpSink;

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

/// An address no other test (nor an earlier run, whose counters may still
/// be in Redis) uses.
fn unique_email(who: &str) -> String {
    format!("{who}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// `n` logins of `email` on `server` with a wrong password, each answered
/// 400 `LOGIN_BAD_CREDENTIALS`.
async fn fail_logins(server: &ExampleServer, email: &str, n: usize) {
    for i in 1..=n {
        let response = server.login("jwt", email, "wrong-password-0").await;
        assert_eq!(
            (response.status, response.json()),
            (400, json!({"detail": "LOGIN_BAD_CREDENTIALS"})),
            "wrong password #{i} for {email} on {}",
            server.name()
        );
    }
}

/// Fails unless `response` is 429 `LOGIN_TOO_MANY_ATTEMPTS` with a
/// `Retry-After` of 1 to 300 seconds (the default `LOGIN_THROTTLE`, 5/300).
#[track_caller]
fn assert_locked(response: &Resp, what: &str) {
    assert_eq!(
        (response.status, response.json()),
        (429, json!({"detail": "LOGIN_TOO_MANY_ATTEMPTS"})),
        "{what}"
    );
    let seconds: Option<u64> = response
        .header("retry-after")
        .and_then(|value| value.parse().ok());
    assert!(
        seconds.is_some_and(|s| (1..=300).contains(&s)),
        "{what}: Retry-After {:?}",
        response.header("retry-after")
    );
}

#[track_caller]
fn assert_logged_in(response: &Resp, what: &str) {
    assert_eq!(response.status, 200, "{what}: {}", response.describe());
}

/// CONTRACT-accounts §C: with Redis configured, the login throttle's counts
/// and the mail cap are shared by every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_share_the_login_throttle_and_the_mail_cap() {
    let Some(postgres_url) = service_url(POSTGRES_URL, "PostgreSQL") else {
        return;
    };
    let Some(redis_url) = service_url(REDIS_URL, "Redis") else {
        return;
    };
    assert_redis_answers(&redis_url).await;
    let mut sink = SmtpSink::start().await;
    let database = FreshDatabase::create(&postgres_url).await;
    let secret = axum_users::tokens::random_token(48).expect("a random secret");
    let smtp_url = sink.url();
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("SECRET", secret.as_str()),
        ("SMTP_URL", smtp_url.as_str()),
    ];
    let mut a = ExampleServer::spawn("A", &env);
    let mut b = ExampleServer::spawn("B", &env);
    a.wait_ready().await;
    b.wait_ready().await;
    // Unique addresses: the counters live in the machine's Redis, beside
    // those of other tests and runs.
    let locked = unique_email("locked");
    let cleared = unique_email("cleared");
    let capped = unique_email("capped");
    for email in [&locked, &cleared, &capped] {
        let registered = a.register(email, PASSWORD).await;
        assert_eq!(registered.status, 201, "{}", registered.describe());
    }

    // 3 failures on A and 2 on B lock the address on both, even with the
    // right password.
    fail_logins(&a, &locked, 3).await;
    fail_logins(&b, &locked, 2).await;
    for server in [&a, &b] {
        assert_locked(
            &server.login("jwt", &locked, PASSWORD).await,
            &format!(
                "the right password on {} after 3 + 2 failures",
                server.name()
            ),
        );
    }
    // An unknown address the same way.
    let unknown = unique_email("nobody");
    fail_logins(&b, &unknown, 3).await;
    fail_logins(&a, &unknown, 2).await;
    for server in [&a, &b] {
        assert_locked(
            &server.login("jwt", &unknown, PASSWORD).await,
            &format!(
                "an unknown address on {} after 3 + 2 failures",
                server.name()
            ),
        );
    }

    // A success on A before the limit clears the count B sees: 4 failures
    // and a success on A, then 4 failures and a success on B, all allowed
    // (9 attempts without the clearing).
    fail_logins(&a, &cleared, 3).await;
    fail_logins(&b, &cleared, 1).await;
    assert_logged_in(
        &a.login("jwt", &cleared, PASSWORD).await,
        "the right password on A after 4 failures",
    );
    fail_logins(&b, &cleared, 4).await;
    assert_logged_in(
        &b.login("jwt", &cleared, PASSWORD).await,
        "the right password on B after A's success and 4 failures",
    );

    // The mail cap: 2 reset requests on A and 2 on B send 3 mails in all.
    for server in [&a, &a, &b, &b] {
        let response = server
            .call(&Req::json(
                "POST",
                "/auth/forgot-password",
                &json!({ "email": capped }),
            ))
            .await;
        assert_eq!(
            response.status,
            202,
            "forgot-password on {}: {}",
            server.name(),
            response.describe()
        );
    }
    for i in 1..=3 {
        let mail = sink.expect_mail(&format!("reset mail #{i}")).await;
        assert_eq!(mail.recipients, [capped.as_str()], "reset mail #{i}");
        assert!(mail.token().is_some(), "reset mail #{i} without a token");
    }
    sink.assert_no_mail("a fourth reset mail across A and B")
        .await;
}

/// Without Redis each instance counts in its own memory: 5 failures on A
/// lock the address on A only; B locks it after its own 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_two_instances_count_failed_logins_each_on_its_own() {
    let Some(postgres_url) = service_url(POSTGRES_URL, "PostgreSQL") else {
        return;
    };
    let database = FreshDatabase::create(&postgres_url).await;
    let secret = axum_users::tokens::random_token(48).expect("a random secret");
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("SECRET", secret.as_str()),
    ];
    let mut a = ExampleServer::spawn("A", &env);
    let mut b = ExampleServer::spawn("B", &env);
    a.wait_ready().await;
    b.wait_ready().await;
    let email = unique_email("local");
    let registered = a.register(&email, PASSWORD).await;
    assert_eq!(registered.status, 201, "{}", registered.describe());

    fail_logins(&a, &email, 5).await;
    assert_locked(
        &a.login("jwt", &email, PASSWORD).await,
        "the right password on A after 5 failures on A",
    );
    // B saw none of them: 5 failures of its own (not 429), then locked.
    fail_logins(&b, &email, 5).await;
    assert_locked(
        &b.login("jwt", &email, PASSWORD).await,
        "the right password on B after 5 failures on B",
    );
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
