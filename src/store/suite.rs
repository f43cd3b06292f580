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
//!
//! A [`SessionStore`] runs [`sessions`] on a store and two users of its own:
//!
//! ```no_run
//! # async fn run() {
//! use axum_users::store::{MemoryStore, UserStore, suite};
//! use axum_users::{PasswordHash, User, UserData};
//! let store = MemoryStore::<User>::new();
//! let mut ids = Vec::new();
//! for email in ["a@example.com", "b@example.com"] {
//!     let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA");
//!     let user = store.create(UserData::new(email, hash, Default::default())).await.unwrap();
//!     ids.push(user.id);
//! }
//! suite::sessions(&store, [ids[0], ids[1]], suite::Expiry::Deleted).await;
//! # }
//! ```

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    Challenge, ChallengeStore, Invitation, InvitationStore, MfaStore, PasskeyUse, Rotation,
    Session, SessionKind, SessionStore, StoreError, StoredPasskey, TotpFactor, UserChanges,
    UserStore,
};
use crate::session::{self, LoginContext, MAX_USER_AGENT_CHARS, new_session_id};
use crate::user::{PasswordHash, UserData, UserModel};

fn data<F: Default>(email: &str) -> UserData<F> {
    UserData {
        email: email.to_owned(),
        hashed_password: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"),
        is_active: true,
        is_superuser: false,
        is_verified: false,
        fields: F::default(),
        username: None,
        token_generation: 0,
        password_generation: 0,
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
    token_generation_is_kept_and_raised_on_demand(make().await).await;
    password_generation_is_raised_by_every_new_password_but_an_upgrade(make().await).await;
    update_to_taken_email_fails(make().await).await;
    delete_frees_the_address(make().await).await;
    concurrent_creates_of_one_address_yield_one_user(Arc::new(make().await)).await;
    password_hash_samples_are_one_per_class(make().await, false).await;
    // Usernames, for a store that keeps them.
    if make().await.supports_usernames() {
        usernames_are_kept_and_found_ascii_case_insensitively(make().await).await;
        usernames_are_unique_on_create_and_update(make().await).await;
        renaming_or_deleting_frees_a_username(make().await).await;
        concurrent_creates_of_one_username_yield_one_user(Arc::new(make().await)).await;
    }
}

fn named<F: Default>(email: &str, username: &str) -> UserData<F> {
    let mut user = data(email);
    user.username = Some(username.to_owned());
    user
}

async fn usernames_are_kept_and_found_ascii_case_insensitively<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let arthur = store
        .create(named("arthur@camelot.bt", "King.Arthur"))
        .await
        .unwrap();
    // Users without a username are many.
    let a = store.create(data("a@camelot.bt")).await.unwrap();
    let b = store.create(data("b@camelot.bt")).await.unwrap();
    assert_eq!(a.data().username, None);
    assert_eq!(b.data().username, None);
    let read = store.get(arthur.id()).await.unwrap().unwrap();
    assert_eq!(
        read.data().username.as_deref(),
        Some("King.Arthur"),
        "as written"
    );
    for variant in ["King.Arthur", "king.arthur", "KING.ARTHUR"] {
        let found = store.get_by_username(variant).await.unwrap();
        assert_eq!(
            found.map(|user| user.id().clone()),
            Some(arthur.id().clone()),
            "{variant}"
        );
    }
    for other in [
        "King.Arthu",
        "King.Arthurr",
        "arthur@camelot.bt",
        "",
        "King.Arthur\0",
    ] {
        assert!(
            store.get_by_username(other).await.unwrap().is_none(),
            "{other:?}"
        );
    }
    // Non-ASCII letters are not folded (usernames are ASCII anyway).
    assert!(
        store
            .get_by_username("K\u{212A}ing")
            .await
            .unwrap()
            .is_none()
    );
    // The address look-up does not find usernames, nor the other way round.
    assert!(store.get_by_email("King.Arthur").await.unwrap().is_none());
}

async fn usernames_are_unique_on_create_and_update<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    store
        .create(named("arthur@camelot.bt", "arthur"))
        .await
        .unwrap();
    let result = store.create(named("other@camelot.bt", "ARTHUR")).await;
    assert!(
        matches!(result, Err(StoreError::UsernameTaken)),
        "{result:?}"
    );
    assert!(
        store
            .get_by_email("other@camelot.bt")
            .await
            .unwrap()
            .is_none(),
        "a refused create stores nothing"
    );
    let lancelot = store
        .create(named("lancelot@camelot.bt", "lancelot"))
        .await
        .unwrap();
    let taken = UserChanges {
        username: Some("Arthur".into()),
        email: Some("lance@camelot.bt".into()),
        is_active: Some(false),
        ..UserChanges::default()
    };
    let result = store.update(lancelot.id(), taken).await;
    assert!(
        matches!(result, Err(StoreError::UsernameTaken)),
        "{result:?}"
    );
    let kept = store.get(lancelot.id()).await.unwrap().unwrap();
    assert_eq!(kept.data().username.as_deref(), Some("lancelot"));
    assert_eq!(
        kept.email(),
        "lancelot@camelot.bt",
        "a failed update changes nothing"
    );
    assert!(kept.is_active(), "a failed update changes nothing");
    assert!(
        store
            .get_by_email("lance@camelot.bt")
            .await
            .unwrap()
            .is_none(),
        "a failed update frees nothing and takes nothing"
    );
    // One's own name in another case is one's own.
    let renamed = UserChanges {
        username: Some("LanceLot".into()),
        ..UserChanges::default()
    };
    let updated = store.update(lancelot.id(), renamed).await.unwrap();
    assert_eq!(updated.data().username.as_deref(), Some("LanceLot"));
    // An address taken and a name taken: either error, nothing written.
    let both = UserChanges {
        username: Some("arthur".into()),
        email: Some("arthur@camelot.bt".into()),
        ..UserChanges::default()
    };
    let result = store.update(lancelot.id(), both).await;
    assert!(
        matches!(
            result,
            Err(StoreError::UsernameTaken | StoreError::EmailTaken)
        ),
        "{result:?}"
    );
}

async fn renaming_or_deleting_frees_a_username<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let arthur = store
        .create(named("arthur@camelot.bt", "arthur"))
        .await
        .unwrap();
    let renamed = UserChanges {
        username: Some("pendragon".into()),
        ..UserChanges::default()
    };
    store.update(arthur.id(), renamed).await.unwrap();
    assert!(store.get_by_username("arthur").await.unwrap().is_none());
    assert_eq!(
        store
            .get_by_username("Pendragon")
            .await
            .unwrap()
            .map(|user| user.id().clone()),
        Some(arthur.id().clone())
    );
    let other = store
        .create(named("other@camelot.bt", "Arthur"))
        .await
        .unwrap();
    store.delete(other.id()).await.unwrap();
    assert!(store.get_by_username("arthur").await.unwrap().is_none());
    store
        .create(named("third@camelot.bt", "ARTHUR"))
        .await
        .unwrap();
}

async fn concurrent_creates_of_one_username_yield_one_user<S: UserStore>(store: Arc<S>)
where
    <S::User as UserModel>::Fields: Default,
{
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let name = if i % 2 == 0 { "race" } else { "RACE" };
            let email = format!("race{i}@camelot.bt");
            tokio::spawn(async move { store.create(named(&email, name)).await })
        })
        .collect();
    let (mut created, mut taken) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::UsernameTaken) => taken += 1,
            Err(e) => panic!("a concurrent create failed otherwise: {e}"),
        }
    }
    assert_eq!((created, taken), (1, 19));
}

/// Checks [`UserStore::password_hash_samples`] of a store that implements it
/// (the provided ones do): one sample of each class of hashes stored. [`run`]
/// accepts a store that answers none, the trait's default.
pub async fn run_hash_samples<S, Fut, Mk>(make: Mk)
where
    S: UserStore,
    <S::User as UserModel>::Fields: Default,
    Mk: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    password_hash_samples_are_one_per_class(make().await, true).await;
}

async fn password_hash_samples_are_one_per_class<S: UserStore>(store: S, required: bool)
where
    <S::User as UserModel>::Fields: Default,
{
    assert!(
        store.password_hash_samples().await.unwrap().is_empty(),
        "no users, no samples"
    );
    let hashes = [
        // The default class, twice (two salts).
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXI",
        // FastAPI Users' argon2id, twice.
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=19$m=65536,t=3,p=4$b3RoZXJzYWx0$b3RoZXI",
        // passlib's bcrypt, at two costs.
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$2b$12$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
        "$2b$10$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
    ];
    for (index, hash) in hashes.iter().enumerate() {
        let mut user = data(&format!("user{index}@camelot.bt"));
        user.hashed_password = PasswordHash::new(*hash);
        store.create(user).await.unwrap();
    }
    let samples = store.password_hash_samples().await.unwrap();
    if samples.is_empty() && !required {
        return;
    }
    let mut classes: Vec<String> = samples
        .iter()
        .map(|sample| {
            assert!(
                hashes.contains(&sample.as_str()),
                "a stored hash: {sample:?}"
            );
            class_of(sample.as_str())
        })
        .collect();
    classes.sort();
    assert_eq!(
        classes,
        [
            "$2b$10$",
            "$2b$12$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=65536,t=3,p=4$",
        ],
        "one sample of each class"
    );
}

/// What comes before the salt of a hash.
fn class_of(hash: &str) -> String {
    let dollars = if hash.starts_with("$2") { 3 } else { 4 };
    let end = hash
        .match_indices('$')
        .nth(dollars - 1)
        .map_or(hash.len(), |(index, _)| index + 1);
    hash[..end].to_owned()
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

async fn token_generation_is_kept_and_raised_on_demand<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let mut given = data("arthur@camelot.bt");
    given.token_generation = 7;
    let user = store.create(given).await.unwrap();
    let stored = store.get(user.id()).await.unwrap().unwrap();
    assert_eq!(stored.data().token_generation, 7, "kept as created");
    let other_change = UserChanges {
        is_superuser: Some(true),
        ..UserChanges::default()
    };
    let after = store.update(user.id(), other_change).await.unwrap();
    assert_eq!(after.data().token_generation, 7, "raised only on demand");
    let bump = UserChanges {
        bump_token_generation: true,
        ..UserChanges::default()
    };
    assert!(!bump.is_empty(), "a raise alone is a change");
    let after = store.update(user.id(), bump.clone()).await.unwrap();
    assert_eq!(after.data().token_generation, 8, "raised by one");
    store.update(user.id(), bump).await.unwrap();
    let stored = store.get(user.id()).await.unwrap().unwrap();
    assert_eq!(stored.data().token_generation, 9, "raised by one each time");
    assert_eq!(
        store
            .get_by_email("arthur@camelot.bt")
            .await
            .unwrap()
            .unwrap()
            .data()
            .token_generation,
        9,
        "read by address too"
    );
    // A raise with a failed condition writes nothing.
    let conditional = UserChanges {
        bump_token_generation: true,
        if_hashed_password: Some(PasswordHash::new("$argon2id$other")),
        ..UserChanges::default()
    };
    let result = store.update(user.id(), conditional).await;
    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    let stored = store.get(user.id()).await.unwrap().unwrap();
    assert_eq!(stored.data().token_generation, 9);
}

async fn password_generation_is_raised_by_every_new_password_but_an_upgrade<S: UserStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let mut given = data("arthur@camelot.bt");
    given.password_generation = 4;
    let user = store.create(given).await.unwrap();
    let generation = |user: &S::User| user.data().password_generation;
    assert_eq!(generation(&user), 4, "kept as created");
    let new_password = |hash: &str| UserChanges {
        hashed_password: Some(PasswordHash::new(hash)),
        ..UserChanges::default()
    };
    let after = store
        .update(user.id(), new_password("$argon2id$one"))
        .await
        .unwrap();
    assert_eq!(generation(&after), 5, "a new password raises it");
    let stored = store.get(user.id()).await.unwrap().unwrap();
    assert_eq!(generation(&stored), 5, "as stored");
    let upgrade = UserChanges {
        hashed_password: Some(PasswordHash::new("$argon2id$upgraded")),
        hash_upgrade: true,
        ..UserChanges::default()
    };
    let after = store.update(user.id(), upgrade).await.unwrap();
    assert_eq!(after.data().hashed_password.as_str(), "$argon2id$upgraded");
    assert_eq!(
        generation(&after),
        5,
        "an upgrade of the same password does not"
    );
    let other = UserChanges {
        is_verified: Some(true),
        bump_token_generation: true,
        ..UserChanges::default()
    };
    let after = store.update(user.id(), other).await.unwrap();
    assert_eq!(generation(&after), 5, "nor does anything else");
    // A failed condition writes nothing.
    let mut conditional = new_password("$argon2id$two");
    conditional.if_hashed_password = Some(PasswordHash::new("$argon2id$stale"));
    assert!(matches!(
        store.update(user.id(), conditional).await,
        Err(StoreError::Conflict)
    ));
    let stored = store
        .get_by_email("arthur@camelot.bt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(generation(&stored), 5);
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

fn oauth_account<Id>(user_id: Id, account_id: &str, token: &str) -> super::OAuthAccount<Id> {
    super::OAuthAccount {
        oauth_name: "oidc".into(),
        account_id: account_id.into(),
        account_email: "king.arthur@camelot.bt".into(),
        email_verified: true,
        user_verified: true,
        access_token: super::ProviderToken::new(token),
        refresh_token: Some(super::ProviderToken::new(format!("refresh-{token}"))),
        expires_at: Some(1_900_000_000),
        user_id,
    }
}

/// Runs the OAuth account checks against fresh stores made by `make`: linking,
/// refreshing, one owner per account (also under concurrent links), and
/// accounts going with their user.
pub async fn run_oauth<S, Fut, Mk>(make: Mk)
where
    S: super::OAuthAccountStore,
    <S::User as UserModel>::Fields: Default,
    Mk: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    oauth_link_and_find(make().await).await;
    oauth_relink_by_owner_refreshes(make().await).await;
    oauth_relink_never_raises_the_flags(make().await).await;
    oauth_account_has_one_owner(make().await).await;
    oauth_link_to_missing_user_fails(make().await).await;
    oauth_accounts_go_with_their_user(make().await).await;
    oauth_concurrent_links_yield_one_owner(Arc::new(make().await)).await;
    oauth_create_with_account_is_all_or_nothing(make().await).await;
    oauth_unverified_links_are_forgotten(make().await).await;
}

