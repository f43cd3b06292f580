//! The shared store test suite: every provided [`UserStore`] passes it, and a
//! store of the application's own can run it too.
//!
//! ```no_run
//! # async fn run() {
//! use axum_users::{User, store::{MemoryStore, suite}};
//! suite::run(|| async { MemoryStore::<User>::new() }).await;
//! # }
//! ```
//!
//! It panics (like `assert!`) at the first rule a store breaks; call it from a test.

use std::future::Future;
use std::sync::Arc;

use super::{StoreError, UserChanges, UserStore};
use crate::user::{PasswordHash, UserData, UserModel};

fn data<F: Default>(email: &str) -> UserData<F> {
    UserData {
        email: email.to_owned(),
        hashed_password: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"),
        is_active: true,
        is_superuser: false,
        is_verified: false,
        fields: F::default(),
    }
}

/// Runs every check against fresh stores made by `make` (each check gets its own,
/// empty store).
pub async fn run<S, Fut, Mk>(make: Mk)
where
    S: UserStore,
    <S::User as UserModel>::Fields: Default,
    Mk: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    create_and_get(make().await).await;
    email_lookup_is_ascii_case_insensitive(make().await).await;
    email_is_unique_ascii_case_insensitively(make().await).await;
    update_writes_every_field(make().await).await;
    update_writes_only_the_given_fields(make().await).await;
    conditional_update_is_a_compare_and_set(make().await).await;
    update_to_taken_email_fails(make().await).await;
    delete_frees_the_address(make().await).await;
    concurrent_creates_of_one_address_yield_one_user(Arc::new(make().await)).await;
}

async fn create_and_get<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("Arthur@Camelot.bt")).await.unwrap();
    assert_eq!(user.email(), "Arthur@Camelot.bt", "address stored as given");
    assert!(user.is_active() && !user.is_superuser() && !user.is_verified());
    let got = store
        .get(user.id())
        .await
        .unwrap()
        .expect("created user found by id");
    assert_eq!(got.id(), user.id());
    assert_eq!(got.email(), "Arthur@Camelot.bt");
    assert_eq!(
        got.data().hashed_password,
        user.data().hashed_password,
        "hash round-trips"
    );
    let other = store.create(data("lancelot@camelot.bt")).await.unwrap();
    assert_ne!(other.id(), user.id(), "ids are distinct");
}

async fn email_lookup_is_ascii_case_insensitive<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("Arthur@Camelot.bt")).await.unwrap();
    for probe in [
        "arthur@camelot.bt",
        "ARTHUR@CAMELOT.BT",
        "Arthur@Camelot.bt",
    ] {
        let found = store.get_by_email(probe).await.unwrap();
        assert_eq!(
            found.map(|u| u.id().clone()),
            Some(user.id().clone()),
            "{probe}"
        );
    }
    assert!(
        store
            .get_by_email("nobody@camelot.bt")
            .await
            .unwrap()
            .is_none()
    );
    // Non-ASCII letters are not folded (as FastAPI Users on SQLite).
    store.create(data("jürgen@example.com")).await.unwrap();
    assert!(
        store
            .get_by_email("jürgen@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

async fn email_is_unique_ascii_case_insensitively<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    store.create(data("arthur@camelot.bt")).await.unwrap();
    let again = store.create(data("ARTHUR@camelot.bt")).await;
    assert!(matches!(again, Err(StoreError::EmailTaken)), "{again:?}");
}

async fn update_writes_every_field<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    let returned = store
        .update(
            user.id(),
            UserChanges {
                email: Some("king@camelot.bt".into()),
                hashed_password: Some(PasswordHash::new("$2b$04$new")),
                is_active: Some(false),
                is_superuser: Some(true),
                is_verified: Some(true),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        returned.email(),
        "king@camelot.bt",
        "update returns the stored user"
    );
    let got = store.get(user.id()).await.unwrap().unwrap();
    assert_eq!(got.email(), "king@camelot.bt");
    assert_eq!(got.data().hashed_password.as_str(), "$2b$04$new");
    assert!(!got.is_active() && got.is_superuser() && got.is_verified());
    assert!(
        store
            .get_by_email("arthur@camelot.bt")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_by_email("KING@camelot.bt")
            .await
            .unwrap()
            .is_some()
    );
    // A case-only change of one's own address is allowed.
    let email = UserChanges {
        email: Some("King@camelot.bt".into()),
        ..UserChanges::default()
    };
    store.update(user.id(), email).await.unwrap();
    assert_eq!(
        store.get(user.id()).await.unwrap().unwrap().email(),
        "King@camelot.bt"
    );
}

async fn update_writes_only_the_given_fields<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    // Two writers, each with its own change, as an admin deactivating a user
    // while a login upgrades its hash: neither undoes the other.
    let deactivate = UserChanges {
        is_active: Some(false),
        ..UserChanges::default()
    };
    store.update(user.id(), deactivate).await.unwrap();
    let rehash = UserChanges {
        hashed_password: Some(PasswordHash::new("$argon2id$new")),
        ..UserChanges::default()
    };
    let after = store.update(user.id(), rehash).await.unwrap();
    assert!(!after.is_active(), "the rehash kept the deactivation");
    assert_eq!(after.data().hashed_password.as_str(), "$argon2id$new");
    assert_eq!(after.email(), "arthur@camelot.bt");
    // Nothing to change: the stored user comes back unchanged.
    let same = store
        .update(user.id(), UserChanges::default())
        .await
        .unwrap();
    assert!(!same.is_active());
}

