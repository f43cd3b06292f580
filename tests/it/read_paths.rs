//! The reads of an authenticated request beside the pool: the PostgreSQL
//! store's cache and the SQLite store's reads on the worker thread. Neither may
//! ever serve a user or a session that another instance, another process or a
//! hand-written statement has changed or removed.

use std::time::Duration;

use axum_users::store::{
    PostgresStore, Session, SessionKind, SessionStore, UserChanges, UserStore,
};
use axum_users::{User, UserData, UserModel};
use sqlx::{Connection, PgConnection};

use crate::common;
use crate::common::pg::{FreshDatabase, PgSchemas};

fn data(email: &str) -> UserData<axum_users::NoFields> {
    common::user_data(email, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA")
}

fn session(user: &User, digest: &str) -> Session<uuid::Uuid> {
    let mut session = Session::stored(
        format!("id-{digest}"),
        *user.id(),
        SessionKind::Token,
        digest.to_owned(),
    );
    session.backend = "session".to_owned();
    session.expires_at = chrono::DateTime::from_timestamp(i64::from(u32::MAX), 0).unwrap();
    session.binding = "0:0".to_owned();
    session
}

/// Two instances of the application (two stores, two pools) on one schema,
/// and a connection of a third process.
struct TwoInstances {
    a: PostgresStore<User>,
    b: PostgresStore<User>,
    other_process: PgConnection,
    // Last: dropped after the stores.
    _schemas: PgSchemas,
    _database: Option<FreshDatabase>,
}

impl TwoInstances {
    /// Two stores over a schema of their own in the test database.
    async fn start() -> Option<Self> {
        let schemas = PgSchemas::connect().await?;
        let schema = schemas.schema().await;
        let url = schemas.url_for(&schema);
        Some(Self::over(&url, schemas, None).await)
    }

    /// Two stores over a database of their own: no other test's statements
    /// reach their notification channel (a TRUNCATE in another schema of a
    /// shared database announces "everything changed" to every listener of
    /// the database, and empties the caches).
    async fn start_alone() -> Option<Self> {
        let schemas = PgSchemas::connect().await?;
        let database = FreshDatabase::create(&schemas.admin_url()).await;
        let url = database.url.clone();
        Some(Self::over(&url, schemas, Some(database)).await)
    }

    async fn over(url: &str, schemas: PgSchemas, database: Option<FreshDatabase>) -> Self {
        let a = PostgresStore::<User>::connect(url).await.unwrap();
        a.migrate().await.unwrap();
        let b = PostgresStore::<User>::connect(url).await.unwrap();
        let other_process = PgConnection::connect(url).await.unwrap();
        Self {
            a,
            b,
            other_process,
            _schemas: schemas,
            _database: database,
        }
    }

    /// Runs SQL in the third process.
    async fn execute(&mut self, sql: &str) {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.other_process)
            .await
            .unwrap();
    }
}

/// B has the user cached (read twice); A deactivates it; B's very next read,
/// with no wait in between, sees the deactivation. The same for a hand-written
/// UPDATE by another process and for a deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_through_another_instance_or_process_takes_effect_at_once() {
    let Some(mut t) = TwoInstances::start().await else {
        return;
    };
    let user = t.a.create(data("cached@example.com")).await.unwrap();
    let id = *user.id();
    for round in 0..50 {
        // Cached by B.
        assert!(t.b.get(&id).await.unwrap().unwrap().data().is_active);
        assert!(t.b.get(&id).await.unwrap().unwrap().data().is_active);
        // Deactivated through the other instance...
        t.a.update(
            &id,
            UserChanges {
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let seen = t.b.get(&id).await.unwrap().unwrap();
        assert!(
            !seen.data().is_active,
            "round {round}: B served a stale user"
        );
        // ...and back by hand, in another process.
        t.execute(&format!(
            "UPDATE users SET is_active = TRUE WHERE id = '{id}'"
        ))
        .await;
        let seen = t.b.get(&id).await.unwrap().unwrap();
        assert!(
            seen.data().is_active,
            "round {round}: B missed a hand-written UPDATE"
        );
    }
    t.execute(&format!("DELETE FROM users WHERE id = '{id}'"))
        .await;
    assert!(
        t.b.get(&id).await.unwrap().is_none(),
        "B served a user deleted by another process"
    );
}

/// B has the session cached; A logs it out (or another process deletes it):
/// B's next read finds no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_through_another_instance_or_process_ends_at_once() {
    let Some(mut t) = TwoInstances::start().await else {
        return;
    };
    let user = t.a.create(data("session@example.com")).await.unwrap();
    t.a.create_session(session(&user, "d1")).await.unwrap();
    t.a.create_session(session(&user, "d2")).await.unwrap();
    t.a.create_session(session(&user, "d3")).await.unwrap();
    for digest in ["d1", "d2", "d3"] {
        assert!(t.b.session_by_token(digest).await.unwrap().is_some());
        assert!(t.b.session_by_token(digest).await.unwrap().is_some());
    }
    assert!(t.a.delete_session("id-d1").await.unwrap());
    assert!(t.b.session_by_token("d1").await.unwrap().is_none());
    t.execute("DELETE FROM access_tokens WHERE digest = 'd2'")
        .await;
    assert!(t.b.session_by_token("d2").await.unwrap().is_none());
    // Deleting the user takes its sessions with it (ON DELETE CASCADE).
    t.a.delete(user.id()).await.unwrap();
    assert!(t.b.session_by_token("d3").await.unwrap().is_none());
    assert!(t.b.get(user.id()).await.unwrap().is_none());
}

