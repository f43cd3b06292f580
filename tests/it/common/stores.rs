//! One test per store for a behaviour written once over any store: the
//! memory store, SQLite on a fresh file, PostgreSQL on a fresh schema.

use axum_users::User;
use axum_users::store::{MemoryStore, SqliteStore};

/// A memory store.
pub fn memory_store() -> MemoryStore<User> {
    MemoryStore::new()
}

/// A migrated SQLite store on a fresh file, and the directory that holds it
/// (keep it for the test's length).
pub async fn sqlite_store() -> (SqliteStore<User>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::<User>::open(&dir.path().join("store.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// For each `case` (an `async fn case<S>(store: S)` of the calling file), a
/// module of that name with the case on every store: `on_memory`,
/// `on_sqlite`, `on_postgres` (skipped without PostgreSQL, unless services
/// are required).
macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_memory() {
                super::$case($crate::common::stores::memory_store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let (store, _dir) = $crate::common::stores::sqlite_store().await;
                super::$case(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let Some(pg) = $crate::common::pg::PgSchemas::connect().await else {
                    return;
                };
                super::$case(pg.store::<axum_users::User>().await).await;
            }
        }
    )*};
}
