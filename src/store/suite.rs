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