async fn oauth_link_and_find<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    assert!(
        store
            .get_by_oauth_account("oidc", "sub-1")
            .await
            .unwrap()
            .is_none()
    );
    store
        .link_oauth_account(oauth_account(user.id().clone(), "sub-1", "t1"))
        .await
        .unwrap();
    let owner = store
        .get_by_oauth_account("oidc", "sub-1")
        .await
        .unwrap()
        .expect("linked account found");
    assert_eq!(owner.id(), user.id());
    assert!(
        store
            .get_by_oauth_account("github", "sub-1")
            .await
            .unwrap()
            .is_none(),
        "the provider name is part of the key"
    );
    let accounts = store.oauth_accounts(user.id()).await.unwrap();
    assert_eq!(
        accounts,
        vec![oauth_account(user.id().clone(), "sub-1", "t1")]
    );
}

async fn oauth_relink_by_owner_refreshes<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    store
        .link_oauth_account(oauth_account(user.id().clone(), "sub-1", "t1"))
        .await
        .unwrap();
    let mut fresh = oauth_account(user.id().clone(), "sub-1", "t2");
    fresh.refresh_token = None;
    fresh.expires_at = None;
    fresh.account_email = "arthur@avalon.bt".into();
    store.link_oauth_account(fresh.clone()).await.unwrap();
    assert_eq!(store.oauth_accounts(user.id()).await.unwrap(), vec![fresh]);
}

async fn oauth_relink_never_raises_the_flags<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    let mut first = oauth_account(user.id().clone(), "sub-1", "t1");
    first.email_verified = false;
    first.user_verified = false;
    store.link_oauth_account(first).await.unwrap();
    // A later login says the address is verified, and the user too.
    let later = oauth_account(user.id().clone(), "sub-1", "t2");
    store.link_oauth_account(later).await.unwrap();
    let stored = &store.oauth_accounts(user.id()).await.unwrap()[0];
    assert_eq!(
        stored.access_token,
        super::ProviderToken::new("t2"),
        "refreshed"
    );
    assert!(!stored.email_verified, "email_verified never goes up");
    assert!(!stored.user_verified, "user_verified is set once");
    // email_verified may go down; user_verified still does not change.
    let other = store.create(data("lancelot@camelot.bt")).await.unwrap();
    store
        .link_oauth_account(oauth_account(other.id().clone(), "sub-2", "t1"))
        .await
        .unwrap();
    let mut lower = oauth_account(other.id().clone(), "sub-2", "t2");
    lower.email_verified = false;
    lower.user_verified = false;
    store.link_oauth_account(lower).await.unwrap();
    let stored = &store.oauth_accounts(other.id()).await.unwrap()[0];
    assert!(!stored.email_verified, "email_verified goes down");
    assert!(stored.user_verified, "user_verified is set once");
}

async fn oauth_account_has_one_owner<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let first = store.create(data("arthur@camelot.bt")).await.unwrap();
    let second = store.create(data("lancelot@camelot.bt")).await.unwrap();
    store
        .link_oauth_account(oauth_account(first.id().clone(), "sub-1", "t1"))
        .await
        .unwrap();
    let taken = store
        .link_oauth_account(oauth_account(second.id().clone(), "sub-1", "t2"))
        .await;
    assert!(
        matches!(taken, Err(StoreError::AccountTaken)),
        "another owner's account: {taken:?}"
    );
    let owner = store
        .get_by_oauth_account("oidc", "sub-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.id(), first.id(), "the first owner keeps it");
    assert_eq!(
        store.oauth_accounts(first.id()).await.unwrap()[0].access_token,
        super::ProviderToken::new("t1"),
        "nothing written by the refused link"
    );
    assert!(store.oauth_accounts(second.id()).await.unwrap().is_empty());
}

async fn oauth_link_to_missing_user_fails<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    let id = user.id().clone();
    store.delete(&id).await.unwrap();
    let missing = store
        .link_oauth_account(oauth_account(id, "sub-1", "t1"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound)),
        "link to a missing user: {missing:?}"
    );
    assert!(
        store
            .get_by_oauth_account("oidc", "sub-1")
            .await
            .unwrap()
            .is_none()
    );
}

async fn oauth_accounts_go_with_their_user<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    store
        .link_oauth_account(oauth_account(user.id().clone(), "sub-1", "t1"))
        .await
        .unwrap();
    store.delete(user.id()).await.unwrap();
    assert!(
        store
            .get_by_oauth_account("oidc", "sub-1")
            .await
            .unwrap()
            .is_none()
    );
    let again = store.create(data("lancelot@camelot.bt")).await.unwrap();
    store
        .link_oauth_account(oauth_account(again.id().clone(), "sub-1", "t2"))
        .await
        .expect("a deleted user's account is free again");
}

async fn oauth_concurrent_links_yield_one_owner<S: super::OAuthAccountStore>(store: Arc<S>)
where
    <S::User as UserModel>::Fields: Default,
{
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(
            store
                .create(data(&format!("knight{i}@camelot.bt")))
                .await
                .unwrap(),
        );
    }
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let store = Arc::clone(&store);
            let account = oauth_account(user.id().clone(), "sub-1", "t");
            tokio::spawn(async move { store.link_oauth_account(account).await })
        })
        .collect();
    let mut linked = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => linked += 1,
            Err(StoreError::AccountTaken) => {}
            Err(e) => panic!("concurrent link failed otherwise: {e:?}"),
        }
    }
    assert_eq!(linked, 1, "one owner per provider account");
}

async fn oauth_create_with_account_is_all_or_nothing<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store
        .create_with_oauth_account(data("arthur@camelot.bt"), oauth_account((), "sub-1", "t1"))
        .await
        .unwrap();
    let owner = store
        .get_by_oauth_account("oidc", "sub-1")
        .await
        .unwrap()
        .expect("created with its link");
    assert_eq!(owner.id(), user.id());
    assert_eq!(owner.email(), "arthur@camelot.bt");

    // The address is taken: no link is written.
    let taken = store
        .create_with_oauth_account(data("ARTHUR@camelot.bt"), oauth_account((), "sub-2", "t2"))
        .await;
    assert!(
        matches!(taken, Err(StoreError::EmailTaken)),
        "address taken: {taken:?}"
    );
    assert!(
        store
            .get_by_oauth_account("oidc", "sub-2")
            .await
            .unwrap()
            .is_none()
    );

    // The account is taken: no user is left behind.
    let taken = store
        .create_with_oauth_account(
            data("lancelot@camelot.bt"),
            oauth_account((), "sub-1", "t3"),
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::AccountTaken)),
        "account taken: {taken:?}"
    );
    assert!(
        store
            .get_by_email("lancelot@camelot.bt")
            .await
            .unwrap()
            .is_none(),
        "the user of a failed create-and-link is not kept"
    );
}

async fn oauth_unverified_links_are_forgotten<S: super::OAuthAccountStore>(store: S)
where
    <S::User as UserModel>::Fields: Default,
{
    let user = store.create(data("arthur@camelot.bt")).await.unwrap();
    let other = store.create(data("lancelot@camelot.bt")).await.unwrap();
    // What counts is whether the user's address was verified when the link
    // was made, not what the provider said of its own address.
    let mut verified = oauth_account(user.id().clone(), "verified", "t1");
    verified.email_verified = false;
    let mut unverified = oauth_account(user.id().clone(), "unverified", "t2");
    unverified.user_verified = false;
    let mut others = oauth_account(other.id().clone(), "others", "t3");
    others.user_verified = false;
    for account in [verified.clone(), unverified, others.clone()] {
        store.link_oauth_account(account).await.unwrap();
    }
    // Taking the address back forgets them: the store wires its
    // `address_proven` to `forget_unverified_oauth_accounts`.
    store.address_proven(user.id()).await.unwrap();
    assert_eq!(
        store.oauth_accounts(user.id()).await.unwrap(),
        vec![verified],
        "only the verified link stays"
    );
    assert_eq!(
        store.oauth_accounts(other.id()).await.unwrap(),
        vec![others],
        "another user's links are untouched"
    );
}

// ---------------------------------------------------------------------------
// Invitations.

/// Runs the invitation checks against fresh stores made by `make` (each check
/// gets its own, empty store): invitations read back whole (by id and by
/// token), the list newest first with its count and its pages, the pending
/// invitation of an address found ASCII-case-insensitively (never an
/// accepted, revoked or expired one), revocation, claims as a
/// compare-and-set (also under 20 concurrent claims of one invitation, on
/// tasks of their own: run it on a multi-thread runtime so that they race),
/// and duplicate ids and token digests refused.
///
/// Times are given to stores cut to the millisecond and must read back exact:
/// a store keeps them to the millisecond at least. The list is ordered by
/// `created_at`, then by id (`Uuid`'s order), greatest first. Text with NUL
/// (which PostgreSQL cannot hold) is either kept or refused whole; a look-up
/// with NUL finds nothing rather than failing.
///
/// ```no_run
/// # async fn run() {
/// use axum_users::{User, store::{MemoryStore, suite}};
/// suite::run_invitations(|| async { MemoryStore::<User>::new() }).await;
/// # }
/// ```
pub async fn run_invitations<S, Fut, Mk>(make: Mk)
where
    S: InvitationStore,
    Mk: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    invitations_read_back_whole(make().await).await;
    invitation_text_with_nul_is_kept_or_refused_whole(make().await).await;
    invitations_are_listed_newest_first_and_paged(make().await).await;
    the_pending_invitation_of_an_address_is_found_ascii_case_insensitively(make().await).await;
    accepted_revoked_and_expired_invitations_are_not_pending(make().await).await;
    revoking_answers_whether_the_invitation_exists_and_ends_it(make().await).await;
    claiming_is_a_compare_and_set(make().await).await;
    concurrent_claims_of_one_invitation_let_exactly_one_win(Arc::new(make().await)).await;
    duplicate_invitations_are_refused_and_change_nothing(make().await).await;
    an_address_has_at_most_one_pending_invitation(make().await).await;
    concurrent_invitations_of_one_address_store_exactly_one(Arc::new(make().await)).await;
}

async fn an_address_has_at_most_one_pending_invitation<S: InvitationStore>(store: S) {
    let now = now_ms();
    let first = invitation_at("arthur@camelot.bt", now);
    store.create_invitation(first.clone()).await.unwrap();
    let second = invitation_at("ARTHUR@camelot.bt", now + TimeDelta::milliseconds(1));
    let result = store.create_invitation(second.clone()).await;
    assert!(
        matches!(result, Err(StoreError::Conflict)),
        "a second pending invitation of one address: {result:?}"
    );
    assert_eq!(
        store.invitation(&second.id).await.unwrap(),
        None,
        "nothing written"
    );
    // Another address is not affected.
    store
        .create_invitation(invitation_at("merlin@camelot.bt", now))
        .await
        .unwrap();
    // Revoked, the address can be invited again.
    assert!(store.revoke_invitation(&first.id).await.unwrap());
    store.create_invitation(second.clone()).await.unwrap();
    // Claimed (accepted), likewise.
    assert!(store.claim_invitation(&second.id, now_ms()).await.unwrap());
    let third = invitation_at("arthur@camelot.bt", now_ms());
    store.create_invitation(third.clone()).await.unwrap();
    // A claim taken back while a newer invitation is pending: the newer one
    // wins, the older stays claimed.
    store.unclaim_invitation(&second.id).await.unwrap();
    assert!(
        store
            .invitation(&second.id)
            .await
            .unwrap()
            .unwrap()
            .accepted_at
            .is_some(),
        "the older claim stays"
    );
    // Expired, the address can be invited again, and the expired one stays
    // expired (not pending).
    let old = Invitation::new(
        "gawain@camelot.bt",
        None,
        to_the_millisecond(now - TimeDelta::days(3)),
        1,
        random_digest(),
    );
    store.create_invitation(old.clone()).await.unwrap();
    let fresh = invitation_at("Gawain@camelot.bt", now);
    store.create_invitation(fresh.clone()).await.unwrap();
    assert_eq!(
        store
            .pending_invitation("gawain@camelot.bt", now)
            .await
            .unwrap()
            .map(|i| i.id),
        Some(fresh.id)
    );
    let kept = store.invitation(&old.id).await.unwrap().unwrap();
    assert!(
        kept.accepted_at.is_none() && !kept.revoked,
        "a lapsed invitation is neither accepted nor revoked: {kept:?}"
    );
}

