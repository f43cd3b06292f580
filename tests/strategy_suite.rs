//! The shared strategy suite against every provided strategy and storage.

mod common;

use std::time::Duration;

use axum_users::auth::strategy::suite;
use axum_users::auth::{DatabaseStrategy, JwtStrategy};
use axum_users::store::{MemoryStore, SqliteStore, UserStore};
use axum_users::{Email, User, UserCreate, UserManager};

async fn two_users<S: UserStore<User = User> + Clone>(store: &S) -> [User; 2] {
    let manager = UserManager::builder(store.clone())
        .hasher(common::fast_hasher())
        .build();
    let mut users = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let create = UserCreate::new(Email::parse(email).unwrap(), common::PASSWORD);
        users.push(manager.create(create, false, None).await.unwrap());
    }
    [users[0].clone(), users[1].clone()]
}

#[tokio::test]
async fn jwt_strategy_passes_the_strategy_suite() {
    suite::run(|lifetime: Duration| async move {
        let store = MemoryStore::<User>::new();
        let users = two_users(&store).await;
        let strategy = JwtStrategy::hs256(common::SECRET)
            .unwrap()
            .lifetime(lifetime);
        (strategy, users)
    })
    .await;
}

#[tokio::test]
async fn database_strategy_on_the_memory_store_passes_the_strategy_suite() {
    suite::run(|lifetime: Duration| async move {
        let store = MemoryStore::<User>::new();
        let users = two_users(&store).await;
        (DatabaseStrategy::new(store).lifetime(lifetime), users)
    })
    .await;
}

#[tokio::test]
async fn database_strategy_on_sqlite_passes_the_strategy_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    suite::run(|lifetime: Duration| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        dirs.lock().unwrap().push(dir);
        async move {
            let store = SqliteStore::<User>::open(path).await.unwrap();
            store.migrate().await.unwrap();
            let users = two_users(&store).await;
            (DatabaseStrategy::new(store).lifetime(lifetime), users)
        }
    })
    .await;
}

#[tokio::test]
async fn sqlite_sessions_die_with_their_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::<User>::open(dir.path().join("t.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let [a, _] = two_users(&store).await;
    let strategy = DatabaseStrategy::new(store.clone());
    let token = axum_users::auth::Strategy::<User>::write_token(&strategy, &a)
        .await
        .unwrap();
    store.delete(&a.id).await.unwrap();
    let read = axum_users::auth::Strategy::<User>::read_token(&strategy, &token)
        .await
        .unwrap();
    assert_eq!(read, None, "the foreign key removed the session");
}

#[tokio::test]
async fn database_strategy_on_postgres_passes_the_strategy_suite() {
    let Some(schemas) = common::pg::PgSchemas::connect().await else {
        return;
    };
    suite::run(|lifetime: Duration| {
        let schemas = &schemas;
        async move {
            let store = schemas.store::<User>().await;
            let users = two_users(&store).await;
            (DatabaseStrategy::new(store).lifetime(lifetime), users)
        }
    })
    .await;
}
