//! The shared store suite against the provided stores, and the SQLite and
//! PostgreSQL stores' opening and migration behaviour.

use std::sync::Mutex;

use axum_users::store::{MemoryStore, PostgresStore, SqliteStore, StoreError, UserStore, suite};
use axum_users::{User, UserData, UserModel};
use tempfile::TempDir;

use crate::common;

fn data(email: &str) -> UserData<axum_users::NoFields> {
    common::user_data(email, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA")
}

/// Fresh, migrated SQLite stores, each in a database file of its own; the
/// files live until this is dropped, at the end of the test.
#[derive(Default)]
struct SqliteFiles(Mutex<Vec<TempDir>>);

impl SqliteFiles {
    fn store(&self) -> impl std::future::Future<Output = SqliteStore<User>> + use<> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        self.0.lock().unwrap().push(dir);
        async move {
            let store = SqliteStore::<User>::open(&path).await.unwrap();
            store.migrate().await.unwrap();
            store
        }
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[tokio::test]
async fn memory_store_passes_the_store_suite() {
    suite::run(|| async { MemoryStore::<User>::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_oauth_account_suite() {
    suite::run_oauth(|| async { MemoryStore::<User>::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_the_oauth_account_suite() {
    let files = SqliteFiles::default();
    suite::run_oauth(|| files.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_invitation_suite() {
    suite::run_invitations(|| async { MemoryStore::<User>::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_on_a_fresh_file_passes_the_invitation_suite() {
    let files = SqliteFiles::default();
    suite::run_invitations(|| files.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_reading_through_the_pool_only_passes_the_invitation_suite() {
    let files = SqliteFiles::default();
    suite::run_invitations(|| {
        let store = files.store();
        async move { store.await.inline_reads(false) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_mfa_suite() {
    suite::run_mfa(|| async { MemoryStore::<User>::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_on_a_fresh_file_passes_the_mfa_suite() {
    let files = SqliteFiles::default();
    suite::run_mfa(|| files.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_challenge_suite() {
    suite::run_challenges(|| async { MemoryStore::<User>::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_on_a_fresh_file_passes_the_challenge_suite() {
    let files = SqliteFiles::default();
    suite::run_challenges(|| files.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_on_a_fresh_file_passes_the_store_suite() {
    let files = SqliteFiles::default();
    suite::run(|| files.store()).await;
    assert!(
        files.count() >= 7,
        "the suite asked for a fresh store per check"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_reading_through_the_pool_only_passes_the_store_suite() {
    let files = SqliteFiles::default();
    suite::run(|| {
        let store = files.store();
        async move { store.await.inline_reads(false) }
    })
    .await;
}

/// A database that another connection has locked against readers (rollback
/// journal, `BEGIN EXCLUSIVE`): the inline read, which never waits, gives way
/// to the pool, which waits for the lock and then answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_read_that_finds_the_database_locked_waits_for_it_through_the_pool() {
    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .unwrap();
    let store = SqliteStore::<User>::from_pool(pool);
    store.migrate().await.unwrap();
    let user = store.create(data("locked@example.com")).await.unwrap();
    // Read once, so that this thread's inline connection is open and warm.
    assert!(store.get(user.id()).await.unwrap().is_some());

    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    });
    let started = std::time::Instant::now();
    let read = store.get(user.id()).await;
    let waited = started.elapsed();
    release.await.unwrap();
    let found = read.expect("the read waits for the lock instead of failing");
    assert_eq!(
        found.map(|u| u.data().email.clone()).as_deref(),
        Some("locked@example.com")
    );
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "the read did not wait for the lock ({waited:?}): it was not blocked at all"
    );
}

/// What a store writes through its pool, its inline reads see at once, from
/// every thread (each has its own connection): no read serves a stale user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_inline_reads_see_every_committed_write_at_once_on_every_thread() {
    let files = SqliteFiles::default();
    let store = files.store().await;
    let user = store.create(data("fresh@example.com")).await.unwrap();
    for round in 0..20u32 {
        let deactivate = round % 2 == 0;
        store
            .update(
                user.id(),
                axum_users::store::UserChanges {
                    is_active: Some(!deactivate),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let reads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let id = *user.id();
                tokio::spawn(async move { store.get(&id).await.unwrap().unwrap().data().is_active })
            })
            .collect();
        for read in reads {
            assert_eq!(read.await.unwrap(), !deactivate, "round {round}");
        }
    }
    store.delete(user.id()).await.unwrap();
    assert!(store.get(user.id()).await.unwrap().is_none());
}

/// Two users of `store`, whose sessions the session suite stores.
async fn two_user_ids<S: UserStore<User = User>>(store: &S) -> [uuid::Uuid; 2] {
    let a = store.create(data("a@example.com")).await.unwrap();
    let b = store.create(data("b@example.com")).await.unwrap();
    [a.id, b.id]
}

#[tokio::test]
async fn memory_store_passes_the_session_suite() {
    let store = MemoryStore::<User>::new();
    let users = two_user_ids(&store).await;
    suite::sessions(&store, users, suite::Expiry::Deleted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_on_a_fresh_file_passes_the_session_suite() {
    let files = SqliteFiles::default();
    let store = files.store().await;
    let users = two_user_ids(&store).await;
    suite::sessions(&store, users, suite::Expiry::Deleted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_reading_through_the_pool_only_passes_the_session_suite() {
    let files = SqliteFiles::default();
    let store = files.store().await.inline_reads(false);
    let users = two_user_ids(&store).await;
    suite::sessions(&store, users, suite::Expiry::Deleted).await;
}

#[tokio::test]
async fn memory_store_samples_one_hash_of_each_class() {
    suite::run_hash_samples(|| async { MemoryStore::<User>::new() }).await;
}

#[tokio::test]
async fn sqlite_store_samples_one_hash_of_each_class() {
    let files = SqliteFiles::default();
    suite::run_hash_samples(|| files.store()).await;
}

#[tokio::test]
async fn sqlite_connect_with_an_absolute_sqlite_url_creates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("created.db");
    assert!(!path.exists());
    let url = format!("sqlite://{}", path.display());
    assert!(url.starts_with("sqlite:///"), "{url}");

    let store = SqliteStore::<User>::connect(&url).await.unwrap();
    assert!(path.exists(), "connect creates {}", path.display());
    store.migrate().await.unwrap();

    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    let found = store.get(user.id()).await.unwrap().expect("user stored");
    assert_eq!(found.email(), "arthur@camelot.bt");

    // A second connection to the same URL sees the same data (it is the file).
    let again = SqliteStore::<User>::connect(&url).await.unwrap();
    assert!(
        again
            .get_by_email("ARTHUR@camelot.bt")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn sqlite_migrate_twice_is_idempotent_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::<User>::open(&path).await.unwrap();
    store.migrate().await.unwrap();
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();

    store.migrate().await.unwrap();
    assert!(store.get(user.id()).await.unwrap().is_some());

    // A new process (a new pool on the same file) migrating again is fine too.
    drop(store);
    let reopened = SqliteStore::<User>::open(&path).await.unwrap();
    reopened.migrate().await.unwrap();
    reopened.migrate().await.unwrap();
    let kept = reopened.get(user.id()).await.unwrap().expect("data kept");
    assert_eq!(kept.email(), "arthur@camelot.bt");
    // The unique index is still there after re-migrating.
    assert!(reopened.create(data("Arthur@camelot.bt")).await.is_err());
}

// ---------------------------------------------------------------------------
// PostgreSQL (AXUM_USERS_TEST_POSTGRES_URL; skipped without it unless
// AXUM_USERS_REQUIRE_SERVICES=1). Every store gets a fresh schema.

use crate::common::pg::PgSchemas;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_on_a_fresh_schema_passes_the_store_suite() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    suite::run(|| schemas.store::<User>()).await;
    assert!(
        schemas.count() >= 7,
        "the suite asked for a fresh store per check"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_on_a_fresh_schema_passes_the_session_suite() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    let store = schemas.store::<User>().await;
    let users = two_user_ids(&store).await;
    suite::sessions(&store, users, suite::Expiry::Deleted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_without_its_read_cache_passes_the_session_suite() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    let store = schemas.store::<User>().await.cached_reads(false);
    let users = two_user_ids(&store).await;
    suite::sessions(&store, users, suite::Expiry::Deleted).await;
}

#[tokio::test]
async fn postgres_store_samples_one_hash_of_each_class() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    suite::run_hash_samples(|| schemas.store::<User>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_passes_the_oauth_account_suite() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    suite::run_oauth(|| schemas.store::<User>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_on_a_fresh_schema_passes_the_invitation_suite() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    suite::run_invitations(|| schemas.store::<User>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_on_a_fresh_schema_passes_the_mfa_suite() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    suite::run_mfa(|| schemas.store::<User>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_on_a_fresh_schema_passes_the_challenge_suite() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    suite::run_challenges(|| schemas.store::<User>()).await;
}

#[tokio::test]
async fn postgres_keeps_non_ascii_letters_apart_whatever_the_collation() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    let store = schemas.store::<User>().await;
    // lower() would fold Ä to ä under most collations; the contract folds ASCII only.
    let upper = store.create(data("ÄBC@example.com")).await.unwrap();
    let lower = store.create(data("äbc@example.com")).await.unwrap();
    assert_ne!(upper.id(), lower.id());
    let found = |email: &'static str| {
        let store = store.clone();
        async move { store.get_by_email(email).await.unwrap().map(|u| u.id) }
    };
    assert_eq!(found("Äbc@EXAMPLE.com").await, Some(upper.id));
    assert_eq!(found("äBC@example.COM").await, Some(lower.id));
    assert_eq!(found("ÄBC@example.com").await, Some(upper.id));
    // ASCII letters around them still fold.
    let again = store.create(data("Äbc@Example.com")).await;
    assert!(matches!(again, Err(StoreError::EmailTaken)), "{again:?}");
    // Other scripts are not folded either.
    store.create(data("Σίσυφος@example.gr")).await.unwrap();
    store.create(data("σίσυφος@example.gr")).await.unwrap();
}

#[tokio::test]
async fn postgres_lookup_of_an_address_with_nul_finds_nobody_instead_of_failing() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    let store = schemas.store::<User>().await;
    store.create(data("arthur@camelot.bt")).await.unwrap();
    let found = store.get_by_email("arthur@camelot.bt\0").await;
    assert!(matches!(found, Ok(None)), "{found:?}");
}

#[tokio::test]
async fn postgres_migrate_twice_is_idempotent_and_keeps_the_data() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    let schema = schemas.schema().await;
    let url = schemas.url_for(&schema);
    let store = PostgresStore::<User>::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.get(user.id()).await.unwrap().is_some());

    // Another instance (a new pool) migrating again, twice at once, is fine too.
    let again = PostgresStore::<User>::connect(&url).await.unwrap();
    let (a, b) = tokio::join!(again.migrate(), store.migrate());
    a.unwrap();
    b.unwrap();
    let kept = again.get(user.id()).await.unwrap().expect("data kept");
    assert_eq!(kept.email(), "arthur@camelot.bt");
    // The unique index is still there after re-migrating.
    let taken = again.create(data("Arthur@camelot.bt")).await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");

    // The crate's migrations are recorded in their own table, in the schema.
    let (versions,): (i64,) = sqlx::query_as("SELECT count(*) FROM _axum_users_migrations")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert!(versions >= 1);
}

#[tokio::test]
async fn postgres_connect_to_a_closed_port_is_unavailable_within_the_timeout() {
    // Needs no server: nothing listens on port 1.
    let started = std::time::Instant::now();
    let result = PostgresStore::<User>::connect("postgres://postgres@127.0.0.1:1/test").await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_database_that_does_not_answer_gives_503_service_unavailable_in_bounded_time() {
    use axum::http::StatusCode;
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let store = SqliteStore::<User>::open(&path).await.unwrap();
    store.migrate().await.unwrap();
    let app = common::app_with(store, axum_users::NoHooks, common::Options::default());
    // Another process holds the write lock and never lets go.
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (status, body) = app
        .call(common::json_request(
            "POST",
            "/auth/register",
            None,
            &serde_json::json!({"email": "late@example.com", "password": common::PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body, serde_json::json!({"detail": "SERVICE_UNAVAILABLE"}));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // Service resumes by itself once the database answers again.
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let (status, body) = app
        .call(common::json_request(
            "POST",
            "/auth/register",
            None,
            &serde_json::json!({"email": "late@example.com", "password": common::PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

// ---------------------------------------------------------------------------
// migrate() where the tables cannot go: it says what to do instead of failing
// with a raw database error.

#[tokio::test]
async fn sqlite_migrate_refuses_an_unrelated_users_table_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::<User>::open(dir.path().join("app.db"))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        .execute(store.pool())
        .await
        .unwrap();
    match store.migrate().await {
        Err(StoreError::Schema(message)) => {
            assert!(message.contains("`users`"), "{message}");
            assert!(
                message.contains("`email`"),
                "names a missing column: {message}"
            );
            assert!(message.contains("database file of its own"), "{message}");
        }
        other => panic!("an unrelated users table: {other:?}"),
    }
    // Its own tables migrate again as before.
    let ours = SqliteStore::<User>::open(dir.path().join("ours.db"))
        .await
        .unwrap();
    ours.migrate().await.unwrap();
    ours.migrate().await.unwrap();
}

#[tokio::test]
async fn postgres_migrate_refuses_an_unrelated_users_table_and_says_what_to_do() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    let schema = schemas.schema().await;
    let store = PostgresStore::<User>::connect(&schemas.url_for(&schema))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT)")
        .execute(store.pool())
        .await
        .unwrap();
    match store.migrate().await {
        Err(StoreError::Schema(message)) => {
            assert!(message.contains(&schema), "names the schema: {message}");
            assert!(
                message.contains("`email`"),
                "names a missing column: {message}"
            );
            assert!(
                message.contains("search_path"),
                "says what to do: {message}"
            );
        }
        other => panic!("an unrelated users table: {other:?}"),
    }
}

#[tokio::test]
async fn postgres_migrate_with_a_search_path_naming_no_schema_says_to_create_it() {
    let Some(schemas) = PgSchemas::connect().await else {
        return;
    };
    let store = PostgresStore::<User>::connect(&schemas.url_for("no_such_schema_for_axum_users"))
        .await
        .unwrap();
    match store.migrate().await {
        Err(StoreError::Schema(message)) => {
            assert!(
                message.contains("no_such_schema_for_axum_users"),
                "{message}"
            );
            assert!(message.contains("CREATE SCHEMA"), "{message}");
        }
        other => panic!("a search_path without the schema: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Redis (AXUM_USERS_TEST_REDIS_URL; skipped without it unless
// AXUM_USERS_REQUIRE_SERVICES=1). A key prefix of the run's own, whose keys
// are deleted at the end, also when the suite fails.

/// The Redis session store: users live elsewhere, so any two ids do; ended
/// sessions are forgotten by their keys' TTLs (one second for a session
/// stored or rotated already ended) rather than by `delete_expired_sessions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_session_store_passes_the_session_suite() {
    use axum_users::redis::{self, AsyncCommands};
    use axum_users::store::RedisSessionStore;

    use crate::common::services::{service_url, unreachable_service};

    let Some(url) = service_url("AXUM_USERS_TEST_REDIS_URL", "Redis") else {
        return;
    };
    let prefix = format!("axum_users_test:{}:", uuid::Uuid::new_v4().simple());
    let store = RedisSessionStore::connect(&url)
        .await
        .unwrap_or_else(|e| unreachable_service("Redis", &e))
        .prefix(prefix.as_str());
    let users = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    // On a task of its own, so that a failure still cleans up below.
    let outcome = tokio::spawn(async move {
        let expiry = suite::Expiry::ForgottenWithin(std::time::Duration::from_secs(3));
        suite::sessions(&store, users, expiry).await;
    })
    .await;

    let mut raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut raw)
        .await
        .unwrap();
    if !keys.is_empty() {
        let () = raw.del(keys).await.unwrap();
    }
    if let Err(failed) = outcome {
        std::panic::resume_unwind(failed.into_panic());
    }
}