async fn concurrent_invitations_of_one_address_store_exactly_one<S: InvitationStore>(
    store: Arc<S>,
) {
    let now = now_ms();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let email = if i % 2 == 0 {
                "race@camelot.bt"
            } else {
                "RACE@camelot.bt"
            };
            tokio::spawn(async move { store.create_invitation(invitation_at(email, now)).await })
        })
        .collect();
    let (mut stored, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => stored += 1,
            Err(StoreError::Conflict) => refused += 1,
            Err(e) => panic!("a concurrent invitation failed otherwise: {e}"),
        }
    }
    assert_eq!((stored, refused), (1, 19));
    assert_eq!(store.invitations(0, 100).await.unwrap().0, 1);
}

/// A time cut to the millisecond, as the suite gives invitation times.
fn to_the_millisecond(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).expect("a time in chrono's range")
}

/// Now, to the millisecond.
fn now_ms() -> DateTime<Utc> {
    to_the_millisecond(Utc::now())
}

/// An invitation for `email` made at `at` (to the millisecond), lasting 7
/// days, with a random token digest and no remark.
fn invitation_at(email: &str, at: DateTime<Utc>) -> Invitation {
    Invitation::new(email, None, to_the_millisecond(at), 7, random_digest())
}

/// `got` is `want`, every field (the token digest, which `Debug` leaves out,
/// first).
#[track_caller]
fn assert_invitation(got: Option<Invitation>, want: &Invitation, what: &str) {
    let Some(got) = got else {
        panic!("{what}: no invitation, expected {want:?}");
    };
    assert_eq!(
        got.token_digest, want.token_digest,
        "{what}: the token digest"
    );
    assert_eq!(&got, want, "{what}");
}

/// `want` is stored as it is: by id and by its token.
async fn assert_invitation_stored<S: InvitationStore>(store: &S, want: &Invitation, what: &str) {
    assert_invitation(
        store.invitation(&want.id).await.unwrap(),
        want,
        &format!("{what}, by id"),
    );
    assert_invitation(
        store.invitation_by_token(&want.token_digest).await.unwrap(),
        want,
        &format!("{what}, by token"),
    );
}