async fn conditional_update_is_a_compare_and_set<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    let old = user.data().hashed_password.clone();
    let first = UserChanges {
        hashed_password: Some(PasswordHash::new("$argon2id$first")),
        if_hashed_password: Some(old.clone()),
        ..UserChanges::default()
    };
    store.update(user.id(), first).await.unwrap();
    let second = UserChanges {
        hashed_password: Some(PasswordHash::new("$argon2id$second")),
        if_hashed_password: Some(old),
        ..UserChanges::default()
    };
    let result = store.update(user.id(), second).await;
    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    let got = store.get(user.id()).await.unwrap().unwrap();
    assert_eq!(
        got.data().hashed_password.as_str(),
        "$argon2id$first",
        "a failed condition writes nothing"
    );
    // The same on the address, which must match exactly.
    let verify_other_case = UserChanges {
        is_verified: Some(true),
        if_email: Some("ARTHUR@camelot.bt".into()),
        ..UserChanges::default()
    };
    let result = store.update(user.id(), verify_other_case).await;
    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert!(!store.get(user.id()).await.unwrap().unwrap().is_verified());
    let verify = UserChanges {
        is_verified: Some(true),
        if_email: Some("arthur@camelot.bt".into()),
        ..UserChanges::default()
    };
    assert!(store.update(user.id(), verify).await.unwrap().is_verified());
}

async fn update_to_taken_email_fails<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    store.create(data("arthur@camelot.bt")).await.unwrap();
    let other = store.create(data("lancelot@camelot.bt")).await.unwrap();
    let taken = UserChanges {
        email: Some("Arthur@camelot.bt".into()),
        is_active: Some(false),
        ..UserChanges::default()
    };
    let result = store.update(other.id(), taken).await;
    assert!(matches!(result, Err(StoreError::EmailTaken)), "{result:?}");
    let kept = store.get(other.id()).await.unwrap().unwrap();
    assert_eq!(
        kept.email(),
        "lancelot@camelot.bt",
        "failed update changes nothing"
    );
    assert!(kept.is_active(), "failed update changes nothing");
}

async fn delete_frees_the_address<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    store.delete(user.id()).await.unwrap();
    assert!(store.get(user.id()).await.unwrap().is_none());
    assert!(
        store
            .get_by_email("arthur@camelot.bt")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.delete(user.id()).await,
        Err(StoreError::NotFound)
    ));
    let changes = UserChanges {
        is_active: Some(false),
        ..UserChanges::default()
    };
    assert!(matches!(
        store.update(user.id(), changes).await,
        Err(StoreError::NotFound)
    ));
    store.create(data("Arthur@camelot.bt")).await.unwrap();
}

async fn concurrent_creates_of_one_address_yield_one_user<S: UserStore>(store: Arc<S>)
where
    <S::User as UserModel>::Fields: Default,
{
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let email = if i % 2 == 0 {
                "race@camelot.bt"
            } else {
                "RACE@camelot.bt"
            };
            tokio::spawn(async move { store.create(data(email)).await })
        })
        .collect();
    let (mut created, mut taken) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::EmailTaken) => taken += 1,
            Err(e) => panic!("a concurrent create failed otherwise: {e}"),
        }
    }
    assert_eq!((created, taken), (1, 19));
}
