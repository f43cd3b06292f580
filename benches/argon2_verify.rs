//! Raw cost of one argon2id password verification, for the login benchmark
//! (`benches/load.sh`).
//!
//! Hashes a password once with the parameters axum-users hashes new passwords
//! with by default — argon2id, version 0x13, m = 19456 KiB, t = 2, p = 1
//! (OWASP's recommendation) — then verifies it in a loop on one thread for a
//! fixed time and prints the rate. `POST /auth/jwt/login` can at best match this rate on one core, so
//! login req/s divided by this figure tells how much the rest of the login
//! path costs.
//!
//! Usage: `argon2_verify [SECONDS]` (default 10; `SECONDS` can also come from
//! the `ARGON2_SECONDS` environment variable). The `--bench` flag that
//! `cargo bench` passes is ignored. Other parameters can be measured through
//! `ARGON2_M_KIB`, `ARGON2_T` and `ARGON2_P`. The last line of output is
//! `verifies_per_sec=<float>`, for scripts.

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .or_else(|| std::env::var("ARGON2_SECONDS").ok())
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10.0);

    let m_kib = env_u32("ARGON2_M_KIB", 19456)?;
    let t = env_u32("ARGON2_T", 2)?;
    let p = env_u32("ARGON2_P", 1)?;
    let params = Params::new(m_kib, t, p, None).map_err(|e| e.to_string())?;
    println!("argon2id v19 m={m_kib} KiB t={t} p={p}, {seconds} s on one thread");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let password = b"Bench-pass-8472!";
    let phc = argon2
        .hash_password(password)
        .map_err(|e| e.to_string())?
        .to_string();
    println!("hash: {phc}");

    // One verification outside the timed loop, to fault in the memory.
    let parsed = PasswordHash::new(&phc).map_err(|e| e.to_string())?;
    argon2
        .verify_password(password, &parsed)
        .map_err(|e| e.to_string())?;

    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < budget {
        // Parse each time, as a login does with the stored hash string.
        let parsed = PasswordHash::new(&phc).map_err(|e| e.to_string())?;
        argon2
            .verify_password(password, &parsed)
            .map_err(|e| e.to_string())?;
        count += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = count as f64 / elapsed;
    println!(
        "{count} verifies in {elapsed:.2} s, {:.2} ms each",
        1000.0 / rate
    );
    println!("verifies_per_sec={rate:.3}");
    Ok(())
}

/// An unsigned integer from the environment, or `default` when unset.
fn env_u32(name: &str, default: u32) -> Result<u32, Box<dyn std::error::Error>> {
    match std::env::var(name) {
        Ok(v) => Ok(v.parse()?),
        Err(_) => Ok(default),
    }
}