async fn invitations_read_back_whole<S: InvitationStore>(store: S) {
    let now = now_ms();
    let plain = Invitation::new("Arthur@Camelot.bt", None, now, 7, random_digest());
    let noted = Invitation::new(
        "merlin@camelot.bt",
        Some("Für Merlin — « l'enchanteur » ✉️ 🧙\nsecond line".into()),
        now + TimeDelta::milliseconds(1),
        90,
        random_digest(),
    );
    // Every field set, at times with milliseconds of their own.
    let made = DateTime::from_timestamp_millis(1_700_000_000_123).expect("a valid time");
    let mut taken = Invitation::new(
        "gawain@camelot.bt",
        Some("the green knight".into()),
        made,
        1,
        random_digest(),
    );
    taken.accepted_at = Some(made + TimeDelta::milliseconds(86_399_999));
    taken.revoked = true;
    for invitation in [&plain, &noted, &taken] {
        store.create_invitation(invitation.clone()).await.unwrap();
    }
    assert_invitation_stored(&store, &plain, "without a remark").await;
    assert_invitation_stored(&store, &noted, "with a remark").await;
    assert_invitation_stored(&store, &taken, "accepted and revoked").await;

    assert_eq!(store.invitation(&uuid::Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(
        store.invitation_by_token(&random_digest()).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .invitation_by_token(&plain.token_digest.to_uppercase())
            .await
            .unwrap(),
        None,
        "a digest is matched exactly"
    );
    let with_nul = store
        .invitation_by_token(&format!("{}\0", plain.token_digest))
        .await;
    assert!(
        matches!(with_nul, Ok(None)),
        "a digest with NUL finds nothing: {with_nul:?}"
    );
}

async fn invitation_text_with_nul_is_kept_or_refused_whole<S: InvitationStore>(store: S) {
    let now = now_ms();
    let mut with_nul = vec![
        Invitation::new("nul\0@camelot.bt", None, now, 7, random_digest()),
        Invitation::new(
            "nul@camelot.bt",
            Some("a\0remark".into()),
            now,
            7,
            random_digest(),
        ),
    ];
    with_nul.push(Invitation::new(
        "nul@camelot.bt",
        None,
        now,
        7,
        format!("{}\0", random_digest()),
    ));
    let mut kept = 0;
    for invitation in with_nul {
        match store.create_invitation(invitation.clone()).await {
            Ok(()) => {
                assert_invitation_stored(&store, &invitation, "text with NUL, kept").await;
                kept += 1;
            }
            Err(e) => {
                assert!(
                    !matches!(e, StoreError::EmailTaken | StoreError::UsernameTaken),
                    "text with NUL refused as a taken name: {e:?}"
                );
                assert_eq!(
                    store.invitation(&invitation.id).await.unwrap(),
                    None,
                    "text with NUL refused, yet stored"
                );
            }
        }
    }
    assert_eq!(store.invitations(0, 10).await.unwrap().0, kept);
}

async fn invitations_are_listed_newest_first_and_paged<S: InvitationStore>(store: S) {
    assert_eq!(
        store.invitations(0, 10).await.unwrap(),
        (0, Vec::new()),
        "no invitation yet"
    );
    let now = now_ms();
    let ago = |ms: i64| now - TimeDelta::milliseconds(ms);
    // Made in an order that is neither the list's nor its reverse; two in
    // the same millisecond, which their ids order.
    let mut all = vec![
        invitation_at("c@camelot.bt", ago(3_000)),
        invitation_at("a@camelot.bt", ago(1)),
        invitation_at("e@camelot.bt", ago(86_400_000)),
        invitation_at("b@camelot.bt", ago(2)),
        invitation_at("d@camelot.bt", ago(3_000)),
        invitation_at("f@camelot.bt", ago(86_400_001)),
        invitation_at("g@camelot.bt", ago(1_000)),
    ];
    for invitation in &all {
        store.create_invitation(invitation.clone()).await.unwrap();
    }
    // Revoked and accepted invitations are listed too.
    assert!(store.revoke_invitation(&all[0].id).await.unwrap());
    all[0].revoked = true;
    assert!(store.claim_invitation(&all[1].id, now).await.unwrap());
    all[1].accepted_at = Some(now);
    all.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
    let count = all.len() as u64;
    assert_eq!(
        store.invitations(0, 100).await.unwrap(),
        (count, all.clone()),
        "the whole list, newest first"
    );
    let huge = u64::MAX;
    let pages = [
        (0, 3),
        (3, 3),
        (6, 3),
        (2, 1),
        (1, 5),
        (count - 1, 1),
        (count, 3),
        (count + 1, 3),
        (100, 3),
        (0, 0),
        (3, 0),
        (0, huge),
        (1, huge),
        (huge, 1),
        (huge, huge),
        (huge - 1, huge),
        (1 << 63, 1 << 63),
    ];
    for (offset, limit) in pages {
        let want: Vec<Invitation> = all
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let got = store.invitations(offset, limit).await;
        let Ok((got_count, got)) = got else {
            panic!("the page at offset {offset}, limit {limit}: {got:?}");
        };
        assert_eq!(
            got_count, count,
            "the count, with the page at offset {offset}, limit {limit}"
        );
        assert_eq!(got, want, "the page at offset {offset}, limit {limit}");
    }
}

async fn the_pending_invitation_of_an_address_is_found_ascii_case_insensitively<
    S: InvitationStore,
>(
    store: S,
) {
    let now = now_ms();
    let arthur = invitation_at("Arthur@Camelot.bt", now);
    let umlaut = invitation_at("ÄRTHUR@camelot.bt", now);
    store.create_invitation(arthur.clone()).await.unwrap();
    store.create_invitation(umlaut.clone()).await.unwrap();
    let pending = |email: &'static str| store.pending_invitation(email, now);
    for email in [
        "Arthur@Camelot.bt",
        "arthur@camelot.bt",
        "ARTHUR@CAMELOT.BT",
        "aRTHUR@cAMELOT.bT",
    ] {
        assert_invitation(pending(email).await.unwrap(), &arthur, email);
    }
    // ASCII letters fold around the others, which are compared as they are.
    assert_invitation(
        pending("Ärthur@CAMELOT.bt").await.unwrap(),
        &umlaut,
        "Ärthur@CAMELOT.bt",
    );
    for other in [
        "ärthur@camelot.bt",
        "rthur@camelot.bt",
        "arthur@camelot.b",
        "arthur@camelot.bt.example",
        " arthur@camelot.bt",
        "_rthur@camelot.bt",
        "%@camelot.bt",
        "",
    ] {
        assert_eq!(pending(other).await.unwrap(), None, "{other:?}");
    }
    let with_nul = pending("arthur@camelot.bt\0").await;
    assert!(
        matches!(with_nul, Ok(None)),
        "an address with NUL finds nothing: {with_nul:?}"
    );
}

async fn accepted_revoked_and_expired_invitations_are_not_pending<S: InvitationStore>(store: S) {
    let now = now_ms();
    let hour = TimeDelta::hours(1);
    let accepted = invitation_at("accepted@camelot.bt", now - hour);
    let revoked = invitation_at("revoked@camelot.bt", now - hour);
    // Made 8 days ago, for 7: it ended a day ago.
    let expired = invitation_at("expired@camelot.bt", now - TimeDelta::days(8));
    for invitation in [&accepted, &revoked, &expired] {
        store.create_invitation(invitation.clone()).await.unwrap();
    }
    assert!(
        store
            .claim_invitation(&accepted.id, now - hour / 2)
            .await
            .unwrap()
    );
    assert!(store.revoke_invitation(&revoked.id).await.unwrap());
    for email in [
        "accepted@camelot.bt",
        "revoked@camelot.bt",
        "expired@camelot.bt",
    ] {
        assert_eq!(
            store.pending_invitation(email, now).await.unwrap(),
            None,
            "{email}"
        );
    }
    // The expired one was pending until its last millisecond, not from
    // `expires_at` on.
    let last = expired.expires_at - TimeDelta::milliseconds(1);
    assert_invitation(
        store
            .pending_invitation("expired@camelot.bt", last)
            .await
            .unwrap(),
        &expired,
        "expired, in its last millisecond",
    );
    assert_eq!(
        store
            .pending_invitation("expired@camelot.bt", expired.expires_at)
            .await
            .unwrap(),
        None,
        "expired, at its expires_at"
    );
    // An address invited again: its pending invitation is found beside the
    // ended one.
    for email in [
        "Accepted@camelot.bt",
        "REVOKED@camelot.bt",
        "Expired@camelot.bt",
    ] {
        let again = invitation_at(email, now);
        store.create_invitation(again.clone()).await.unwrap();
        assert_invitation(
            store
                .pending_invitation(&email.to_ascii_lowercase(), now)
                .await
                .unwrap(),
            &again,
            &format!("{email}, invited again"),
        );
    }
}

async fn revoking_answers_whether_the_invitation_exists_and_ends_it<S: InvitationStore>(store: S) {
    let now = now_ms();
    let invitation = invitation_at("arthur@camelot.bt", now);
    let other = invitation_at("merlin@camelot.bt", now);
    store.create_invitation(invitation.clone()).await.unwrap();
    store.create_invitation(other.clone()).await.unwrap();

    assert!(
        store.revoke_invitation(&invitation.id).await.unwrap(),
        "revoking an invitation that exists"
    );
    let mut revoked = invitation.clone();
    revoked.revoked = true;
    assert_invitation_stored(&store, &revoked, "revoked").await;
    assert_eq!(
        store
            .pending_invitation("arthur@camelot.bt", now)
            .await
            .unwrap(),
        None,
        "a revoked invitation is not pending"
    );
    assert!(
        !store.claim_invitation(&invitation.id, now).await.unwrap(),
        "a revoked invitation cannot be claimed"
    );
    assert_invitation_stored(&store, &revoked, "revoked, after a claim").await;
    assert!(
        store.revoke_invitation(&invitation.id).await.unwrap(),
        "revoking twice still finds the invitation"
    );
    assert!(
        !store
            .revoke_invitation(&uuid::Uuid::new_v4())
            .await
            .unwrap(),
        "revoking an invitation that does not exist"
    );
    assert_invitation_stored(&store, &other, "another invitation").await;

    // An accepted invitation revoked keeps when it was accepted; taking the
    // claim back does not make it claimable.
    assert!(store.claim_invitation(&other.id, now).await.unwrap());
    assert!(store.revoke_invitation(&other.id).await.unwrap());
    let mut other_revoked = other.clone();
    other_revoked.accepted_at = Some(now);
    other_revoked.revoked = true;
    assert_invitation_stored(&store, &other_revoked, "accepted, then revoked").await;
    store.unclaim_invitation(&other.id).await.unwrap();
    assert!(!store.claim_invitation(&other.id, now).await.unwrap());
}

async fn claiming_is_a_compare_and_set<S: InvitationStore>(store: S) {
    let now = now_ms();
    let invitation = invitation_at("arthur@camelot.bt", now);
    let other = invitation_at("merlin@camelot.bt", now);
    let late = invitation_at("gawain@camelot.bt", now);
    for one in [&invitation, &other, &late] {
        store.create_invitation(one.clone()).await.unwrap();
    }
    let at = now + TimeDelta::milliseconds(1_234);
    assert!(
        store.claim_invitation(&invitation.id, at).await.unwrap(),
        "the first claim"
    );
    let mut claimed = invitation.clone();
    claimed.accepted_at = Some(at);
    assert_invitation_stored(&store, &claimed, "claimed").await;
    assert!(
        !store
            .claim_invitation(&invitation.id, at + TimeDelta::seconds(1))
            .await
            .unwrap(),
        "a second claim"
    );
    assert_invitation_stored(&store, &claimed, "after a second claim").await;
    assert_eq!(
        store
            .pending_invitation("arthur@camelot.bt", at)
            .await
            .unwrap(),
        None,
        "a claimed invitation is not pending"
    );
    assert_invitation_stored(&store, &other, "another invitation, after a claim").await;

    // Taken back, the claim is undone and the invitation claimable again.
    store.unclaim_invitation(&invitation.id).await.unwrap();
    assert_invitation_stored(&store, &invitation, "unclaimed").await;
    assert_invitation(
        store
            .pending_invitation("arthur@camelot.bt", at)
            .await
            .unwrap(),
        &invitation,
        "unclaimed, pending again",
    );
    let again = at + TimeDelta::milliseconds(7);
    assert!(
        store.claim_invitation(&invitation.id, again).await.unwrap(),
        "a claim after an unclaim"
    );
    claimed.accepted_at = Some(again);
    assert_invitation_stored(&store, &claimed, "claimed again").await;

    // An invitation that does not exist.
    let missing = uuid::Uuid::new_v4();
    assert!(!store.claim_invitation(&missing, at).await.unwrap());
    store.unclaim_invitation(&missing).await.unwrap();

    // Expired: not at `expires_at` nor after; in its last millisecond, yes.
    for (when, what) in [
        (late.expires_at, "at its expires_at"),
        (late.expires_at + TimeDelta::days(1), "a day after"),
    ] {
        assert!(
            !store.claim_invitation(&late.id, when).await.unwrap(),
            "a claim of an expired invitation, {what}"
        );
        assert_invitation_stored(&store, &late, "expired, after a claim").await;
    }
    let last = late.expires_at - TimeDelta::milliseconds(1);
    assert!(
        store.claim_invitation(&late.id, last).await.unwrap(),
        "a claim in the last millisecond"
    );
}

async fn concurrent_claims_of_one_invitation_let_exactly_one_win<S: InvitationStore>(
    store: Arc<S>,
) {
    let now = now_ms();
    let invitation = invitation_at("race@camelot.bt", now);
    store.create_invitation(invitation.clone()).await.unwrap();
    let id = invitation.id;
    let tasks: Vec<_> = (1..=20)
        .map(|i| {
            let store = Arc::clone(&store);
            let at = now + TimeDelta::milliseconds(i);
            tokio::spawn(async move { (at, store.claim_invitation(&id, at).await) })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        let (at, claimed) = task.await.unwrap();
        match claimed {
            Ok(true) => won.push(at),
            Ok(false) => {}
            Err(e) => panic!("a concurrent claim failed: {e:?}"),
        }
    }
    assert_eq!(
        won.len(),
        1,
        "of 20 concurrent claims of one invitation, exactly one wins: {won:?}"
    );
    let mut claimed = invitation;
    claimed.accepted_at = Some(won[0]);
    assert_invitation_stored(&*store, &claimed, "the winning claim").await;
}

async fn duplicate_invitations_are_refused_and_change_nothing<S: InvitationStore>(store: S) {
    let now = now_ms();
    let first = invitation_at("arthur@camelot.bt", now);
    store.create_invitation(first.clone()).await.unwrap();
    let later = now + TimeDelta::milliseconds(1);
    let mut same_id = invitation_at("merlin@camelot.bt", later);
    same_id.id = first.id;
    let mut same_digest = invitation_at("merlin@camelot.bt", later);
    same_digest.token_digest = first.token_digest.clone();
    for (duplicate, what) in [(same_id, "id"), (same_digest, "token digest")] {
        let result = store.create_invitation(duplicate.clone()).await;
        assert!(
            matches!(&result, Err(e) if !matches!(e, StoreError::EmailTaken | StoreError::UsernameTaken)),
            "a second invitation with the same {what}: {result:?}"
        );
        assert_invitation_stored(&store, &first, &format!("after a duplicate {what}")).await;
        assert_eq!(
            store.invitations(0, 10).await.unwrap(),
            (1, vec![first.clone()]),
            "after a duplicate {what}"
        );
        assert_eq!(
            store
                .pending_invitation("merlin@camelot.bt", later)
                .await
                .unwrap(),
            None,
            "a duplicate {what} is pending"
        );
        if duplicate.id != first.id {
            assert_eq!(store.invitation(&duplicate.id).await.unwrap(), None);
        }
        if duplicate.token_digest != first.token_digest {
            assert_eq!(
                store
                    .invitation_by_token(&duplicate.token_digest)
                    .await
                    .unwrap(),
                None
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Second factors.

/// Runs the second-factor checks against fresh stores made by `make` (each
/// check gets its own, empty store, and makes its users with
/// [`UserStore::create`]): a pending TOTP secret replaced while pending and
/// kept once confirmed; confirmation only with the exact pending secret, once,
/// with its recovery codes and its step; time steps used once, later ones
/// only (also under 8 concurrent uses of one step); recovery codes replaced
/// and used once (also under 8 concurrent uses of one code); passkeys read
/// back whole and oldest first, one per credential id among every user's, a
/// use recorded as a compare-and-set on the signature counter, deleted only
/// by their owner; every factor of a user removed by
/// [`MfaStore::reset_mfa`] and when the user is deleted, and none of
/// another user's. The concurrent checks run on tasks of their own: run it
/// on a multi-thread runtime so that they race.
///
/// Times are given to stores cut to the millisecond and must read back
/// exact. Passkeys are made in the order of their `created_at`. Credential
/// ids and user handles are bytes (with 0x00 and 0xFF among them), and
/// signature counters go up to `u32::MAX`.
///
/// ```no_run
/// # async fn run() {
/// use axum_users::{User, store::{MemoryStore, suite}};
/// suite::run_mfa(|| async { MemoryStore::<User>::new() }).await;
/// # }
/// ```
pub async fn run_mfa<S, Fut, Mk>(make: Mk)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
    Mk: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    a_pending_totp_secret_is_replaced_while_pending(make().await).await;
    a_confirmed_totp_factor_refuses_a_new_pending_secret(make().await).await;
    confirming_takes_the_exact_pending_secret_once_with_its_codes_and_step(make().await).await;
    a_totp_step_is_used_once_and_only_later_ones_after_it(make().await).await;
    concurrent_uses_of_one_totp_step_let_exactly_one_win(Arc::new(make().await)).await;
    deleting_totp_removes_its_recovery_codes_and_tells_whether_it_was_confirmed(make().await).await;
    recovery_codes_are_replaced_whole_and_each_works_once(make().await).await;
    concurrent_uses_of_one_recovery_code_let_exactly_one_win(Arc::new(make().await)).await;
    passkeys_read_back_whole_oldest_first_and_by_credential(make().await).await;
    a_credential_id_is_stored_once_among_every_users_passkeys(make().await).await;
    a_passkey_use_is_a_compare_and_set_on_its_counter(make().await).await;
    a_passkey_is_deleted_only_by_its_owner(make().await).await;
    binary_credential_ids_and_the_largest_counter_round_trip(make().await).await;
    resetting_mfa_removes_every_factor_of_that_user_only(make().await).await;
    deleting_a_user_removes_its_factors(make().await).await;
}

/// How many tasks race in the checks of concurrent uses: each first reads
/// (so that a store with a pool has a connection open for each), then all
/// start together.
const RACERS: usize = 8;

/// A sealed TOTP secret as the suite writes it (opaque to stores).
fn sealed(n: u32) -> String {
    format!("v1.sealed-secret-{n}.{}", uuid::Uuid::new_v4().simple())
}

/// `n` recovery code digests, random.
fn recovery_digests(n: usize) -> Vec<String> {
    (0..n).map(|_| random_digest()).collect()
}

/// The digests sorted, to compare sets (stores keep no order of codes).
fn sorted(mut digests: Vec<String>) -> Vec<String> {
    digests.sort();
    digests
}

/// A passkey of `user_id` registered at `at` (to the millisecond), never
/// used, with this credential id.
fn passkey_of<Id>(user_id: &Id, credential_id: &[u8], at: DateTime<Utc>) -> StoredPasskey<Id>
where
    Id: Clone,
{
    StoredPasskey {
        id: uuid::Uuid::new_v4(),
        user_id: user_id.clone(),
        credential_id: credential_id.to_vec(),
        user_handle: uuid::Uuid::new_v4().as_bytes().to_vec(),
        name: "YubiKey 5 — « bureau » 🔑".into(),
        credential: format!("{{\"key\":\"{}\"}}", uuid::Uuid::new_v4()),
        sign_count: 7,
        created_at: to_the_millisecond(at),
        last_used_at: None,
    }
}

/// `got` is `want`, every field (those `Debug` leaves out first).
#[track_caller]
fn assert_passkey<Id: PartialEq + Debug>(
    got: Option<&StoredPasskey<Id>>,
    want: &StoredPasskey<Id>,
    what: &str,
) {
    let Some(got) = got else {
        panic!("{what}: no passkey, expected {want:?}");
    };
    assert_eq!(
        got.credential_id, want.credential_id,
        "{what}: the credential id"
    );
    assert_eq!(got.user_handle, want.user_handle, "{what}: the user handle");
    assert_eq!(got.credential, want.credential, "{what}: the credential");
    assert_eq!(got, want, "{what}");
}

/// Two users of `store`.
async fn two_users<S: UserStore>(store: &S) -> [<S::User as UserModel>::Id; 2]
where
    <S::User as UserModel>::Fields: Default,
{
    let a = store.create(data("arthur@camelot.bt")).await.unwrap();
    let b = store.create(data("lancelot@camelot.bt")).await.unwrap();
    [a.id().clone(), b.id().clone()]
}

/// Confirms a fresh TOTP factor of `user` at `step`, with `codes`.
async fn confirmed_totp<S, Id>(store: &S, user: &Id, step: u64, codes: &[String])
where
    S: MfaStore<Id>,
{
    let secret = sealed(1);
    let now = now_ms();
    assert!(store.set_pending_totp(user, &secret, now).await.unwrap());
    assert!(
        store
            .confirm_totp(user, &secret, step, codes, now)
            .await
            .unwrap()
    );
}

async fn a_pending_totp_secret_is_replaced_while_pending<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    assert_eq!(store.totp(&user).await.unwrap(), None, "no factor yet");
    let first_at = now_ms() - TimeDelta::seconds(10);
    assert!(
        store
            .set_pending_totp(&user, &sealed(1), first_at)
            .await
            .unwrap()
    );
    let second = sealed(2);
    let now = now_ms();
    assert!(
        store.set_pending_totp(&user, &second, now).await.unwrap(),
        "a pending secret is replaced"
    );
    let factor = store.totp(&user).await.unwrap().expect("a pending factor");
    assert_eq!(factor.secret, second, "the new secret");
    assert_eq!(
        factor,
        TotpFactor {
            secret: second.clone(),
            confirmed: false,
            last_used_step: None,
            created_at: now,
        }
    );
    assert_eq!(
        store.totp(&other).await.unwrap(),
        None,
        "another user has none"
    );
}

async fn a_confirmed_totp_factor_refuses_a_new_pending_secret<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, _] = two_users(&store).await;
    confirmed_totp(&store, &user, 100, &recovery_digests(2)).await;
    let before = store.totp(&user).await.unwrap().unwrap();
    assert!(before.confirmed);
    assert!(
        !store
            .set_pending_totp(&user, &sealed(2), now_ms())
            .await
            .unwrap(),
        "a confirmed factor is not replaced by a pending one"
    );
    let after = store.totp(&user).await.unwrap().unwrap();
    assert_eq!(after.secret, before.secret, "nothing written");
    assert_eq!(after, before, "nothing written");
}

async fn confirming_takes_the_exact_pending_secret_once_with_its_codes_and_step<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    let secret = sealed(1);
    let codes = recovery_digests(10);
    let now = now_ms();
    assert!(
        !store
            .confirm_totp(&user, &secret, 100, &codes, now)
            .await
            .unwrap(),
        "nothing pending"
    );
    let made = now - TimeDelta::seconds(30);
    assert!(store.set_pending_totp(&user, &secret, made).await.unwrap());
    // Another user's codes stay as they are.
    let others = recovery_digests(2);
    store.replace_recovery_codes(&other, &others).await.unwrap();
    for wrong in [
        sealed(1),
        format!("{secret}x"),
        secret[..secret.len() - 1].to_owned(),
    ] {
        assert!(
            !store
                .confirm_totp(&user, &wrong, 100, &codes, now)
                .await
                .unwrap(),
            "another secret: {wrong}"
        );
    }
    assert!(
        !store
            .confirm_totp(&other, &secret, 100, &codes, now)
            .await
            .unwrap(),
        "another user's pending secret"
    );
    let unconfirmed = store.totp(&user).await.unwrap().unwrap();
    assert!(
        !unconfirmed.confirmed,
        "refused confirmations write nothing"
    );
    assert_eq!(unconfirmed.created_at, made);
    assert!(store.recovery_codes(&user).await.unwrap().is_empty());
    assert!(
        store
            .confirm_totp(&user, &secret, 100, &codes, now)
            .await
            .unwrap(),
        "the exact pending secret"
    );
    assert_eq!(
        store.totp(&user).await.unwrap(),
        Some(TotpFactor {
            secret: secret.clone(),
            confirmed: true,
            last_used_step: Some(100),
            created_at: now,
        })
    );
    assert_eq!(
        sorted(store.recovery_codes(&user).await.unwrap()),
        sorted(codes.clone()),
        "the codes are stored with the confirmation"
    );
    let later = now + TimeDelta::seconds(30);
    assert!(
        !store
            .confirm_totp(&user, &secret, 101, &recovery_digests(10), later)
            .await
            .unwrap(),
        "a factor is confirmed once"
    );
    assert_eq!(
        store.totp(&user).await.unwrap().unwrap().last_used_step,
        Some(100),
        "nothing written by a second confirmation"
    );
    assert_eq!(
        sorted(store.recovery_codes(&user).await.unwrap()),
        sorted(codes),
        "nothing written by a second confirmation"
    );
    assert_eq!(
        sorted(store.recovery_codes(&other).await.unwrap()),
        sorted(others),
        "another user's codes stay"
    );
}

async fn a_totp_step_is_used_once_and_only_later_ones_after_it<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    assert!(
        !store.use_totp_step(&user, 1).await.unwrap(),
        "no factor: no step is accepted"
    );
    assert!(
        store
            .set_pending_totp(&user, &sealed(1), now_ms())
            .await
            .unwrap()
    );
    assert!(
        !store.use_totp_step(&user, 1).await.unwrap(),
        "a pending factor accepts no step"
    );
    assert!(
        store
            .totp(&user)
            .await
            .unwrap()
            .unwrap()
            .last_used_step
            .is_none()
    );
    store.delete_totp(&user).await.unwrap();
    confirmed_totp(&store, &user, 100, &[]).await;
    confirmed_totp(&store, &other, 500, &[]).await;
    assert!(
        !store.use_totp_step(&user, 100).await.unwrap(),
        "the confirming step is used"
    );
    assert!(
        !store.use_totp_step(&user, 99).await.unwrap(),
        "an earlier step"
    );
    assert!(
        store.use_totp_step(&user, 101).await.unwrap(),
        "the next step"
    );
    assert!(
        !store.use_totp_step(&user, 101).await.unwrap(),
        "the same step twice"
    );
    assert!(
        !store.use_totp_step(&user, 100).await.unwrap(),
        "an earlier step"
    );
    // Steps of a real clock (Unix time / 30) and far beyond.
    let now_step = (Utc::now().timestamp() / 30) as u64;
    assert!(store.use_totp_step(&user, now_step).await.unwrap());
    assert!(!store.use_totp_step(&user, now_step - 1).await.unwrap());
    let far = u64::from(u32::MAX) * 4;
    assert!(store.use_totp_step(&user, far).await.unwrap());
    assert_eq!(
        store.totp(&user).await.unwrap().unwrap().last_used_step,
        Some(far)
    );
    assert_eq!(
        store.totp(&other).await.unwrap().unwrap().last_used_step,
        Some(500),
        "another user's step stays"
    );
}

async fn concurrent_uses_of_one_totp_step_let_exactly_one_win<S>(store: Arc<S>)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, _] = two_users(&*store).await;
    confirmed_totp(&*store, &user, 100, &[]).await;
    let start = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            let user = user.clone();
            tokio::spawn(async move {
                // A read first, so that each task has a connection of its
                // own; every task waits, also one whose read failed.
                let read = store.totp(&user).await;
                start.wait().await;
                read?;
                store.use_totp_step(&user, 101).await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => won += 1,
            Ok(false) => {}
            Err(e) => panic!("a concurrent use of a step failed: {e:?}"),
        }
    }
    assert_eq!(
        won, 1,
        "of {RACERS} concurrent uses of one step, exactly one wins"
    );
    assert_eq!(
        store.totp(&user).await.unwrap().unwrap().last_used_step,
        Some(101)
    );
}

