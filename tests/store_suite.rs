//! The shared store suite against the provided stores, and the SQLite store's
//! opening and migration behaviour.

use std::sync::Mutex;

use axum_users::store::{MemoryStore, SqliteStore, UserStore, suite};
use axum_users::{PasswordHash, User, UserData, UserModel};
use tempfile::TempDir;

fn data(email: &str) -> UserData<axum_users::NoFields> {
    UserData {
        email: email.to_owned(),
        hashed_password: PasswordHash::new("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
        is_active: true,
        is_superuser: false,
        is_verified: false,
        fields: Default::default(),
    }
}

#[tokio::test]
async fn memory_store_passes_the_store_suite() {
    suite::run(|| async { MemoryStore::<User>::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_on_a_fresh_file_passes_the_store_suite() {
    // Every store gets its own database file; the directories live until the
    // end of the test.
    let dirs: Mutex<Vec<TempDir>> = Mutex::new(Vec::new());
    suite::run(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        dirs.lock().unwrap().push(dir);
        async move {
            let store = SqliteStore::<User>::open(&path).await.unwrap();
            store.migrate().await.unwrap();
            store
        }
    })
    .await;
    assert!(
        dirs.lock().unwrap().len() >= 7,
        "the suite asked for a fresh store per check"
    );
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
