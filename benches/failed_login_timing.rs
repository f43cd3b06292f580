//! Does a failed login tell whether the account exists? The median time of a
//! failed login (a wrong password) for accounts whose hashes were kept from
//! FastAPI Users (passlib's bcrypt at cost 12, pwdlib's argon2id at m = 64 MiB,
//! t = 3, p = 4), for an account of the crate's own hashes, and for an unknown
//! address, measured in the same run through `UserManager::authenticate` with
//! the default hasher, as ratios to the unknown address (target 0.9–1.1).
//!
//! For contrast, it first times what the same cases cost without the
//! calibration (one verification each: the stored hash, or a dummy at the
//! hasher's own parameters for the unknown address), which is how the crate
//! answered before.
//!
//! Usage: `cargo bench --bench failed_login_timing` (`ROUNDS`, default 40:
//! each round runs every case once, in an order that rotates). Pin it to a
//! core for steadier figures: `taskset -c 0 target/release/deps/failed_login_timing-*`.

use std::time::{Duration, Instant};

use axum_users::password::{PasswordHasher, Verified};
use axum_users::store::{MemoryStore, UserStore};
use axum_users::{Email, Password, PasswordHash, User, UserCreate, UserData, UserManager};

const PASSWORD: &str = "Bench-pass-8472!";
const WRONG: &str = "not-the-password";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(40);
    let store = MemoryStore::<User>::new();
    let manager = UserManager::builder(store.clone())
        .hasher(PasswordHasher::default())
        .build();
    let native = UserCreate::new(Email::parse("native@example.com")?, PASSWORD);
    manager.create(native, false, None).await?;
    let bcrypt = PasswordHash::new(bcrypt::hash(PASSWORD, 12)?);
    let fastapi_argon2 = PasswordHash::new(fastapi_users_argon2(PASSWORD)?);
    for (email, hash) in [
        ("bcrypt@example.com", bcrypt.clone()),
        ("argon2@example.com", fastapi_argon2.clone()),
    ] {
        store
            .create(UserData::new(email, hash, axum_users::NoFields {}))
            .await?;
    }
    let cases = [
        ("unknown address", "nobody@example.com"),
        ("bcrypt-12 (kept from passlib)", "bcrypt@example.com"),
        (
            "argon2id 64 MiB t=3 p=4 (kept from pwdlib)",
            "argon2@example.com",
        ),
        (
            "argon2id 19 MiB t=2 p=1 (the crate's own)",
            "native@example.com",
        ),
    ];

    // Before: one verification each, no calibration.
    let hasher = manager.hasher();
    let wrong = Password::new(WRONG);
    let native_hash = store
        .get_by_email("native@example.com")
        .await?
        .ok_or("the native user")?
        .data
        .hashed_password;
    let mut before: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for round in 0..rounds.min(20) {
        for offset in 0..cases.len() {
            let case = (round + offset) % cases.len();
            let start = Instant::now();
            match case {
                0 => hasher.verify_dummy(&wrong).await?,
                1 => check_no(hasher.verify(&wrong, &bcrypt).await?)?,
                2 => check_no(hasher.verify(&wrong, &fastapi_argon2).await?)?,
                _ => check_no(hasher.verify(&wrong, &native_hash).await?)?,
            }
            before[case].push(start.elapsed());
        }
    }
    println!(
        "== without the calibration (before): one verification each, {} rounds ==",
        rounds.min(20)
    );
    report(&cases, &mut before);

    // After: what the manager does now.
    let start = Instant::now();
    manager.calibrate_login_timing().await?;
    println!(
        "\ncalibration (one dummy per class, 3 timed verifications each): {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    let mut after: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let verifications = hasher.stats().verifications;
    for round in 0..rounds {
        for offset in 0..cases.len() {
            let case = (round + offset) % cases.len();
            let start = Instant::now();
            let user = manager.authenticate(cases[case].1, &wrong).await?;
            after[case].push(start.elapsed());
            if user.is_some() {
                return Err("a wrong password logged in".into());
            }
        }
    }
    let per_attempt =
        (hasher.stats().verifications - verifications) as f64 / (rounds * cases.len()) as f64;
    println!("\n== UserManager::authenticate, wrong password, {rounds} rounds ==");
    println!("password verifications per attempt: {per_attempt:.2}");
    let ok = report(&cases, &mut after);
    println!(
        "\ntarget: every ratio to the unknown address within 0.9–1.1: {}",
        if ok { "met" } else { "MISSED" }
    );
    Ok(())
}

/// Prints the median, p10 and p90 of each case and its ratio to the first
/// (the unknown address); whether every ratio is within 0.9–1.1.
fn report(cases: &[(&str, &str)], times: &mut [Vec<Duration>]) -> bool {
    let median = |times: &mut Vec<Duration>| -> (f64, f64, f64) {
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        (ms(at(0.5)), ms(at(0.1)), ms(at(0.9)))
    };
    let reference = median(&mut times[0]).0;
    let mut ok = true;
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>13}",
        "case", "median ms", "p10 ms", "p90 ms", "ratio/unknown"
    );
    for (index, (name, _)) in cases.iter().enumerate() {
        let (p50, p10, p90) = median(&mut times[index]);
        let ratio = p50 / reference;
        ok &= (0.9..=1.1).contains(&ratio);
        println!("{name:<46} {p50:>9.1} {p10:>9.1} {p90:>9.1} {ratio:>13.3}");
    }
    ok
}

fn check_no(verified: Verified) -> Result<(), BoxError> {
    match verified {
        Verified::No => Ok(()),
        _ => Err("a wrong password verified".into()),
    }
}

/// A hash as FastAPI Users 13+ (pwdlib, argon2-cffi) writes it: argon2id,
/// m = 65536 KiB, t = 3, p = 4.
fn fastapi_users_argon2(password: &str) -> Result<String, BoxError> {
    use argon2::password_hash::PasswordHasher as _;
    let params = argon2::Params::new(65_536, 3, 4, None).map_err(|e| e.to_string())?;
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    Ok(argon2
        .hash_password(password.as_bytes())
        .map_err(|e| e.to_string())?
        .to_string())
}
