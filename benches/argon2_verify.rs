//! Raw cost of one argon2id password verification, for the login benchmark
//! (`benches/load.sh`).
//!
//! Hashes a password once with the parameters axum-users hashes new passwords
//! with by default — argon2id, version 0x13, m = 19456 KiB, t = 2, p = 1
//! (OWASP's recommendation) — then verifies it in a loop on one thread for a
//! fixed time and prints the rate. `POST /auth/jwt/login` can at best match
//! this rate on one core, so login req/s divided by this figure tells how much
//! the rest of the login path costs.
//!
//! The loop times the library's own verification,
//! [`PasswordHasher::verify_blocking`]: the computation a login runs on a
//! hashing thread (parse the stored PHC string, argon2 into the thread's
//! reused block memory, constant-time compare, check whether the hash needs
//! an upgrade), here on the main thread, outside the memory budget and the
//! hand-off to the hashing threads. So the login/raw ratio compares like with
//! like: the memory reuse is on both sides, and what is left is the rest of
//! the login path.
//!
//! Usage: `argon2_verify [SECONDS]` (default 10; `SECONDS` can also come from
//! the `ARGON2_SECONDS` environment variable). The `--bench` flag that
//! `cargo bench` passes is ignored. Other parameters can be measured through
//! `ARGON2_M_KIB`, `ARGON2_T` and `ARGON2_P`. With `ARGON2_COMPARE_CRATE=1`
//! it then also times the argon2 crate's own `verify_password` (which
//! allocates its working memory on every call) for as long again and prints
//! that rate on a line of its own, for comparison; the figure scripts read is
//! still the library's. The last line of output is
//! `verifies_per_sec=<float>` (the library's rate), for scripts.

use std::time::{Duration, Instant};

use axum_users::password::{Argon2Params, PasswordHasher, Verified};
use axum_users::{Password, PasswordHash};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .or_else(|| std::env::var("ARGON2_SECONDS").ok())
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10.0);

    let params = Argon2Params {
        m_kib: env_u32("ARGON2_M_KIB", 19456)?,
        t: env_u32("ARGON2_T", 2)?,
        p: env_u32("ARGON2_P", 1)?,
    };
    let compare_crate = std::env::var("ARGON2_COMPARE_CRATE").is_ok_and(|v| v == "1");
    let Argon2Params { m_kib, t, p } = params;
    println!("argon2id v19 m={m_kib} KiB t={t} p={p}, {seconds} s on one thread");

    // The hasher with the benchmark's parameters. Its hashing thread is only
    // used for the one hash below; every timed verification runs on this
    // thread, as `verify_blocking` does.
    let hasher = PasswordHasher::builder()
        .params(params)
        .concurrency(1)
        .build();
    hasher.check()?;
    let password = Password::new("Bench-pass-8472!");
    let hash = tokio::runtime::Builder::new_current_thread()
        .build()?
        .block_on(hasher.hash(&password))?;
    println!("hash: {}", hash.as_str());

    // One verification outside the timed loop, to fault in this thread's
    // block memory (the library keeps it between calls).
    verify_library(&hasher, &password, &hash)?;

    let budget = Duration::from_secs_f64(seconds);
    let (count, elapsed) = timed(budget, || verify_library(&hasher, &password, &hash))?;
    let rate = count as f64 / elapsed;
    println!(
        "library (PasswordHasher::verify_blocking, reused memory): \
         {count} verifies in {elapsed:.2} s, {:.2} ms each",
        1000.0 / rate
    );

    if compare_crate {
        let (crate_count, crate_elapsed) = raw_crate(params, &hash, &password, budget)?;
        let crate_rate = crate_count as f64 / crate_elapsed;
        println!(
            "for comparison, argon2 crate verify_password (allocates each call): \
             {crate_count} verifies in {crate_elapsed:.2} s, {:.2} ms each, \
             {crate_rate:.3}/s, library/crate {:.3}",
            1000.0 / crate_rate,
            rate / crate_rate
        );
    }

    println!("verifies_per_sec={rate:.3}");
    Ok(())
}

/// One verification through the library; anything but a plain match is an
/// error (a rehash would mean the parameters differ from the hash's).
fn verify_library(
    hasher: &PasswordHasher,
    password: &Password,
    hash: &PasswordHash,
) -> Result<(), BoxError> {
    match hasher.verify_blocking(password, hash)? {
        Verified::Yes => Ok(()),
        other => Err(format!("verification gave {other:?}, not a plain match").into()),
    }
}

/// Runs `f` in a loop for `budget`; the number of calls and the seconds taken.
fn timed(
    budget: Duration,
    mut f: impl FnMut() -> Result<(), BoxError>,
) -> Result<(u64, f64), BoxError> {
    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < budget {
        f()?;
        count += 1;
    }
    Ok((count, start.elapsed().as_secs_f64()))
}

/// The argon2 crate's `verify_password` on the same hash, for `budget`: what
/// this benchmark timed before it timed the library (the crate allocates, and
/// the allocator usually gives back, the 19 MiB on every call).
fn raw_crate(
    params: Argon2Params,
    hash: &PasswordHash,
    password: &Password,
    budget: Duration,
) -> Result<(u64, f64), BoxError> {
    use argon2::password_hash::{PasswordVerifier, phc::PasswordHash as PhcHash};
    use argon2::{Algorithm, Argon2, Params, Version};

    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.m_kib, params.t, params.p, None).map_err(|e| e.to_string())?,
    );
    let verify = || -> Result<(), BoxError> {
        // Parse each time, as a login does with the stored hash string.
        let parsed = PhcHash::new(hash.as_str()).map_err(|e| e.to_string())?;
        argon2
            .verify_password(password.expose().as_bytes(), &parsed)
            .map_err(|e| e.to_string())?;
        Ok(())
    };
    verify()?;
    timed(budget, verify)
}

/// An unsigned integer from the environment, or `default` when unset.
fn env_u32(name: &str, default: u32) -> Result<u32, BoxError> {
    match std::env::var(name) {
        Ok(v) => Ok(v.parse()?),
        Err(_) => Ok(default),
    }
}
