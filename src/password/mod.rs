//! Passwords: hashing (argon2id), verification of argon2 and bcrypt hashes with
//! upgrade of weak ones, and the password policy.
//!
//! Hashing and verifying are CPU- and memory-heavy (19 MiB and about 20 ms per
//! argon2id call at the default parameters), so [`PasswordHasher`] runs them off
//! the async runtime, on a few blocking threads of its own (one per available
//! core, at low CPU priority), behind a bound: a *memory budget* in KiB, where each
//! call takes as much of the budget as its hash's `m` (a 64 MiB FastAPI Users hash
//! takes more than a 19 MiB one).
//!
//! | file | what |
//! | --- | --- |
//! | `hasher.rs` | [`PasswordHasher`]: argon2id, bcrypt verification, upgrades, the memory budget |
//! | `pool.rs` | the hashing threads, at low priority |
//! | `class.rs` | classes of stored hashes, and what verifying each costs |
//! | `policy.rs` | [`PasswordPolicy`]: the rules a new password must follow |

mod class;
mod hasher;
mod policy;
mod pool;

pub(crate) use class::{HashClass, MeasuredDummy, parameters_prefix};
#[cfg(test)]
pub(crate) use hasher::fast_test_hasher;
pub use hasher::{Argon2Params, HasherStats, PasswordHasher, PasswordHasherBuilder, Verified};
pub use policy::{PasswordPolicy, is_common_password};