async fn deleting_totp_removes_its_recovery_codes_and_tells_whether_it_was_confirmed<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    assert!(
        !store.delete_totp(&user).await.unwrap(),
        "nothing to delete"
    );
    assert!(
        store
            .set_pending_totp(&user, &sealed(1), now_ms())
            .await
            .unwrap()
    );
    assert!(
        !store.delete_totp(&user).await.unwrap(),
        "a pending factor was not confirmed"
    );
    assert_eq!(store.totp(&user).await.unwrap(), None, "but it is gone");
    confirmed_totp(&store, &user, 100, &recovery_digests(3)).await;
    let others = recovery_digests(3);
    confirmed_totp(&store, &other, 100, &others).await;
    assert!(
        store.delete_totp(&user).await.unwrap(),
        "a confirmed factor"
    );
    assert_eq!(store.totp(&user).await.unwrap(), None);
    assert!(
        store.recovery_codes(&user).await.unwrap().is_empty(),
        "its recovery codes go with it"
    );
    assert!(!store.delete_totp(&user).await.unwrap(), "deleted once");
    assert!(
        store.totp(&other).await.unwrap().unwrap().confirmed,
        "another user's factor stays"
    );
    assert_eq!(
        sorted(store.recovery_codes(&other).await.unwrap()),
        sorted(others),
        "another user's codes stay"
    );
}

async fn recovery_codes_are_replaced_whole_and_each_works_once<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    assert!(store.recovery_codes(&user).await.unwrap().is_empty());
    let first = recovery_digests(10);
    store.replace_recovery_codes(&user, &first).await.unwrap();
    assert_eq!(
        sorted(store.recovery_codes(&user).await.unwrap()),
        sorted(first.clone())
    );
    let second = recovery_digests(10);
    store.replace_recovery_codes(&user, &second).await.unwrap();
    assert_eq!(
        sorted(store.recovery_codes(&user).await.unwrap()),
        sorted(second.clone()),
        "replaced whole"
    );
    assert!(
        !store.use_recovery_code(&user, &first[0]).await.unwrap(),
        "a replaced code no longer works"
    );
    assert!(
        !store.use_recovery_code(&other, &second[0]).await.unwrap(),
        "another user's code"
    );
    assert!(store.use_recovery_code(&user, &second[0]).await.unwrap());
    assert!(
        !store.use_recovery_code(&user, &second[0]).await.unwrap(),
        "a code works once"
    );
    assert_eq!(
        sorted(store.recovery_codes(&user).await.unwrap()),
        sorted(second[1..].to_vec()),
        "the others stay"
    );
    assert!(
        !store.use_recovery_code(&user, "").await.unwrap(),
        "no code"
    );
    store.replace_recovery_codes(&user, &[]).await.unwrap();
    assert!(
        store.recovery_codes(&user).await.unwrap().is_empty(),
        "replaced by none"
    );
}

async fn concurrent_uses_of_one_recovery_code_let_exactly_one_win<S>(store: Arc<S>)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, _] = two_users(&*store).await;
    let codes = recovery_digests(3);
    store.replace_recovery_codes(&user, &codes).await.unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            let user = user.clone();
            let code = codes[1].clone();
            tokio::spawn(async move {
                let read = store.recovery_codes(&user).await;
                start.wait().await;
                read?;
                store.use_recovery_code(&user, &code).await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => won += 1,
            Ok(false) => {}
            Err(e) => panic!("a concurrent use of a recovery code failed: {e:?}"),
        }
    }
    assert_eq!(
        won, 1,
        "of {RACERS} concurrent uses of one code, exactly one wins"
    );
    assert_eq!(
        sorted(store.recovery_codes(&user).await.unwrap()),
        sorted(vec![codes[0].clone(), codes[2].clone()])
    );
}

async fn passkeys_read_back_whole_oldest_first_and_by_credential<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    assert!(store.passkeys(&user).await.unwrap().is_empty());
    let now = now_ms();
    let oldest = passkey_of(&user, b"credential-1", now - TimeDelta::days(2));
    let mut used = passkey_of(&user, b"credential-2", now - TimeDelta::days(1));
    used.last_used_at = Some(now - TimeDelta::milliseconds(1));
    used.sign_count = 0;
    let newest = passkey_of(&user, b"credential-3", now);
    let others = passkey_of(&other, b"credential-4", now - TimeDelta::days(3));
    for passkey in [&oldest, &others, &used, &newest] {
        store.create_passkey(passkey.clone()).await.unwrap();
    }
    let listed = store.passkeys(&user).await.unwrap();
    assert_eq!(
        listed.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![oldest.id, used.id, newest.id],
        "the user's passkeys, oldest first"
    );
    for (got, want) in listed.iter().zip([&oldest, &used, &newest]) {
        assert_passkey(Some(got), want, "listed");
    }
    assert_eq!(store.passkeys(&other).await.unwrap(), vec![others.clone()]);
    for want in [&oldest, &used, &newest, &others] {
        let found = store
            .passkey_by_credential(&want.credential_id)
            .await
            .unwrap();
        assert_passkey(found.as_ref(), want, "by credential id");
    }
    for missing in [
        &b"credential-"[..],
        &b"credential-5"[..],
        &b"Credential-1"[..],
        &b""[..],
    ] {
        assert_eq!(
            store.passkey_by_credential(missing).await.unwrap(),
            None,
            "{missing:?}"
        );
    }
}

async fn a_credential_id_is_stored_once_among_every_users_passkeys<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    let now = now_ms();
    let first = passkey_of(&user, b"credential-1", now);
    store.create_passkey(first.clone()).await.unwrap();
    for owner in [&user, &other] {
        let duplicate = passkey_of(owner, b"credential-1", now + TimeDelta::milliseconds(1));
        let result = store.create_passkey(duplicate.clone()).await;
        assert!(
            matches!(result, Err(StoreError::Conflict)),
            "a credential id stored already: {result:?}"
        );
        assert_eq!(
            store.passkeys(owner).await.unwrap().len(),
            usize::from(*owner == user),
            "nothing written"
        );
    }
    let found = store.passkey_by_credential(b"credential-1").await.unwrap();
    assert_passkey(found.as_ref(), &first, "the first stays");
    // Another credential id is another passkey, also of the same user.
    store
        .create_passkey(passkey_of(&user, b"credential-2", now))
        .await
        .unwrap();
    assert_eq!(store.passkeys(&user).await.unwrap().len(), 2);
}

