//! The shared strategy test suite: JWT, database and Redis strategies pass it,
//! and a strategy of the application's own can run it too.
//!
//! `make(lifetime)` returns a fresh strategy whose tokens live `lifetime`, and two
//! users it may issue tokens for (stored, where the strategy's storage needs
//! them to be).
//!
//! ```no_run
//! # async fn run() {
//! use axum_users::auth::{DatabaseStrategy, strategy::suite};
//! use axum_users::store::{MemoryStore, UserStore};
//! use axum_users::{Email, User, UserCreate, UserManager};
//! suite::run(|lifetime| async move {
//!     let store = MemoryStore::<User>::new();
//!     let manager = UserManager::new(store.clone());
//!     let mut users = Vec::new();
//!     for email in ["a@example.com", "b@example.com"] {
//!         let create = UserCreate::new(Email::parse(email).unwrap(), "a long password");
//!         users.push(manager.create(create, false, None).await.unwrap());
//!     }
//!     let strategy = DatabaseStrategy::new(store).lifetime(lifetime);
//!     (strategy, [users[0].clone(), users[1].clone()])
//! })
//! .await;
//! # }
//! ```
//!
//! It panics (like `assert!`) at the first rule a strategy breaks; call it from
//! a test. It sleeps about two seconds to see tokens expire.

use std::future::Future;
use std::time::Duration;

use crate::auth::Strategy;
use crate::user::{PasswordHash, UserModel};

/// Runs every check.
pub async fn run<U, S, Mk, Fut>(make: Mk)
where
    U: UserModel,
    S: Strategy<U>,
    Mk: Fn(Duration) -> Fut,
    Fut: Future<Output = (S, [U; 2])>,
{
    let hour = Duration::from_secs(3600);
    issued_tokens_read_back_as_their_user(make(hour).await).await;
    invalid_tokens_read_as_none(make(hour).await).await;
    logout_revokes_one_token_where_revocable(make(hour).await).await;
    log_out_everywhere_ends_every_session_of_one_user(make(hour).await).await;
    tokens_are_bound_to_the_credentials(make(hour).await).await;
    tokens_expire(make(Duration::from_secs(1)).await).await;
}

async fn issued_tokens_read_back_as_their_user<U: UserModel, S: Strategy<U>>(
    (strategy, [a, b]): (S, [U; 2]),
) {
    let ta = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    let tb = strategy
        .write_token(&b, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    let ta2 = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    assert_eq!(
        strategy
            .read_token(&ta)
            .await
            .unwrap()
            .map(|o| o.user_id)
            .as_ref(),
        Some(a.id())
    );
    assert_eq!(
        strategy
            .read_token(&tb)
            .await
            .unwrap()
            .map(|o| o.user_id)
            .as_ref(),
        Some(b.id())
    );
    assert_eq!(
        strategy
            .read_token(&ta2)
            .await
            .unwrap()
            .map(|o| o.user_id)
            .as_ref(),
        Some(a.id())
    );
    assert_ne!(ta, tb, "tokens differ between users");
    if strategy.is_revocable() {
        assert_ne!(ta, ta2, "opaque tokens are never reissued");
        assert!(ta.len() >= 43, "at least 256 bits of URL-safe token");
        assert!(
            ta.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "URL-safe token"
        );
    }
}

async fn invalid_tokens_read_as_none<U: UserModel, S: Strategy<U>>(
    (strategy, [a, _]): (S, [U; 2]),
) {
    let token = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap_or('A');
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in ["", "garbage", "a.b.c", &tampered, &format!("{token}x")] {
        assert_eq!(
            strategy.read_token(bad).await.unwrap().map(|o| o.user_id),
            None,
            "{bad:?}"
        );
    }
}

async fn logout_revokes_one_token_where_revocable<U: UserModel, S: Strategy<U>>(
    (strategy, [a, _]): (S, [U; 2]),
) {
    let first = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    let second = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    strategy.destroy_token(&first, &a).await.unwrap();
    if strategy.is_revocable() {
        assert_eq!(
            strategy
                .read_token(&first)
                .await
                .unwrap()
                .map(|o| o.user_id),
            None,
            "logged out"
        );
        assert_eq!(
            strategy
                .read_token(&second)
                .await
                .unwrap()
                .map(|o| o.user_id)
                .as_ref(),
            Some(a.id()),
            "only that session ends"
        );
    } else {
        assert_eq!(
            strategy
                .read_token(&first)
                .await
                .unwrap()
                .map(|o| o.user_id)
                .as_ref(),
            Some(a.id()),
            "a stateless token outlives logout"
        );
    }
    // Destroying an unknown or already destroyed token is not an error.
    strategy.destroy_token(&first, &a).await.unwrap();
    strategy.destroy_token("garbage", &a).await.unwrap();
}

async fn log_out_everywhere_ends_every_session_of_one_user<U: UserModel, S: Strategy<U>>(
    (strategy, [a, b]): (S, [U; 2]),
) {
    let a1 = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    let a2 = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    let b1 = strategy
        .write_token(&b, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    strategy.destroy_all_tokens(&a).await.unwrap();
    if strategy.is_revocable() {
        assert_eq!(
            strategy.read_token(&a1).await.unwrap().map(|o| o.user_id),
            None
        );
        assert_eq!(
            strategy.read_token(&a2).await.unwrap().map(|o| o.user_id),
            None
        );
        // A session opened afterwards works.
        let a3 = strategy
            .write_token(&a, &crate::session::LoginContext::internal("suite"))
            .await
            .unwrap()
            .access_token;
        assert_eq!(
            strategy
                .read_token(&a3)
                .await
                .unwrap()
                .map(|o| o.user_id)
                .as_ref(),
            Some(a.id())
        );
    }
    assert_eq!(
        strategy
            .read_token(&b1)
            .await
            .unwrap()
            .map(|o| o.user_id)
            .as_ref(),
        Some(b.id()),
        "another user's session survives"
    );
}

async fn tokens_are_bound_to_the_credentials<U: UserModel, S: Strategy<U>>(
    (strategy, [a, _]): (S, [U; 2]),
) {
    let token = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    let owner = strategy.read_token(&token).await.unwrap().expect("valid");
    assert!(owner.binding.holds_for(&a), "bound to the user as issued");
    let mut raised = a.clone();
    raised.data_mut().token_generation += 1;
    assert!(
        !owner.binding.holds_for(&raised),
        "a raised token generation ends every token"
    );
    let mut new_password = a.clone();
    new_password.data_mut().hashed_password = PasswordHash::new("$argon2id$another");
    new_password.data_mut().password_generation += 1;
    assert_eq!(
        owner.binding.holds_for(&new_password),
        !strategy.is_revocable(),
        "a new password ends the sessions (revocable strategies), not the JWTs"
    );
    let mut upgraded = a.clone();
    upgraded.data_mut().hashed_password = PasswordHash::new("$argon2id$upgraded");
    assert!(
        owner.binding.holds_for(&upgraded),
        "the same password hashed again ends nothing"
    );
}

async fn tokens_expire<U: UserModel, S: Strategy<U>>((strategy, [a, _]): (S, [U; 2])) {
    let token = strategy
        .write_token(&a, &crate::session::LoginContext::internal("suite"))
        .await
        .unwrap()
        .access_token;
    assert_eq!(
        strategy
            .read_token(&token)
            .await
            .unwrap()
            .map(|o| o.user_id)
            .as_ref(),
        Some(a.id())
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        strategy
            .read_token(&token)
            .await
            .unwrap()
            .map(|o| o.user_id),
        None,
        "expired"
    );
}