/// The cache is really used, and what keeps it right is the announcement of
/// every change: with the trigger off, a change made behind B's back is not
/// seen (B serves its cached row); with the trigger on again, the next change is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_serves_cached_users_and_only_the_triggers_announcements_refresh_them() {
    // Alone: another test's announcement would empty B's cache.
    let Some(mut t) = TwoInstances::start_alone().await else {
        return;
    };
    let user = t.a.create(data("trigger@example.com")).await.unwrap();
    let id = *user.id();
    // The creation's announcement may reach B after B cached the row, and
    // empty that entry. A change B must see, announced after it, is a fence:
    // announcements arrive in order, so once B serves it, none is pending.
    t.execute(&format!(
        "UPDATE users SET is_verified = TRUE WHERE id = '{id}'"
    ))
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !t.b.get(&id).await.unwrap().unwrap().data().is_verified {
        assert!(
            std::time::Instant::now() < deadline,
            "B never saw an announced change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(t.b.get(&id).await.unwrap().unwrap().data().is_active);
    t.execute("ALTER TABLE users DISABLE TRIGGER axum_users_user_changed")
        .await;
    t.execute(&format!(
        "UPDATE users SET is_active = FALSE WHERE id = '{id}'"
    ))
    .await;
    assert!(
        t.b.get(&id).await.unwrap().unwrap().data().is_active,
        "B read the database instead of its cache"
    );
    // B without its cache reads the database.
    let uncached = t.b.clone().cached_reads(false);
    assert!(!uncached.get(&id).await.unwrap().unwrap().data().is_active);
    t.execute("ALTER TABLE users ENABLE TRIGGER axum_users_user_changed")
        .await;
    t.execute(&format!(
        "UPDATE users SET is_superuser = TRUE WHERE id = '{id}'"
    ))
    .await;
    let seen = t.b.get(&id).await.unwrap().unwrap();
    assert!(!seen.data().is_active && seen.data().is_superuser);
}

/// Reads racing writes: whatever interleaving, once a write has returned,
/// no read that starts afterwards, on either instance, sees the row before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_racing_writes_never_see_a_row_older_than_the_last_write_returned() {
    let Some(t) = TwoInstances::start().await else {
        return;
    };
    let user = t.a.create(data("race@example.com")).await.unwrap();
    let id = *user.id();
    let readers: Vec<_> = [t.a.clone(), t.b.clone(), t.b.clone(), t.a.clone()]
        .into_iter()
        .map(|store| {
            tokio::spawn(async move {
                for _ in 0..200 {
                    let _ = store.get(&id).await.unwrap();
                }
            })
        })
        .collect();
    for generation in 1..=40u32 {
        let writer = if generation % 2 == 0 { &t.a } else { &t.b };
        let fields = UserChanges {
            is_verified: Some(generation % 2 == 0),
            bump_token_generation: true,
            ..Default::default()
        };
        writer.update(&id, fields).await.unwrap();
        for store in [&t.a, &t.b] {
            let seen = store.get(&id).await.unwrap().unwrap();
            assert_eq!(
                seen.data().token_generation,
                generation,
                "a read after the write returned saw an older row"
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for reader in readers {
        reader.await.unwrap();
    }
}