async fn a_passkey_use_is_a_compare_and_set_on_its_counter<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, _] = two_users(&store).await;
    let passkey = passkey_of(&user, b"credential-1", now_ms() - TimeDelta::days(1));
    store.create_passkey(passkey.clone()).await.unwrap();
    let at = now_ms();
    let stale = PasskeyUse {
        id: &passkey.id,
        if_sign_count: passkey.sign_count + 1,
        sign_count: passkey.sign_count + 2,
        credential: "{\"key\":\"stale\"}",
        at,
    };
    assert!(
        !store.passkey_used(stale).await.unwrap(),
        "another counter than the stored one"
    );
    let kept = store.passkey_by_credential(b"credential-1").await.unwrap();
    assert_passkey(kept.as_ref(), &passkey, "nothing written");
    let missing = uuid::Uuid::new_v4();
    let unknown = PasskeyUse {
        id: &missing,
        if_sign_count: passkey.sign_count,
        sign_count: passkey.sign_count + 1,
        credential: "{}",
        at,
    };
    assert!(
        !store.passkey_used(unknown).await.unwrap(),
        "no such passkey"
    );
    let fresh = PasskeyUse {
        id: &passkey.id,
        if_sign_count: passkey.sign_count,
        sign_count: passkey.sign_count + 1,
        credential: "{\"key\":\"fresh\"}",
        at,
    };
    assert!(store.passkey_used(fresh.clone()).await.unwrap());
    let mut want = passkey.clone();
    want.sign_count = passkey.sign_count + 1;
    want.credential = "{\"key\":\"fresh\"}".into();
    want.last_used_at = Some(at);
    let got = store.passkey_by_credential(b"credential-1").await.unwrap();
    assert_passkey(got.as_ref(), &want, "the use recorded");
    assert!(
        !store.passkey_used(fresh).await.unwrap(),
        "the counter read before the first use no longer matches"
    );
    // An authenticator that keeps no counter (0 stays 0): each use counts.
    let mut zero = passkey_of(&user, b"credential-0", now_ms());
    zero.sign_count = 0;
    store.create_passkey(zero.clone()).await.unwrap();
    for i in 1..=2 {
        let later = at + TimeDelta::seconds(i);
        let again = PasskeyUse {
            id: &zero.id,
            if_sign_count: 0,
            sign_count: 0,
            credential: &zero.credential,
            at: later,
        };
        assert!(store.passkey_used(again).await.unwrap(), "use {i}");
        let got = store.passkey_by_credential(b"credential-0").await.unwrap();
        assert_eq!(got.unwrap().last_used_at, Some(later));
    }
}

async fn a_passkey_is_deleted_only_by_its_owner<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    let now = now_ms();
    let first = passkey_of(&user, b"credential-1", now - TimeDelta::seconds(1));
    let second = passkey_of(&user, b"credential-2", now);
    store.create_passkey(first.clone()).await.unwrap();
    store.create_passkey(second.clone()).await.unwrap();
    assert!(
        !store.delete_passkey(&other, &first.id).await.unwrap(),
        "another user's passkey"
    );
    assert_eq!(store.passkeys(&user).await.unwrap().len(), 2, "it stays");
    assert!(
        !store
            .delete_passkey(&user, &uuid::Uuid::new_v4())
            .await
            .unwrap(),
        "no such passkey"
    );
    assert!(store.delete_passkey(&user, &first.id).await.unwrap());
    assert!(
        !store.delete_passkey(&user, &first.id).await.unwrap(),
        "deleted once"
    );
    assert_eq!(store.passkeys(&user).await.unwrap(), vec![second]);
    assert_eq!(
        store.passkey_by_credential(b"credential-1").await.unwrap(),
        None
    );
    // Its credential id is free again.
    store
        .create_passkey(passkey_of(&other, b"credential-1", now))
        .await
        .unwrap();
}

async fn binary_credential_ids_and_the_largest_counter_round_trip<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, _] = two_users(&store).await;
    let now = now_ms();
    let bytes: Vec<u8> = (0..=255).rev().collect();
    let mut binary = passkey_of(&user, &[0x00, 0xFF, 0x00, 0x80, 0x7F, 0xFF, 0x00], now);
    binary.user_handle = bytes.clone();
    binary.sign_count = u32::MAX;
    store.create_passkey(binary.clone()).await.unwrap();
    // Ids that differ only after a NUL, or in a trailing NUL, are others.
    let mut prefix = passkey_of(&user, &[0x00, 0xFF, 0x00], now);
    prefix.user_handle = vec![0x00; 64];
    store.create_passkey(prefix.clone()).await.unwrap();
    let mut longer = passkey_of(
        &user,
        &[0x00, 0xFF, 0x00, 0x80, 0x7F, 0xFF, 0x00, 0x00],
        now,
    );
    longer.user_handle = vec![0xFF; 64];
    store.create_passkey(longer.clone()).await.unwrap();
    for want in [&binary, &prefix, &longer] {
        let got = store
            .passkey_by_credential(&want.credential_id)
            .await
            .unwrap();
        assert_passkey(got.as_ref(), want, "binary ids and handles");
    }
    assert_eq!(store.passkey_by_credential(&[0x00]).await.unwrap(), None);
    // The counter at its largest, set by a use too.
    let up = PasskeyUse {
        id: &prefix.id,
        if_sign_count: prefix.sign_count,
        sign_count: u32::MAX,
        credential: &prefix.credential,
        at: now,
    };
    assert!(store.passkey_used(up).await.unwrap());
    let last = PasskeyUse {
        id: &binary.id,
        if_sign_count: u32::MAX,
        sign_count: u32::MAX,
        credential: &binary.credential,
        at: now,
    };
    assert!(store.passkey_used(last).await.unwrap(), "u32::MAX compares");
    for credential_id in [&binary.credential_id, &prefix.credential_id] {
        let got = store.passkey_by_credential(credential_id).await.unwrap();
        assert_eq!(got.unwrap().sign_count, u32::MAX);
    }
}

async fn resetting_mfa_removes_every_factor_of_that_user_only<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    let now = now_ms();
    for (id, credential_id) in [(&user, b"credential-1"), (&other, b"credential-2")] {
        confirmed_totp(&store, id, 100, &recovery_digests(3)).await;
        store
            .create_passkey(passkey_of(id, credential_id, now))
            .await
            .unwrap();
    }
    store.reset_mfa(&user).await.unwrap();
    assert_eq!(store.totp(&user).await.unwrap(), None);
    assert!(store.recovery_codes(&user).await.unwrap().is_empty());
    assert!(store.passkeys(&user).await.unwrap().is_empty());
    assert_eq!(
        store.passkey_by_credential(b"credential-1").await.unwrap(),
        None
    );
    assert!(store.totp(&other).await.unwrap().unwrap().confirmed);
    assert_eq!(store.recovery_codes(&other).await.unwrap().len(), 3);
    assert_eq!(store.passkeys(&other).await.unwrap().len(), 1);
    store.reset_mfa(&user).await.unwrap();
    // A user without factors, and a pending factor.
    assert!(
        store
            .set_pending_totp(&user, &sealed(1), now)
            .await
            .unwrap()
    );
    store.reset_mfa(&user).await.unwrap();
    assert_eq!(store.totp(&user).await.unwrap(), None);
}

async fn deleting_a_user_removes_its_factors<S>(store: S)
where
    S: UserStore + MfaStore<<S::User as UserModel>::Id>,
    <S::User as UserModel>::Fields: Default,
{
    let [user, other] = two_users(&store).await;
    let now = now_ms();
    for (id, credential_id) in [(&user, b"credential-1"), (&other, b"credential-2")] {
        confirmed_totp(&store, id, 100, &recovery_digests(3)).await;
        store
            .create_passkey(passkey_of(id, credential_id, now))
            .await
            .unwrap();
    }
    store.delete(&user).await.unwrap();
    assert_eq!(
        store.passkey_by_credential(b"credential-1").await.unwrap(),
        None,
        "the passkey went with its user"
    );
    assert_eq!(store.totp(&user).await.unwrap(), None);
    assert!(store.recovery_codes(&user).await.unwrap().is_empty());
    assert!(store.passkeys(&user).await.unwrap().is_empty());
    assert_eq!(
        store.passkeys(&other).await.unwrap().len(),
        1,
        "not others'"
    );
    assert!(store.totp(&other).await.unwrap().is_some(), "not others'");
    // Nothing is written for a user that is gone.
    let result = store.set_pending_totp(&user, &sealed(1), now).await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "a pending secret of a missing user: {result:?}"
    );
    let result = store
        .create_passkey(passkey_of(&user, b"credential-1", now))
        .await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "a passkey of a missing user: {result:?}"
    );
    let result = store
        .replace_recovery_codes(&user, &recovery_digests(2))
        .await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "recovery codes of a missing user: {result:?}"
    );
    assert_eq!(store.totp(&user).await.unwrap(), None);
    assert_eq!(
        store.passkey_by_credential(b"credential-1").await.unwrap(),
        None
    );
    assert!(store.recovery_codes(&user).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// Challenges.

/// Runs the challenge checks against fresh stores made by `make` (each check
/// gets its own, empty store): challenges read back exactly (their data
/// bytes, NUL among them) while they live and never once dead (at their
/// `expires_at` they are dead), taken once (also under 8 concurrent takes
/// of one challenge, on tasks of their own: run it on a multi-thread runtime
/// so that they race), wrong answers counted up to the maximum, which
/// removes the challenge, and dead challenges deleted and counted.
///
/// Times are given to stores cut to the millisecond and must read back
/// exact.
///
/// ```no_run
/// # async fn run() {
/// use axum_users::{User, store::{MemoryStore, suite}};
/// suite::run_challenges(|| async { MemoryStore::<User>::new() }).await;
/// # }
/// ```
pub async fn run_challenges<S, Fut, Mk>(make: Mk)
where
    S: ChallengeStore,
    Mk: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    challenges_read_back_exactly_while_they_live(make().await).await;
    a_dead_challenge_is_never_answered(make().await).await;
    a_challenge_is_taken_once(make().await).await;
    concurrent_takes_of_one_challenge_let_exactly_one_win(Arc::new(make().await)).await;
    wrong_answers_are_counted_and_the_last_allowed_removes_the_challenge(make().await).await;
    deleting_dead_challenges_counts_only_them(make().await).await;
}

/// Challenge data with every byte value, NUL first.
fn challenge_data(tag: u8) -> Vec<u8> {
    let mut data = vec![0x00, tag, 0x00, 0xFF];
    data.extend(0..=255);
    data.push(0x00);
    data
}

async fn challenges_read_back_exactly_while_they_live<S: ChallengeStore>(store: S) {
    let now = now_ms();
    let expires_at = now + TimeDelta::minutes(5);
    let key = random_digest();
    assert_eq!(store.challenge(&key, now).await.unwrap(), None);
    store
        .put_challenge(&key, &challenge_data(1), expires_at)
        .await
        .unwrap();
    let other = random_digest();
    store.put_challenge(&other, b"", expires_at).await.unwrap();
    let want = Challenge {
        data: challenge_data(1),
        failures: 0,
        expires_at,
    };
    for _ in 0..2 {
        let got = store.challenge(&key, now).await.unwrap();
        assert_eq!(
            got.as_ref().map(|c| &c.data),
            Some(&want.data),
            "the data, byte for byte (a read leaves it)"
        );
        assert_eq!(got, Some(want.clone()));
    }
    assert_eq!(
        store.challenge(&other, now).await.unwrap().map(|c| c.data),
        Some(Vec::new()),
        "empty data"
    );
    assert_eq!(
        store.challenge(&key[..63], now).await.unwrap(),
        None,
        "another key"
    );
    // Stored again under its key, a challenge starts afresh.
    store.fail_challenge(&key, 5).await.unwrap();
    let later = expires_at + TimeDelta::minutes(1);
    store
        .put_challenge(&key, &challenge_data(2), later)
        .await
        .unwrap();
    assert_eq!(
        store.challenge(&key, now).await.unwrap(),
        Some(Challenge {
            data: challenge_data(2),
            failures: 0,
            expires_at: later,
        })
    );
}

async fn a_dead_challenge_is_never_answered<S: ChallengeStore>(store: S) {
    let now = now_ms();
    let expires_at = now + TimeDelta::seconds(60);
    let key = random_digest();
    store
        .put_challenge(&key, &challenge_data(1), expires_at)
        .await
        .unwrap();
    let last = expires_at - TimeDelta::milliseconds(1);
    assert!(
        store.challenge(&key, last).await.unwrap().is_some(),
        "alive in its last millisecond"
    );
    for dead in [expires_at, expires_at + TimeDelta::days(1)] {
        assert_eq!(
            store.challenge(&key, dead).await.unwrap(),
            None,
            "dead at {dead}"
        );
    }
    assert_eq!(
        store.take_challenge(&key, expires_at).await.unwrap(),
        None,
        "a dead challenge is not taken"
    );
    // Stored dead already.
    let dead = random_digest();
    store
        .put_challenge(&dead, b"x", now - TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(store.challenge(&dead, now).await.unwrap(), None);
    assert_eq!(store.take_challenge(&dead, now).await.unwrap(), None);
}

async fn a_challenge_is_taken_once<S: ChallengeStore>(store: S) {
    let now = now_ms();
    let expires_at = now + TimeDelta::minutes(5);
    let (key, other) = (random_digest(), random_digest());
    store
        .put_challenge(&key, &challenge_data(1), expires_at)
        .await
        .unwrap();
    store
        .put_challenge(&other, &challenge_data(2), expires_at)
        .await
        .unwrap();
    store.fail_challenge(&key, 5).await.unwrap();
    assert_eq!(
        store.take_challenge(&key, now).await.unwrap(),
        Some(Challenge {
            data: challenge_data(1),
            failures: 1,
            expires_at,
        })
    );
    assert_eq!(
        store.take_challenge(&key, now).await.unwrap(),
        None,
        "taken once"
    );
    assert_eq!(store.challenge(&key, now).await.unwrap(), None, "gone");
    assert_eq!(
        store.challenge(&other, now).await.unwrap().map(|c| c.data),
        Some(challenge_data(2)),
        "another challenge stays"
    );
}

async fn concurrent_takes_of_one_challenge_let_exactly_one_win<S: ChallengeStore>(store: Arc<S>) {
    let now = now_ms();
    let key = random_digest();
    store
        .put_challenge(&key, &challenge_data(1), now + TimeDelta::minutes(5))
        .await
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            let key = key.clone();
            tokio::spawn(async move {
                let read = store.challenge(&key, now).await;
                start.wait().await;
                read?;
                store.take_challenge(&key, now).await
            })
        })
        .collect();
    let mut taken = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(Some(challenge)) => taken.push(challenge),
            Ok(None) => {}
            Err(e) => panic!("a concurrent take failed: {e:?}"),
        }
    }
    assert_eq!(
        taken.len(),
        1,
        "of {RACERS} concurrent takes of one challenge, exactly one gets it"
    );
    assert_eq!(taken[0].data, challenge_data(1));
}

