//! The integration tests: one test binary (`cargo test --test it`), so that
//! sqlx, redis, reqwest and the rest are linked once rather than once per
//! test file. Each file of `tests/it/` is a module, and its tests are named
//! after it: `oauth::a_squatters_link_is_dropped_when_the_owner_resets_the_password`.
//! Run one file's tests with a filter on its module, as a test binary of its
//! own would: `cargo test --all-features --test it oauth::`.
//!
//! The tests of every file run in one process, in parallel with each other:
//! a test changes nothing process-wide (no environment variable, no current
//! directory, no global subscriber or panic hook).

// Shared helpers: the app under test, requests, the machine's services, the
// example server as a process, the OpenID Connect provider, the SMTP sink.
#[macro_use]
mod common;

// The `custom_user` example's modules, compiled into the tests at the crate's
// root as in the example (its `store.rs` names `crate::user`); tested by
// `custom_user_store`. What only the example's server uses
// (`AppUser::greeting`) is dead code here.
#[allow(dead_code)]
#[path = "../../examples/custom_user/user.rs"]
mod user;

#[path = "../../examples/custom_user/store.rs"]
mod store;

// The library in-process, over `oneshot`.
mod account_changes;
mod auth_router;
mod csrf;
mod custom_user_store;
mod extractors;
mod hooks;
mod invitations;
mod jwt;
mod login_throttle;
mod mfa;
mod passkey_ceremony;
#[cfg(feature = "passkeys")]
mod passkeys;
mod passwords;
mod properties;
mod refresh_sessions;
mod register_router;
mod reset_password;
mod sessions;
mod usernames;
mod users_router;
mod verify;

// The shared suites against the provided stores and strategies, and the
// reads beside the pool (caches, reads on the worker thread).
mod read_paths;
mod store_suite;
mod strategy_suite;

// OAuth and OpenID Connect (most against the loopback provider of tests/oidc).
mod oauth;
mod oauth_example;
mod oauth_presets;
mod oidc_provider;

#[cfg(feature = "openapi")]
mod openapi;

// The example server as a process.
mod example_accounts;
mod example_mail;
mod example_server;
#[cfg(target_os = "linux")]
mod faults;
mod two_instances;
