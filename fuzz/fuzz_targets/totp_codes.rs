//! TOTP codes and recovery codes: `mfa::totp::verify`,
//! `TotpSecret::from_base32`, `RecoveryKey::digest` and `find` directly, and
//! `POST /auth/jwt/login/mfa` bodies.
//!
//! The first byte picks what the rest is:
//!
//! - 0: 8 bytes of Unix time, 1 byte (is there a last used step) and 8 bytes
//!   of last used step, then the code, for `totp::verify` with Bob's secret;
//! - 1: base32 text for `TotpSecret::from_base32`;
//! - 2: a recovery code for `RecoveryKey::digest` and `find` (against Bob's
//!   stored digests);
//! - 3: the raw body of the second step; 4: the `code` of a second step with
//!   a genuine `mfa_token` (from Bob's password login); 5: the `mfa_token`,
//!   a NUL, then the `code`.
//!
//! The invariants: no panic, no 5xx; `verify` answers only a step within
//! one of now, after the last used one, whose code is the input without its
//! spaces; a secret read from base32 writes back to the same secret;
//! `find` answers only an index whose digest is the input's; and a second
//! step succeeds only with a code of Bob's (a fresh TOTP code or one of his
//! recovery codes). A fresh app for the second steps with a genuine token
//! (it is stored and used), the shared app for the others.
#![no_main]

use axum_users_fuzz::axum_users::mfa::recovery::RecoveryKey;
use axum_users_fuzz::axum_users::mfa::totp::{self, TotpSecret};
use axum_users_fuzz::{App, BOB_TOTP, SECRET, block_on, json, split};
use libfuzzer_sys::fuzz_target;
use serde_json::json as value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let secret = TotpSecret::from_bytes(BOB_TOTP).expect("a 20-byte secret");
    match mode % 6 {
        0 => {
            let Some((now, rest)) = rest.split_first_chunk::<8>() else {
                return;
            };
            let Some((&has_last, rest)) = rest.split_first() else {
                return;
            };
            let Some((last, code)) = rest.split_first_chunk::<8>() else {
                return;
            };
            let now = u64::from_le_bytes(*now);
            let last = (has_last & 1 == 1).then(|| u64::from_le_bytes(*last));
            let code = String::from_utf8_lossy(code);
            if let Some(step) = totp::verify(&secret, &code, now, last) {
                let current = totp::step_of(now);
                assert!(
                    step.abs_diff(current) <= 1,
                    "step {step} is not within one of {current}"
                );
                assert!(
                    last.is_none_or(|last| step > last),
                    "step {step} not after {last:?}"
                );
                let typed: String = code.chars().filter(|c| *c != ' ').collect();
                // The code of the step's first second (a step past the last
                // representable second is left unchecked).
                if let Some(at) = step.checked_mul(totp::PERIOD) {
                    assert_eq!(
                        typed,
                        totp::code_at(&secret, at),
                        "{code:?} matched step {step}"
                    );
                }
            }
        }
        1 => {
            let text = String::from_utf8_lossy(rest);
            if let Some(read) = TotpSecret::from_base32(&text) {
                let again = TotpSecret::from_base32(&read.to_base32()).expect("its own base32");
                assert_eq!(read.as_bytes(), again.as_bytes());
            }
        }
        2 => {
            let key = RecoveryKey::new(SECRET).expect("the recovery key");
            let code = String::from_utf8_lossy(rest);
            let digest = key.digest(&code);
            if let Some(digest) = &digest {
                assert_eq!(digest.len(), 64);
                assert!(
                    digest
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
            }
            let stored: Vec<String> = ["0123456789", "abcdefghjk", "mnpqrstvwx"]
                .iter()
                .filter_map(|code| key.digest(code))
                .collect();
            assert_eq!(stored.len(), 3, "the alphabet's codes digest");
            if let Some(index) = key.find(&code, &stored) {
                assert_eq!(digest.as_ref(), Some(&stored[index]));
            }
        }
        http => {
            let shared = App::shared();
            block_on(async {
                // A genuine mfa_token is stored and used: a fresh app for those,
                // the shared app for tokens no input can forge.
                let fresh;
                let app = match http {
                    4 => {
                        fresh = App::new().await;
                        &fresh
                    }
                    _ => shared,
                };
                let (body, code) = match http {
                    3 => (rest.to_vec(), None),
                    4 => {
                        let token = app.bob_mfa_token("/auth/jwt").await;
                        let code = String::from_utf8_lossy(rest).into_owned();
                        let body = value!({ "mfa_token": token, "code": code });
                        (body.to_string().into_bytes(), Some(code))
                    }
                    _ => {
                        let (token, code) = split(rest, 0);
                        let token = String::from_utf8_lossy(token);
                        let code = String::from_utf8_lossy(code).into_owned();
                        let body = value!({ "mfa_token": token, "code": code });
                        (body.to_string().into_bytes(), None)
                    }
                };
                let answer = app
                    .send(json("POST", "/auth/jwt/login/mfa", None, body))
                    .await;
                if answer.status.is_success() {
                    let code = code.expect("only a genuine mfa_token logs in");
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .expect("after 1970")
                        .as_secs();
                    let key = RecoveryKey::new(SECRET).expect("the recovery key");
                    let recovery: Vec<String> = app
                        .bob_recovery_codes
                        .iter()
                        .filter_map(|shown| key.digest(shown))
                        .collect();
                    assert!(
                        totp::verify(&secret, &code, now, None).is_some()
                            || totp::verify(&secret, &code, now.saturating_sub(5), None).is_some()
                            || key.find(&code, &recovery).is_some(),
                        "the second step took {code:?}"
                    );
                }
            })
        }
    }
});