async fn wrong_answers_are_counted_and_the_last_allowed_removes_the_challenge<S: ChallengeStore>(
    store: S,
) {
    let now = now_ms();
    let expires_at = now + TimeDelta::minutes(5);
    let (key, other) = (random_digest(), random_digest());
    for k in [&key, &other] {
        store
            .put_challenge(k, &challenge_data(1), expires_at)
            .await
            .unwrap();
    }
    for failures in 1..=2 {
        store.fail_challenge(&key, 3).await.unwrap();
        assert_eq!(
            store
                .challenge(&key, now)
                .await
                .unwrap()
                .map(|c| c.failures),
            Some(failures)
        );
    }
    store.fail_challenge(&key, 3).await.unwrap();
    assert_eq!(
        store.challenge(&key, now).await.unwrap(),
        None,
        "removed at the maximum"
    );
    assert_eq!(store.take_challenge(&key, now).await.unwrap(), None);
    store
        .fail_challenge(&key, 3)
        .await
        .expect("failing a challenge that is gone is no error");
    store
        .fail_challenge(&random_digest(), 3)
        .await
        .expect("failing a challenge that never was is no error");
    assert_eq!(
        store
            .challenge(&other, now)
            .await
            .unwrap()
            .map(|c| c.failures),
        Some(0),
        "another challenge is not counted"
    );
    // A maximum of one: the first wrong answer removes it.
    store.fail_challenge(&other, 1).await.unwrap();
    assert_eq!(store.challenge(&other, now).await.unwrap(), None);
}

async fn deleting_dead_challenges_counts_only_them<S: ChallengeStore>(store: S) {
    let now = now_ms();
    let dead = [
        now - TimeDelta::days(1),
        now - TimeDelta::milliseconds(1),
        now,
    ];
    let live = [
        now + TimeDelta::milliseconds(1),
        now + TimeDelta::minutes(5),
    ];
    let mut live_keys = Vec::new();
    for expires_at in dead {
        store
            .put_challenge(&random_digest(), b"dead", expires_at)
            .await
            .unwrap();
    }
    for expires_at in live {
        let key = random_digest();
        store
            .put_challenge(&key, b"live", expires_at)
            .await
            .unwrap();
        live_keys.push((key, expires_at));
    }
    assert_eq!(
        store.delete_expired_challenges(now).await.unwrap(),
        3,
        "the dead ones (ending at or before now)"
    );
    for (key, expires_at) in &live_keys {
        assert_eq!(
            store.challenge(key, now).await.unwrap(),
            Some(Challenge {
                data: b"live".to_vec(),
                failures: 0,
                expires_at: *expires_at,
            }),
            "a live one stays"
        );
    }
    assert_eq!(store.delete_expired_challenges(now).await.unwrap(), 0);
    assert_eq!(
        store
            .delete_expired_challenges(now + TimeDelta::hours(1))
            .await
            .unwrap(),
        2
    );
}

// ---------------------------------------------------------------------------
// Sessions.

/// How a [`SessionStore`] forgets the sessions that have ended, as
/// [`sessions`] checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// [`SessionStore::delete_expired_sessions`] deletes them, with their
    /// retired tokens, and counts them: the memory and SQL stores.
    Deleted,
    /// The store forgets an ended session (and its retired tokens) by itself
    /// at most this long after it was stored or rotated: Redis, whose keys
    /// expire with their session (one second when it has ended already).
    /// [`SessionStore::delete_expired_sessions`] may delete none and answer
    /// 0; it never deletes a live session.
    ForgottenWithin(Duration),
}

/// Runs every session check against `store`: sessions read back whole (both
/// kinds, by token, by id and by user), duplicates refused, uses recorded,
/// tokens rotated once (also under 8 concurrent rotations of one token) and
/// remembered once retired, sessions deleted one by one, by user, and when
/// they end, as `expiry` says.
///
/// `users` are two distinct users the store may keep sessions of: users it
/// holds when its sessions need one (the provided memory and SQL stores),
/// any two ids when users live elsewhere (Redis). The store holds no session
/// when the suite starts (the checks count what
/// [`SessionStore::delete_expired_sessions`] deletes), and none of the two
/// users when it ends.
///
/// Times are given to stores with fractions of a second and compared to the
/// second, as stores keep them (cut, never rounded up). A duplicate session
/// must fail with an error other than [`StoreError::EmailTaken`], which would
/// tell a client logging in that its address is taken.
pub async fn sessions<Id, S>(store: &S, users: [Id; 2], expiry: Expiry)
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert!(users[0] != users[1], "the suite needs two distinct users");
    sessions_read_back_whole(store, &users).await;
    duplicate_sessions_are_refused_and_change_nothing(store, &users).await;
    touch_moves_last_used_at_only(store, &users).await;
    rotation_replaces_the_current_token_once(store, &users).await;
    concurrent_rotations_of_one_token_let_exactly_one_win(store, &users).await;
    deleting_a_session_ends_it_once_with_its_retired_tokens(store, &users).await;
    deleting_a_users_sessions_leaves_the_other_users(store, &users).await;
    ended_sessions_go_and_live_ones_stay(store, &users, expiry).await;
}

/// 64 lowercase hex digits, as a SHA-256 digest of a token; random.
fn random_digest() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A session of `user` opened now through `login`, ending in an hour.
fn opened<Id>(user: &Id, kind: SessionKind, login: &LoginContext) -> Session<Id>
where
    Id: Clone,
{
    let end = session::now() + TimeDelta::hours(1);
    Session::open(
        user.clone(),
        kind,
        random_digest(),
        login,
        end,
        "4:2".into(),
    )
    .expect("a new session id")
}

/// A session of `user` from a login with an agent and an address.
fn session_of<Id: Clone>(user: &Id, kind: SessionKind) -> Session<Id> {
    let login = LoginContext::new("suite", Some("suite/1.0"), Some([192, 0, 2, 1].into()));
    opened(user, kind, &login)
}

/// The session of this rotation, once rotated.
fn rotated<Id: Clone>(session: &Session<Id>, rotation: &Rotation<'_>) -> Session<Id> {
    let mut after = session.clone();
    after.token_digest = rotation.new_digest.to_owned();
    after.last_used_at = rotation.at;
    after.expires_at = rotation.expires_at;
    after
}

/// Whether two times are the same second.
fn same_second(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    a.timestamp() == b.timestamp()
}

/// `got` is `want`, field by field, its times to the second.
#[track_caller]
fn assert_session<Id: PartialEq + Debug>(got: Option<Session<Id>>, want: &Session<Id>, what: &str) {
    let Some(got) = got else {
        panic!("{what}: no session, expected {want:?}");
    };
    assert_eq!(got.id, want.id, "{what}: id");
    assert_eq!(got.user_id, want.user_id, "{what}: user_id");
    assert_eq!(got.backend, want.backend, "{what}: backend");
    assert_eq!(got.kind, want.kind, "{what}: kind");
    assert_eq!(got.token_digest, want.token_digest, "{what}: token_digest");
    for (field, got, want) in [
        ("created_at", got.created_at, want.created_at),
        ("last_used_at", got.last_used_at, want.last_used_at),
        ("expires_at", got.expires_at, want.expires_at),
    ] {
        assert!(
            same_second(got, want),
            "{what}: {field} {got}, expected {want} to the second"
        );
    }
    assert_eq!(got.user_agent, want.user_agent, "{what}: user_agent");
    assert_eq!(got.ip, want.ip, "{what}: ip");
    assert_eq!(got.binding, want.binding, "{what}: binding");
}

/// The session is stored as `want`: by id, by its current token, and among
/// its user's sessions.
async fn assert_stored<Id, S>(store: &S, want: &Session<Id>, what: &str)
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_session(
        store.session(&want.id).await.unwrap(),
        want,
        &format!("{what}, by id"),
    );
    assert_session(
        store.session_by_token(&want.token_digest).await.unwrap(),
        want,
        &format!("{what}, by token"),
    );
    let listed = store
        .user_sessions(&want.user_id)
        .await
        .unwrap()
        .into_iter()
        .find(|session| session.id == want.id);
    assert_session(listed, want, &format!("{what}, among its user's sessions"));
}

/// Nothing is found of the session: by id, by its current token, by a
/// token it retired, among its user's sessions.
async fn assert_gone<Id, S>(store: &S, gone: &Session<Id>, retired: &[&str], what: &str)
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_eq!(
        store.session(&gone.id).await.unwrap(),
        None,
        "{what}: found by id"
    );
    assert_eq!(
        store.session_by_token(&gone.token_digest).await.unwrap(),
        None,
        "{what}: found by token"
    );
    for digest in retired {
        assert_eq!(
            store.retired_token_session(digest).await.unwrap(),
            None,
            "{what}: a token it retired still names it"
        );
    }
    let ids = session_ids(store, &gone.user_id).await;
    assert!(
        !ids.contains(&gone.id),
        "{what}: still among its user's sessions"
    );
}

/// The ids of a user's sessions, sorted.
async fn session_ids<Id, S>(store: &S, user: &Id) -> Vec<String>
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    let mut ids: Vec<String> = store
        .user_sessions(user)
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id)
        .collect();
    ids.sort();
    ids
}

/// Sorted ids.
fn ids_of<Id>(sessions: &[&Session<Id>]) -> Vec<String> {
    let mut ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    ids
}

/// Rotates a session's token; whether it was rotated.
async fn rotate<Id, S>(store: &S, rotation: Rotation<'_>) -> bool
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    store.rotate_session_token(rotation).await.unwrap()
}

/// The two users have no session (before a check).
async fn assert_no_sessions<Id, S>(store: &S, users: &[Id; 2], check: &str)
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    for user in users {
        assert_eq!(
            session_ids(store, user).await,
            Vec::<String>::new(),
            "{check}: the users have sessions before the check ({user:?})"
        );
    }
}

/// Ends the two users' sessions (after a check).
async fn clear<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    for user in users {
        store.delete_user_sessions(user).await.unwrap();
    }
}

async fn sessions_read_back_whole<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "read back whole").await;
    let [a, b] = users;
    let now = session::now();
    // No agent, no address; times with fractions of a second.
    let mut bare = Session::stored(
        new_session_id().unwrap(),
        a.clone(),
        SessionKind::Token,
        random_digest(),
    );
    bare.backend = "database".into();
    bare.created_at = now - TimeDelta::days(2) + TimeDelta::milliseconds(999);
    bare.last_used_at = now - TimeDelta::hours(1) + TimeDelta::milliseconds(500);
    bare.expires_at = now + TimeDelta::days(1) + TimeDelta::milliseconds(999);
    bare.binding = "0:0".into();
    // The longest agent kept, of characters of 1 to 4 bytes; an IPv6 address.
    let agent: String = "Mozilla/5.0 (Ünïcödé; 日本語; 🦀) "
        .chars()
        .cycle()
        .take(2 * MAX_USER_AGENT_CHARS)
        .collect();
    let login = LoginContext::new(
        "refresh",
        Some(&agent),
        Some("2001:db8::7".parse().unwrap()),
    );
    let long = opened(a, SessionKind::Refresh, &login);
    assert_eq!(
        long.user_agent.as_ref().map(|agent| agent.chars().count()),
        Some(MAX_USER_AGENT_CHARS)
    );
    let other = session_of(b, SessionKind::Token);
    for session in [&bare, &long, &other] {
        store.create_session(session.clone()).await.unwrap();
    }

    assert_stored(store, &bare, "a session without agent nor address").await;
    assert_stored(store, &long, "a refresh session with a 512-character agent").await;
    assert_stored(store, &other, "another user's session").await;
    assert_eq!(session_ids(store, a).await, ids_of(&[&bare, &long]));
    assert_eq!(session_ids(store, b).await, ids_of(&[&other]));
    // Ids and digests are apart, and a current token is not a retired one.
    assert_eq!(store.session(&bare.token_digest).await.unwrap(), None);
    assert_eq!(store.session_by_token(&bare.id).await.unwrap(), None);
    assert_eq!(
        store
            .retired_token_session(&long.token_digest)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.session("no-such-session").await.unwrap(), None);
    assert_eq!(
        store.session_by_token(&random_digest()).await.unwrap(),
        None
    );
    clear(store, users).await;
}

async fn duplicate_sessions_are_refused_and_change_nothing<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "duplicates").await;
    let [a, b] = users;
    let first = session_of(a, SessionKind::Token);
    store.create_session(first.clone()).await.unwrap();
    // Of another user, so that nothing of theirs may be left behind either.
    let mut same_id = session_of(b, SessionKind::Refresh);
    same_id.id = first.id.clone();
    let mut same_digest = session_of(b, SessionKind::Refresh);
    same_digest.token_digest = first.token_digest.clone();
    for (duplicate, what) in [(same_id, "id"), (same_digest, "token digest")] {
        let result = store.create_session(duplicate.clone()).await;
        assert!(
            matches!(&result, Err(e) if !matches!(e, StoreError::EmailTaken)),
            "a second session with the same {what}: {result:?}"
        );
        assert_stored(store, &first, &format!("after a duplicate {what}")).await;
        assert_eq!(session_ids(store, a).await, ids_of(&[&first]));
        assert_eq!(
            session_ids(store, b).await,
            Vec::<String>::new(),
            "a duplicate {what} left a session of its user"
        );
    }
    clear(store, users).await;
}

async fn touch_moves_last_used_at_only<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "touch").await;
    let [a, _] = users;
    let session = session_of(a, SessionKind::Token);
    store.create_session(session.clone()).await.unwrap();
    let mut used = session.clone();
    used.last_used_at = session.last_used_at + TimeDelta::minutes(5);
    store
        .touch_session(&session.id, used.last_used_at)
        .await
        .unwrap();
    assert_stored(store, &used, "a touched session").await;
    // A session that is not there: no error, nothing stored.
    store
        .touch_session("no-such-session", used.last_used_at)
        .await
        .unwrap();
    assert_eq!(store.session("no-such-session").await.unwrap(), None);
    clear(store, users).await;
}

async fn rotation_replaces_the_current_token_once<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "rotation").await;
    let [a, _] = users;
    let session = session_of(a, SessionKind::Refresh);
    let other = session_of(a, SessionKind::Refresh);
    for s in [&session, &other] {
        store.create_session(s.clone()).await.unwrap();
    }
    let old = session.token_digest.as_str();
    let new = random_digest();
    let at = session.last_used_at + TimeDelta::minutes(15);
    let end = session.expires_at + TimeDelta::minutes(15);

    // Another session's token, or an unknown session, rotates nothing.
    let mismatched = [
        Rotation::new(&session.id, &other.token_digest, &new, at, end),
        Rotation::new(&other.id, old, &new, at, end),
        Rotation::new("no-such-session", old, &new, at, end),
    ];
    for rotation in mismatched {
        assert!(
            !rotate(store, rotation.clone()).await,
            "a token that is not the session's current one rotated: {rotation:?}"
        );
    }
    assert_stored(store, &session, "after refused rotations").await;
    assert_stored(store, &other, "another session, after refused rotations").await;
    assert_eq!(store.session_by_token(&new).await.unwrap(), None);

    let rotation = Rotation::new(&session.id, old, &new, at, end);
    assert!(
        rotate(store, rotation.clone()).await,
        "the current token rotates"
    );
    let after = rotated(&session, &rotation);
    assert_stored(store, &after, "a rotated session").await;
    assert_eq!(
        store.session_by_token(old).await.unwrap(),
        None,
        "the old token finds no session"
    );
    assert_eq!(
        store.retired_token_session(old).await.unwrap(),
        Some(session.id.clone()),
        "the old token is retired, naming its session"
    );
    assert_eq!(store.retired_token_session(&new).await.unwrap(), None);
    assert_stored(store, &other, "another session, after a rotation").await;

    // The old token again (a stale copy): refused, nothing changes.
    let later = at + TimeDelta::minutes(1);
    let refused = random_digest();
    let stale = Rotation::new(&session.id, old, &refused, later, end);
    assert!(!rotate(store, stale).await, "a retired token rotates again");
    assert_stored(store, &after, "after a stale rotation").await;
    assert_eq!(store.session_by_token(&refused).await.unwrap(), None);
    assert_eq!(store.retired_token_session(&new).await.unwrap(), None);
    assert_eq!(
        store.retired_token_session(old).await.unwrap(),
        Some(session.id.clone())
    );

    // The new token rotates in turn; both retired tokens name the session.
    let newer = random_digest();
    let next = Rotation::new(
        &session.id,
        &new,
        &newer,
        later,
        end + TimeDelta::minutes(1),
    );
    assert!(rotate(store, next.clone()).await, "the new token rotates");
    assert_stored(store, &rotated(&after, &next), "a session rotated twice").await;
    for retired in [old, new.as_str()] {
        assert_eq!(
            store.retired_token_session(retired).await.unwrap(),
            Some(session.id.clone())
        );
    }
    clear(store, users).await;
}

async fn concurrent_rotations_of_one_token_let_exactly_one_win<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "concurrent rotations").await;
    let [a, _] = users;
    let session = session_of(a, SessionKind::Refresh);
    store.create_session(session.clone()).await.unwrap();
    let news: Vec<String> = (0..8).map(|_| random_digest()).collect();
    let at = session.last_used_at + TimeDelta::minutes(15);
    let end = session.expires_at + TimeDelta::minutes(15);
    let (id, old, news_ref) = (session.id.as_str(), session.token_digest.as_str(), &news);
    let rotation =
        move |i: usize| store.rotate_session_token(Rotation::new(id, old, &news_ref[i], at, end));
    let (r0, r1, r2, r3, r4, r5, r6, r7) = tokio::join!(
        rotation(0),
        rotation(1),
        rotation(2),
        rotation(3),
        rotation(4),
        rotation(5),
        rotation(6),
        rotation(7),
    );
    let won: Vec<usize> = [r0, r1, r2, r3, r4, r5, r6, r7]
        .into_iter()
        .enumerate()
        .filter_map(|(i, result)| result.unwrap().then_some(i))
        .collect();
    assert_eq!(
        won.len(),
        1,
        "of 8 concurrent rotations of one token, exactly one succeeds: {won:?}"
    );
    let winner = &news[won[0]];
    let after = rotated(&session, &Rotation::new(id, old, winner, at, end));
    assert_stored(store, &after, "the winning rotation").await;
    for (i, lost) in news.iter().enumerate().filter(|(i, _)| *i != won[0]) {
        assert_eq!(
            store.session_by_token(lost).await.unwrap(),
            None,
            "the token of a losing rotation ({i}) finds a session"
        );
    }
    assert_eq!(
        store.retired_token_session(old).await.unwrap(),
        Some(session.id.clone())
    );
    clear(store, users).await;
}

async fn deleting_a_session_ends_it_once_with_its_retired_tokens<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "delete").await;
    let [a, _] = users;
    let session = session_of(a, SessionKind::Refresh);
    let kept = session_of(a, SessionKind::Token);
    for s in [&session, &kept] {
        store.create_session(s.clone()).await.unwrap();
    }
    let new = random_digest();
    let rotation = Rotation::new(
        &session.id,
        &session.token_digest,
        &new,
        session.last_used_at,
        session.expires_at,
    );
    assert!(rotate(store, rotation.clone()).await);
    let current = rotated(&session, &rotation);

    assert!(
        store.delete_session(&session.id).await.unwrap(),
        "a stored session is deleted"
    );
    assert!(
        !store.delete_session(&session.id).await.unwrap(),
        "a deleted session is not deleted again"
    );
    assert_gone(
        store,
        &current,
        &[&session.token_digest],
        "a deleted session",
    )
    .await;
    assert_stored(store, &kept, "another session of its user").await;
    assert_eq!(session_ids(store, a).await, ids_of(&[&kept]));
    assert!(!store.delete_session("no-such-session").await.unwrap());
    clear(store, users).await;
}

async fn deleting_a_users_sessions_leaves_the_other_users<Id, S>(store: &S, users: &[Id; 2])
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "delete a user's sessions").await;
    let [a, b] = users;
    let mut of_a = Vec::new();
    let mut of_b = Vec::new();
    for (user, sessions) in [(a, &mut of_a), (b, &mut of_b)] {
        for kind in [SessionKind::Token, SessionKind::Refresh] {
            let session = session_of(user, kind);
            store.create_session(session.clone()).await.unwrap();
            sessions.push(session);
        }
        // The refresh session rotated once: a retired token to go too.
        let new = random_digest();
        let refresh = &sessions[1];
        let rotation = Rotation::new(
            &refresh.id,
            &refresh.token_digest,
            &new,
            refresh.last_used_at,
            refresh.expires_at,
        );
        assert!(rotate(store, rotation.clone()).await);
        let current = rotated(refresh, &rotation);
        sessions.push(current);
    }
    store.delete_user_sessions(a).await.unwrap();
    let retired_a = of_a[1].token_digest.as_str();
    assert_gone(store, &of_a[0], &[], "a token session of the user").await;
    assert_gone(
        store,
        &of_a[2],
        &[retired_a],
        "a refresh session of the user",
    )
    .await;
    assert_eq!(session_ids(store, a).await, Vec::<String>::new());
    assert_stored(store, &of_b[0], "another user's token session").await;
    assert_stored(store, &of_b[2], "another user's refresh session").await;
    assert_eq!(
        store
            .retired_token_session(&of_b[1].token_digest)
            .await
            .unwrap(),
        Some(of_b[1].id.clone()),
        "another user's retired token"
    );
    // Nothing left to delete is no error.
    store.delete_user_sessions(a).await.unwrap();
    clear(store, users).await;
}

async fn ended_sessions_go_and_live_ones_stay<Id, S>(store: &S, users: &[Id; 2], expiry: Expiry)
where
    Id: Clone + PartialEq + Debug + Send + Sync + 'static,
    S: SessionStore<Id>,
{
    assert_no_sessions(store, users, "expiry").await;
    let [a, b] = users;
    let now = session::now();
    let ended = |user: &Id, kind: SessionKind, ago: TimeDelta| {
        let mut session = session_of(user, kind);
        session.created_at = now - TimeDelta::days(1);
        session.last_used_at = now - TimeDelta::hours(2);
        session.expires_at = now - ago;
        session
    };
    let ended_a = ended(a, SessionKind::Token, TimeDelta::hours(1));
    let refresh_a = ended(a, SessionKind::Refresh, TimeDelta::hours(1));
    let ended_b = ended(b, SessionKind::Token, TimeDelta::seconds(1));
    let live_a = session_of(a, SessionKind::Refresh);
    let mut live_b = session_of(b, SessionKind::Token);
    live_b.expires_at = now + TimeDelta::days(1);
    let stored_at = Instant::now();
    for session in [&ended_a, &refresh_a, &ended_b, &live_a, &live_b] {
        store.create_session(session.clone()).await.unwrap();
    }
    // A session rotated as it ended: its retired token goes with it.
    let new = random_digest();
    let rotation = Rotation::new(
        &refresh_a.id,
        &refresh_a.token_digest,
        &new,
        now - TimeDelta::hours(1),
        now - TimeDelta::minutes(1),
    );
    assert!(rotate(store, rotation.clone()).await);
    let refresh_a_now = rotated(&refresh_a, &rotation);

    let deleted = store.delete_expired_sessions(now).await.unwrap();
    match expiry {
        Expiry::Deleted => assert_eq!(deleted, 3, "the ended sessions are counted"),
        Expiry::ForgottenWithin(_) => assert!(deleted <= 3, "{deleted} ended sessions counted"),
    }
    assert_stored(store, &live_a, "a live session").await;
    assert_stored(store, &live_b, "another user's live session").await;

    let within = match expiry {
        Expiry::Deleted => Duration::ZERO,
        Expiry::ForgottenWithin(within) => within,
    };
    let forgotten = async || {
        store.session(&ended_a.id).await.unwrap().is_none()
            && store.session(&refresh_a.id).await.unwrap().is_none()
            && store.session(&ended_b.id).await.unwrap().is_none()
            && store
                .retired_token_session(&refresh_a.token_digest)
                .await
                .unwrap()
                .is_none()
    };
    while !forgotten().await && stored_at.elapsed() < within {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let what = match expiry {
        Expiry::Deleted => "deleted as ended".to_owned(),
        Expiry::ForgottenWithin(within) => format!("forgotten within {within:?}"),
    };
    assert_gone(store, &ended_a, &[], &format!("a session {what}")).await;
    assert_gone(
        store,
        &refresh_a_now,
        &[&refresh_a.token_digest],
        &format!("a rotated session {what}"),
    )
    .await;
    assert_gone(
        store,
        &ended_b,
        &[],
        &format!("another user's session {what}"),
    )
    .await;
    assert_eq!(session_ids(store, a).await, ids_of(&[&live_a]));
    assert_eq!(session_ids(store, b).await, ids_of(&[&live_b]));
    assert_stored(store, &live_a, "a live session, after").await;
    assert_stored(store, &live_b, "another user's live session, after").await;
    clear(store, users).await;
}
