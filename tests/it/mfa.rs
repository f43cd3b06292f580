//! Multi-factor login over HTTP (CONTRACT-accounts.md §F, issue 17): TOTP
//! enrolment (`/users/me/mfa…`), the two-step login (`{prefix}/login/mfa`)
//! on every kind of backend (bearer JWT, cookie JWT, database session,
//! refresh tokens), recovery codes, turning TOTP off, a superuser's reset,
//! the login throttle on the second step, hooks and the audit trail.
//!
//! Behaviours that depend on the store run on memory, SQLite and PostgreSQL
//! (`<behaviour>::on_memory`, `::on_sqlite`, `::on_postgres`); rules of the
//! HTTP layer alone run on memory. TOTP codes are computed from the secret
//! the enrolment shows (`common::mfa::AuthenticatorApp`), each step used
//! once, as the server wants.
//!
//! Not tested: an `mfa_token` older than 5 minutes by waiting; instead its
//! stored expiry is moved into the past (`an_expired_mfa_token_is_refused`),
//! which is what the server checks.

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum_users::User;
use axum_users::store::{MemoryStore, MfaStore};
use axum_users::throttle::{Limit, LoginThrottle, MemoryThrottle};
use chrono::Utc;
use serde_json::{Value, json};

use crate::common::PASSWORD;
use crate::common::audit::Capture;
use crate::common::mfa::*;

const BAD_CODE: &str = "MFA_BAD_CODE";
const TOKEN_INVALID: &str = "MFA_TOKEN_INVALID";
const BAD_CURRENT: &str = "INVALID_CURRENT_PASSWORD";
const NEW_PASSWORD: &str = "a brand new password";
const UNKNOWN_ID: &str = "0b6c4c3e-8b7a-4f0e-9a57-4d2a1c3b5e6f";

on_every_store!(
    mfa_status_has_exactly_its_three_fields,
    enrolment_needs_the_current_password,
    enrolment_shows_a_128_bit_base32_secret_and_an_otpauth_url,
    asking_again_while_pending_replaces_the_secret,
    confirming_with_a_wrong_code_or_nothing_pending_is_refused,
    confirming_turns_totp_on_with_ten_recovery_codes,
    enrolling_again_when_on_is_refused,
    the_code_that_confirmed_the_enrolment_does_not_log_in,
    a_totp_user_logs_in_in_two_steps_on_every_backend,
    a_recovery_code_logs_in_once_on_every_backend,
    bad_codes_are_refused_and_a_spaced_code_is_taken,
    a_replayed_or_out_of_window_code_is_refused,
    forged_or_random_mfa_tokens_are_refused,
    an_mfa_token_works_once,
    an_mfa_token_is_good_only_on_its_own_backend,
    an_mfa_token_dies_after_five_bad_codes,
    an_mfa_token_of_another_user_takes_only_that_users_code,
    an_expired_mfa_token_is_refused,
    an_mfa_token_dies_when_the_password_changes_meanwhile,
    an_mfa_token_made_on_one_instance_completes_on_another,
    disabling_totp_checks_the_password_and_removes_codes,
    regenerating_recovery_codes_kills_the_old_ones,
    a_superuser_resets_a_users_factors,
    a_password_reset_leaves_mfa_on_and_the_next_login_still_asks_for_the_code,
    a_deleted_users_factors_go_with_the_user,
    concurrent_second_steps_with_one_mfa_token_log_in_once,
    concurrent_uses_of_one_code_log_in_once,
    a_user_deactivated_between_the_two_steps_gets_no_token,
);

// ---------------------------------------------------------------------------
// Enrolment.

async fn mfa_status_has_exactly_its_three_fields<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    // Pending is not on.
    let mut totp = app.start(&jwt).await;
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    let answer = app.confirm(&jwt, &totp.next().await).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": true, "recovery_codes_left": 10, "passkeys": 0})
    );
}

async fn enrolment_needs_the_current_password<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    for (password, what) in [
        ("wrong password", "a wrong password"),
        ("", "an empty password"),
        (&"x".repeat(10_000), "a huge password"),
    ] {
        app.start_totp(&jwt, password)
            .await
            .assert_code(BAD_CURRENT, what);
    }
    // No field, another type: a malformed body.
    for body in [json!({}), json!({"current_password": 12}), json!([])] {
        let answer = app
            .post("/users/me/mfa/totp", Some(&jwt), body.clone())
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {answer:?}"
        );
    }
    // Nothing pending was made.
    app.confirm(&jwt, "123456")
        .await
        .assert_code("MFA_NOT_PENDING", "no enrolment began");
    let user = app.manager.get_by_email("a@example.com").await.unwrap();
    assert!(app.store.totp(&user.id).await.unwrap().is_none());
}

async fn enrolment_shows_a_128_bit_base32_secret_and_an_otpauth_url<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let answer = app.start_totp(&jwt, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.headers.get(header::CACHE_CONTROL).unwrap(),
        "no-store",
        "a secret is not cached"
    );
    let object = answer.body.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["otpauth_url", "secret"]);
    let secret = answer.body["secret"].as_str().unwrap();
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
        "base32 without padding: {secret}"
    );
    assert!(secret.len() * 5 >= 128, "at least 128 bits: {secret}");
    let decoded = axum_users::mfa::totp::TotpSecret::from_base32(secret).expect("valid base32");
    assert!(decoded.as_bytes().len() >= 16);
    let url = answer.body["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={secret}")), "{url}");
    assert!(url.contains("issuer=Tests"), "{url}");
    // Each enrolment has a secret of its own.
    app.user("b@example.com").await;
    let other = app.jwt("b@example.com").await;
    let answer = app.start_totp(&other, PASSWORD).await;
    assert_ne!(answer.body["secret"].as_str().unwrap(), secret);
}

async fn asking_again_while_pending_replaces_the_secret<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let mut first = app.start(&jwt).await;
    let mut second = app.start(&jwt).await;
    assert_ne!(first.base32, second.base32);
    // The first secret's code no longer confirms.
    app.confirm(&jwt, &first.next().await)
        .await
        .assert_code(BAD_CODE, "the replaced secret's code");
    assert_eq!(app.status(&jwt).await["totp"], false);
    let answer = app.confirm(&jwt, &second.next().await).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    recovery_codes(&answer.body);
    // The login takes the second secret's codes only.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    app.login_mfa(Kind::Jwt, &token, &first.next().await)
        .await
        .assert_code(BAD_CODE, "the replaced secret at login");
    let answer = app.login_mfa(Kind::Jwt, &token, &second.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn confirming_with_a_wrong_code_or_nothing_pending_is_refused<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    app.confirm(&jwt, "123456")
        .await
        .assert_code("MFA_NOT_PENDING", "nothing pending");
    let mut totp = app.start(&jwt).await;
    for code in [
        totp.wrong_code(),
        String::new(),
        "abcdef".into(),
        "12345".into(),
        "1234567".into(),
        totp.too_far_ahead(),
        totp.too_far_behind(),
    ] {
        app.confirm(&jwt, &code)
            .await
            .assert_code(BAD_CODE, &format!("confirm with {code:?}"));
    }
    assert_eq!(app.status(&jwt).await["totp"], false);
    // Still pending: the right code confirms.
    let answer = app.confirm(&jwt, &totp.next().await).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // Then nothing is pending any more.
    app.confirm(&jwt, &totp.next().await)
        .await
        .assert_code("MFA_NOT_PENDING", "confirmed already");
    let answer = app
        .post("/users/me/mfa/totp/confirm", Some(&jwt), json!({}))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn confirming_turns_totp_on_with_ten_recovery_codes<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let mut totp = app.start(&jwt).await;
    let answer = app.confirm(&jwt, &totp.next().await).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.headers.get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    let codes = recovery_codes(&answer.body);
    assert_eq!(app.status(&jwt).await["recovery_codes_left"], 10);
    assert_eq!(app.hooks.events(), ["enabled a@example.com totp"]);
    // Stored as digests, the secret sealed: neither is in the store as shown.
    let user = app.manager.get_by_email("a@example.com").await.unwrap();
    let stored = app.store.recovery_codes(&user.id).await.unwrap();
    assert_eq!(stored.len(), 10);
    for code in &codes {
        assert!(!stored.iter().any(|s| s.contains(code.as_str())));
    }
    let factor = app.store.totp(&user.id).await.unwrap().unwrap();
    assert!(factor.confirmed);
    assert!(!factor.secret.contains(&totp.base32));
    // A password login now asks for the code.
    app.mfa_token(Kind::Jwt, "a@example.com").await;
}

async fn enrolling_again_when_on_is_refused<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let (mut totp, _) = app.enrol(&jwt).await;
    app.start_totp(&jwt, PASSWORD)
        .await
        .assert_code("MFA_ALREADY_ENABLED", "TOTP is on");
    // The password is checked first.
    app.start_totp(&jwt, "wrong password")
        .await
        .assert_code(BAD_CURRENT, "a wrong password when on");
    // The factor is unchanged: its codes still log in.
    app.totp_login("a@example.com", &mut totp).await;
}

async fn the_code_that_confirmed_the_enrolment_does_not_log_in<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let mut totp = app.start(&jwt).await;
    let code = totp.next().await;
    assert_eq!(app.confirm(&jwt, &code).await.status, StatusCode::OK);
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    app.login_mfa(Kind::Jwt, &token, &code)
        .await
        .assert_code(BAD_CODE, "the confirming code again");
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

#[tokio::test]
async fn mfa_routes_answer_401_without_a_valid_token() {
    let app = mfa_app(MemoryStore::<User>::new());
    let bad = Credential::Bearer("not-a-token".into());
    for auth in [None, Some(&bad)] {
        for (method, uri, body) in [
            ("GET", "/users/me/mfa".to_owned(), None),
            (
                "POST",
                "/users/me/mfa/totp".to_owned(),
                Some(json!({"current_password": PASSWORD})),
            ),
            (
                "POST",
                "/users/me/mfa/totp/confirm".to_owned(),
                Some(json!({"code": "123456"})),
            ),
            (
                "DELETE",
                "/users/me/mfa/totp".to_owned(),
                Some(json!({"current_password": PASSWORD})),
            ),
            (
                "POST",
                "/users/me/mfa/recovery-codes".to_owned(),
                Some(json!({"code": "123456"})),
            ),
            ("DELETE", format!("/users/{UNKNOWN_ID}/mfa"), None),
        ] {
            let answer = app.call(request(method, &uri, auth, body.as_ref())).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {auth:?}: {answer:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The two-step login.

async fn a_totp_user_logs_in_in_two_steps_on_every_backend<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    for kind in KINDS {
        let email = format!("{kind:?}@example.com").to_lowercase();
        let (_, mut totp, _) = app.totp_user(&email).await;
        // The right password: 400 with a token, no credential.
        let first = app.password_login(kind, &email, PASSWORD).await;
        let token = first.mfa_token(&["totp", "recovery_code"]);
        // A wrong password still answers as ever.
        let wrong = app.password_login(kind, &email, "wrong password").await;
        wrong.assert_code("LOGIN_BAD_CREDENTIALS", "a wrong password");
        // The second step: the backend's normal answer.
        let answer = app.login_mfa(kind, &token, &totp.next().await).await;
        app.assert_logged_in(kind, &answer, &email).await;
        if kind == Kind::Token {
            // Its refresh token works as any other.
            let refresh = answer.body["refresh_token"].as_str().unwrap();
            let rotated = app
                .post(
                    "/auth/token/refresh",
                    None,
                    json!({ "refresh_token": refresh }),
                )
                .await;
            assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
        }
        // A user without a second factor logs in in one step on the same route.
        let plain = format!("plain-{email}");
        app.user(&plain).await;
        let answer = app.password_login(kind, &plain, PASSWORD).await;
        app.assert_logged_in(kind, &answer, &plain).await;
    }
}

async fn a_recovery_code_logs_in_once_on_every_backend<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    for kind in KINDS {
        let email = format!("{kind:?}@example.com").to_lowercase();
        let (_, _, codes) = app.totp_user(&email).await;
        let token = app.mfa_token(kind, &email).await;
        let answer = app.login_mfa(kind, &token, &codes[0]).await;
        let credential = app.assert_logged_in(kind, &answer, &email).await;
        assert_eq!(app.status(&credential).await["recovery_codes_left"], 9);
        // The same code again: refused.
        let token = app.mfa_token(kind, &email).await;
        app.login_mfa(kind, &token, &codes[0])
            .await
            .assert_code(BAD_CODE, "a used recovery code");
        // Typed in capitals without its dash, another code works (on the
        // token that met one bad code).
        let typed = codes[1].replace('-', "").to_uppercase();
        let answer = app.login_mfa(kind, &token, &typed).await;
        let credential = app.assert_logged_in(kind, &answer, &email).await;
        assert_eq!(app.status(&credential).await["recovery_codes_left"], 8);
    }
}

async fn bad_codes_are_refused_and_a_spaced_code_is_taken<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, codes) = app.totp_user("a@example.com").await;
    let (_, mut other, other_codes) = app.totp_user("b@example.com").await;
    let bad = [
        totp.wrong_code(),
        "abcdef".to_owned(),
        "12a456".to_owned(),
        "12345".to_owned(),
        "1234567".to_owned(),
        String::new(),
        " ".to_owned(),
        "１２３４５６".to_owned(),
        "-12345".to_owned(),
        "123456\0".to_owned(),
        "9".repeat(100_000),
        format!("{}x", totp.peek()),
        codes[0].replace('-', "+"),
        other_codes[0].clone(),
        // The other user's current code.
        other.next().await,
    ];
    for chunk in bad.chunks(4) {
        // Four bad codes per token: the fifth would end it.
        let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
        for code in chunk {
            let shown: String = code.chars().take(20).collect();
            app.login_mfa(Kind::Jwt, &token, code)
                .await
                .assert_code(BAD_CODE, &format!("the code {shown:?}"));
        }
    }
    // None of them used anything up.
    let jwt = app.jwt_after_mfa("b@example.com", &mut other).await;
    assert_eq!(app.status(&jwt).await["recovery_codes_left"], 10);
    // The right digits with a space in the middle: taken.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let code = totp.next().await;
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let answer = app.login_mfa(Kind::Jwt, &token, &spaced).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    // A wrong type or a missing field: a malformed body.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    for body in [
        json!({"mfa_token": token}),
        json!({"code": "123456"}),
        json!({"mfa_token": token, "code": 123456}),
        json!({"mfa_token": 1, "code": "123456"}),
    ] {
        let answer = app.post("/auth/jwt/login/mfa", None, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {answer:?}"
        );
    }
}

async fn a_replayed_or_out_of_window_code_is_refused<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, _) = app.totp_user("a@example.com").await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    // The same code again, on a new token, on another backend: refused.
    for kind in [Kind::Jwt, Kind::Cookie] {
        let token = app.mfa_token(kind, "a@example.com").await;
        app.login_mfa(kind, &token, &totp.last_code())
            .await
            .assert_code(BAD_CODE, "a replayed code");
    }
    // Two steps away either way: refused.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    app.login_mfa(Kind::Jwt, &token, &totp.too_far_ahead())
        .await
        .assert_code(BAD_CODE, "a code 60 s ahead");
    app.login_mfa(Kind::Jwt, &token, &totp.too_far_behind())
        .await
        .assert_code(BAD_CODE, "a code 60 s behind");
    // The code of the step before the last used one: refused too.
    let before = totp.code_of_step(totp.last.unwrap() - 1);
    app.login_mfa(Kind::Jwt, &token, &before)
        .await
        .assert_code(BAD_CODE, "an earlier step than the last used");
    // The next step is fine.
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn forged_or_random_mfa_tokens_are_refused<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (user, mut totp, codes) = app.totp_user("a@example.com").await;
    let real = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let mut altered: Vec<char> = real.chars().collect();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == 'A' { 'B' } else { 'A' };
    let altered: String = altered.into_iter().collect();
    let jwt = app.jwt_after_mfa("a@example.com", &mut totp).await;
    let Credential::Bearer(access) = &jwt else {
        unreachable!()
    };
    for forged in [
        String::new(),
        "x".to_owned(),
        "A".repeat(43),
        altered,
        format!("{real}x"),
        real[..real.len() - 1].to_owned(),
        user.id.to_string(),
        access.clone(),
        mfa_token_key(&real),
        "t".repeat(100_000),
        "../../etc/passwd".to_owned(),
    ] {
        let shown: String = forged.chars().take(20).collect();
        app.login_mfa(Kind::Jwt, &forged, &totp.peek())
            .await
            .assert_code(TOKEN_INVALID, &format!("the token {shown:?}"));
        app.login_mfa(Kind::Jwt, &forged, &codes[0])
            .await
            .assert_code(TOKEN_INVALID, &format!("the token {shown:?}"));
    }
    // Nothing was used up: the real token takes the recovery code.
    let answer = app.login_mfa(Kind::Jwt, &real, &codes[0]).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn an_mfa_token_works_once<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, codes) = app.totp_user("a@example.com").await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    for code in [totp.peek(), codes[0].clone()] {
        app.login_mfa(Kind::Jwt, &token, &code)
            .await
            .assert_code(TOKEN_INVALID, "a used token");
    }
    // Each password login has a token of its own.
    let first = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let second = app.mfa_token(Kind::Jwt, "a@example.com").await;
    assert_ne!(first, second);
    let answer = app.login_mfa(Kind::Jwt, &second, &codes[0]).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    let answer = app.login_mfa(Kind::Jwt, &first, &codes[1]).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn an_mfa_token_is_good_only_on_its_own_backend<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, _, codes) = app.totp_user("a@example.com").await;
    for (kind, code) in KINDS.into_iter().zip(&codes) {
        let token = app.mfa_token(kind, "a@example.com").await;
        for other in KINDS.into_iter().filter(|k| *k != kind) {
            app.login_mfa(other, &token, code)
                .await
                .assert_code(TOKEN_INVALID, &format!("a token of {kind:?} on {other:?}"));
        }
        // Still good on its own backend, and the code was not used.
        let answer = app.login_mfa(kind, &token, code).await;
        app.assert_logged_in(kind, &answer, "a@example.com").await;
        let token = app.mfa_token(kind, "a@example.com").await;
        app.login_mfa(kind, &token, code)
            .await
            .assert_code(BAD_CODE, "used on the right backend");
    }
}

async fn an_mfa_token_dies_after_five_bad_codes<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, codes) = app.totp_user("a@example.com").await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    for attempt in 1..=5 {
        app.login_mfa(Kind::Jwt, &token, &totp.wrong_code())
            .await
            .assert_code(BAD_CODE, &format!("bad code {attempt}"));
    }
    for code in [totp.peek(), codes[0].clone()] {
        app.login_mfa(Kind::Jwt, &token, &code)
            .await
            .assert_code(TOKEN_INVALID, "the right code after five bad ones");
    }
    // Four bad codes leave it alive.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    for _ in 1..=4 {
        app.login_mfa(Kind::Jwt, &token, &totp.wrong_code())
            .await
            .assert_code(BAD_CODE, "a bad code");
    }
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn an_mfa_token_of_another_user_takes_only_that_users_code<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut alice, alice_codes) = app.totp_user("alice@example.com").await;
    let (_, mut bob, bob_codes) = app.totp_user("bob@example.com").await;
    let alice_token = app.mfa_token(Kind::Jwt, "alice@example.com").await;
    // Alice's token with Bob's codes: refused, and it does not log Bob in.
    app.login_mfa(Kind::Jwt, &alice_token, &bob.next().await)
        .await
        .assert_code(BAD_CODE, "Bob's TOTP code on Alice's token");
    app.login_mfa(Kind::Jwt, &alice_token, &bob_codes[0])
        .await
        .assert_code(BAD_CODE, "Bob's recovery code on Alice's token");
    // Bob's recovery code was not used up by that.
    let bob_token = app.mfa_token(Kind::Jwt, "bob@example.com").await;
    let answer = app.login_mfa(Kind::Jwt, &bob_token, &bob_codes[0]).await;
    app.assert_logged_in(Kind::Jwt, &answer, "bob@example.com")
        .await;
    // Alice's token logs Alice in, with Alice's code.
    let answer = app
        .login_mfa(Kind::Jwt, &alice_token, &alice.next().await)
        .await;
    app.assert_logged_in(Kind::Jwt, &answer, "alice@example.com")
        .await;
    let _ = alice_codes;
}

async fn an_expired_mfa_token_is_refused<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, codes) = app.totp_user("a@example.com").await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    // The pending login is stored under the token's digest, for 5 minutes.
    let key = mfa_token_key(&token);
    let now = Utc::now();
    let stored = app
        .store
        .challenge(&key, now)
        .await
        .unwrap()
        .expect("the pending login is stored under the token's digest");
    let lifetime = stored.expires_at - now;
    assert!(
        lifetime <= chrono::Duration::seconds(300) && lifetime > chrono::Duration::seconds(290),
        "5 minutes: {lifetime}"
    );
    assert!(
        !String::from_utf8_lossy(&stored.data).contains(&token),
        "the token itself is not stored"
    );
    // Five minutes later (its expiry moved into the past).
    let taken = app.store.take_challenge(&key, now).await.unwrap().unwrap();
    app.store
        .put_challenge(&key, &taken.data, now - chrono::Duration::seconds(1))
        .await
        .unwrap();
    for code in [totp.peek(), codes[0].clone()] {
        app.login_mfa(Kind::Jwt, &token, &code)
            .await
            .assert_code(TOKEN_INVALID, "an expired token");
    }
    // A fresh token works.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn an_mfa_token_dies_when_the_password_changes_meanwhile<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, _) = app.totp_user("a@example.com").await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let reset = app.reset_token("a@example.com").await;
    let answer = app
        .post(
            "/auth/reset-password",
            None,
            json!({"token": reset, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    app.login_mfa(Kind::Jwt, &token, &totp.peek())
        .await
        .assert_code(TOKEN_INVALID, "a token from before the new password");
    let token = app
        .password_login(Kind::Jwt, "a@example.com", NEW_PASSWORD)
        .await
        .mfa_token(&["totp", "recovery_code"]);
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn an_mfa_token_made_on_one_instance_completes_on_another<S: MfaTestStore>(store: S) {
    let one = mfa_app(store.clone());
    let two = mfa_app(store);
    let (_, mut totp, _) = one.totp_user("a@example.com").await;
    let token = one.mfa_token(Kind::Token, "a@example.com").await;
    let answer = two.login_mfa(Kind::Token, &token, &totp.next().await).await;
    let credential = two
        .assert_logged_in(Kind::Token, &answer, "a@example.com")
        .await;
    assert_eq!(one.me(&credential).await.status, StatusCode::OK);
    // Used once across instances, and a code once across instances.
    one.login_mfa(Kind::Token, &token, &totp.peek())
        .await
        .assert_code(TOKEN_INVALID, "the token used on the other instance");
    let token = one.mfa_token(Kind::Token, "a@example.com").await;
    one.login_mfa(Kind::Token, &token, &totp.last_code())
        .await
        .assert_code(BAD_CODE, "the code used on the other instance");
}

// ---------------------------------------------------------------------------
// Turning TOTP off, new recovery codes, a superuser's reset.

async fn disabling_totp_checks_the_password_and_removes_codes<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (user, mut totp, codes) = app.totp_user("a@example.com").await;
    let jwt = app.jwt_after_mfa("a@example.com", &mut totp).await;
    let disable = |password: &str| {
        request(
            "DELETE",
            "/users/me/mfa/totp",
            Some(&jwt),
            Some(&json!({ "current_password": password })),
        )
    };
    for (password, what) in [("wrong password", "a wrong password"), ("", "empty")] {
        app.call(disable(password))
            .await
            .assert_code(BAD_CURRENT, what);
    }
    let answer = app
        .call(request(
            "DELETE",
            "/users/me/mfa/totp",
            Some(&jwt),
            Some(&json!({})),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.status(&jwt).await["totp"], true, "still on");
    assert_eq!(app.hooks.events(), ["enabled a@example.com totp"]);

    let answer = app.call(disable(PASSWORD)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    assert_eq!(
        app.hooks.events(),
        ["enabled a@example.com totp", "disabled a@example.com totp"]
    );
    assert!(app.store.totp(&user.id).await.unwrap().is_none());
    assert!(app.store.recovery_codes(&user.id).await.unwrap().is_empty());
    // The login needs no code on any backend.
    for kind in KINDS {
        let answer = app.password_login(kind, "a@example.com", PASSWORD).await;
        app.assert_logged_in(kind, &answer, "a@example.com").await;
    }
    // New recovery codes need TOTP on.
    app.post(
        "/users/me/mfa/recovery-codes",
        Some(&jwt),
        json!({"code": totp.peek()}),
    )
    .await
    .assert_code(BAD_CODE, "TOTP is off");
    // Off again: 204, no second hook.
    assert_eq!(
        app.call(disable(PASSWORD)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.hooks.events().len(), 2);
    // On again: a new secret, and the old recovery codes are dead.
    let (mut again, new_codes) = app.enrol(&jwt).await;
    assert_ne!(again.base32, totp.base32);
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    app.login_mfa(Kind::Jwt, &token, &codes[0])
        .await
        .assert_code(BAD_CODE, "a recovery code of the old enrolment");
    app.login_mfa(Kind::Jwt, &token, &totp.next().await)
        .await
        .assert_code(BAD_CODE, "a code of the old secret");
    let answer = app.login_mfa(Kind::Jwt, &token, &new_codes[0]).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    let _ = again.next().await;
}

async fn regenerating_recovery_codes_kills_the_old_ones<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, old) = app.totp_user("a@example.com").await;
    // Use one old code to log in: 9 left.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let answer = app.login_mfa(Kind::Jwt, &token, &old[0]).await;
    let jwt = app
        .assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    assert_eq!(app.status(&jwt).await["recovery_codes_left"], 9);
    let regenerate = |code: &str| {
        request(
            "POST",
            "/users/me/mfa/recovery-codes",
            Some(&jwt),
            Some(&json!({ "code": code })),
        )
    };
    for code in [
        totp.wrong_code(),
        String::new(),
        "abc".into(),
        old[1].clone(),
    ] {
        app.call(regenerate(&code))
            .await
            .assert_code(BAD_CODE, &format!("regenerate with {code:?}"));
    }
    assert_eq!(app.status(&jwt).await["recovery_codes_left"], 9);
    let answer = app.call(regenerate(&totp.next().await)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.headers.get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    let new = recovery_codes(&answer.body);
    assert!(new.iter().all(|c| !old.contains(c)), "all new");
    assert_eq!(app.status(&jwt).await["recovery_codes_left"], 10);
    // The TOTP code it took is used up.
    app.call(regenerate(&totp.last_code()))
        .await
        .assert_code(BAD_CODE, "the same TOTP code again");
    // The old codes are dead, the new ones work.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    for code in &old[1..4] {
        app.login_mfa(Kind::Jwt, &token, code)
            .await
            .assert_code(BAD_CODE, "an old recovery code");
    }
    let answer = app.login_mfa(Kind::Jwt, &token, &new[0]).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    // Missing field: malformed.
    let answer = app
        .call(request(
            "POST",
            "/users/me/mfa/recovery-codes",
            Some(&jwt),
            Some(&json!({})),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_superuser_resets_a_users_factors<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.superuser("admin@example.com").await;
    let admin = app.jwt("admin@example.com").await;
    let (user, mut totp, _) = app.totp_user("a@example.com").await;
    let own = app.jwt_after_mfa("a@example.com", &mut totp).await;
    app.user("b@example.com").await;
    let plain = app.jwt("b@example.com").await;
    let uri = format!("/users/{}/mfa", user.id);

    let answer = app.call(request("DELETE", &uri, None, None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    for who in [&plain, &own] {
        let answer = app.call(request("DELETE", &uri, Some(who), None)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
    }
    for id in [UNKNOWN_ID, "not-a-uuid", "1"] {
        let answer = app
            .call(request(
                "DELETE",
                &format!("/users/{id}/mfa"),
                Some(&admin),
                None,
            ))
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{id}: {answer:?}");
    }
    assert_eq!(app.status(&own).await["totp"], true, "nothing changed yet");

    let answer = app.call(request("DELETE", &uri, Some(&admin), None)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert_eq!(
        app.status(&own).await,
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    assert!(app.store.totp(&user.id).await.unwrap().is_none());
    assert!(app.store.recovery_codes(&user.id).await.unwrap().is_empty());
    assert!(app.store.passkeys(&user.id).await.unwrap().is_empty());
    assert_eq!(
        app.hooks.events(),
        ["enabled a@example.com totp", "disabled a@example.com all"]
    );
    let answer = app
        .password_login(Kind::Jwt, "a@example.com", PASSWORD)
        .await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    // A reset of a user with nothing: 204 all the same.
    let answer = app.call(request("DELETE", &uri, Some(&admin), None)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
}

// ---------------------------------------------------------------------------
// A password reset, a deleted user.

async fn a_password_reset_leaves_mfa_on_and_the_next_login_still_asks_for_the_code<
    S: MfaTestStore,
>(
    store: S,
) {
    let app = mfa_app(store);
    let (user, mut totp, codes) = app.totp_user("a@example.com").await;
    let reset = app.reset_token("a@example.com").await;
    let answer = app
        .post(
            "/auth/reset-password",
            None,
            json!({"token": reset, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // Still on, with every recovery code.
    let factor = app.store.totp(&user.id).await.unwrap().unwrap();
    assert!(factor.confirmed);
    assert_eq!(app.store.recovery_codes(&user.id).await.unwrap().len(), 10);
    assert_eq!(app.hooks.events(), ["enabled a@example.com totp"]);
    // On every backend, the new password alone does not log in.
    for kind in KINDS {
        let token = app
            .password_login(kind, "a@example.com", NEW_PASSWORD)
            .await
            .mfa_token(&["totp", "recovery_code"]);
        app.login_mfa(kind, &token, &totp.wrong_code())
            .await
            .assert_code(BAD_CODE, "a wrong code after the reset");
    }
    let token = app
        .password_login(Kind::Jwt, "a@example.com", NEW_PASSWORD)
        .await
        .mfa_token(&["totp", "recovery_code"]);
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    let jwt = app
        .assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": true, "recovery_codes_left": 10, "passkeys": 0})
    );
    // The recovery codes still work too.
    let token = app
        .password_login(Kind::Cookie, "a@example.com", NEW_PASSWORD)
        .await
        .mfa_token(&["totp", "recovery_code"]);
    let answer = app.login_mfa(Kind::Cookie, &token, &codes[0]).await;
    app.assert_logged_in(Kind::Cookie, &answer, "a@example.com")
        .await;
}

async fn a_deleted_users_factors_go_with_the_user<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.superuser("admin@example.com").await;
    let admin = app.jwt("admin@example.com").await;
    let (user, _, codes) = app.totp_user("a@example.com").await;
    let answer = app
        .call(request(
            "DELETE",
            &format!("/users/{}", user.id),
            Some(&admin),
            None,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert!(app.store.totp(&user.id).await.unwrap().is_none());
    assert!(app.store.recovery_codes(&user.id).await.unwrap().is_empty());
    // The address registered again: a new account without a second factor.
    let answer = app
        .post(
            "/auth/register",
            None,
            json!({"email": "a@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let answer = app
        .password_login(Kind::Jwt, "a@example.com", PASSWORD)
        .await;
    let jwt = app
        .assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    // Enrolling anew works, and the old codes are nothing.
    let (mut totp, _) = app.enrol(&jwt).await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    app.login_mfa(Kind::Jwt, &token, &codes[0])
        .await
        .assert_code(BAD_CODE, "a recovery code of the deleted account");
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

// ---------------------------------------------------------------------------
// Races and a deactivation between the steps.

/// The request of `POST {prefix}/login/mfa`.
fn login_mfa_request(
    kind: Kind,
    mfa_token: &str,
    code: &str,
) -> axum::http::Request<axum::body::Body> {
    request(
        "POST",
        &kind.login_mfa(),
        None,
        Some(&json!({ "mfa_token": mfa_token, "code": code })),
    )
}

/// Exactly one of `answers` is a login (200), each other a 400 with one of
/// `codes`.
#[track_caller]
fn assert_one_login(answers: &[Answer], codes: &[&str], what: &str) {
    let wins = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(wins, 1, "{what}: one login in {answers:?}");
    for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}: {answer:?}");
        let code = answer.body["detail"].as_str().unwrap_or_default();
        assert!(codes.contains(&code), "{what}: {answer:?}");
    }
}

async fn concurrent_second_steps_with_one_mfa_token_log_in_once<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, _, codes) = app.totp_user("a@example.com").await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    // Eight different good codes on one token: one login.
    let requests = codes[..8]
        .iter()
        .map(|code| login_mfa_request(Kind::Jwt, &token, code))
        .collect();
    let answers = app.concurrently(requests).await;
    assert_one_login(&answers, &[TOKEN_INVALID], "one token, eight codes");
}

async fn concurrent_uses_of_one_code_log_in_once<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    let (_, mut totp, codes) = app.totp_user("a@example.com").await;
    // One recovery code on eight tokens.
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(app.mfa_token(Kind::Jwt, "a@example.com").await);
    }
    let requests = tokens
        .iter()
        .map(|token| login_mfa_request(Kind::Jwt, token, &codes[0]))
        .collect();
    let answers = app.concurrently(requests).await;
    assert_one_login(&answers, &[BAD_CODE], "one recovery code, eight tokens");
    // One TOTP code on eight tokens.
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(app.mfa_token(Kind::Jwt, "a@example.com").await);
    }
    let code = totp.next().await;
    let requests = tokens
        .iter()
        .map(|token| login_mfa_request(Kind::Jwt, token, &code))
        .collect();
    let answers = app.concurrently(requests).await;
    assert_one_login(&answers, &[BAD_CODE], "one TOTP code, eight tokens");
}

async fn a_user_deactivated_between_the_two_steps_gets_no_token<S: MfaTestStore>(store: S) {
    let app = mfa_app(store);
    app.superuser("admin@example.com").await;
    let admin = app.jwt("admin@example.com").await;
    let (user, mut totp, codes) = app.totp_user("a@example.com").await;
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let answer = app
        .call(request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            Some(&json!({"is_active": false})),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    for code in [totp.next().await, codes[0].clone()] {
        let answer = app.login_mfa(Kind::Jwt, &token, &code).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        let code = answer.body["detail"].as_str().unwrap_or_default();
        assert!(
            [TOKEN_INVALID, "LOGIN_BAD_CREDENTIALS"].contains(&code),
            "{answer:?}"
        );
        assert!(answer.body.get("access_token").is_none());
    }
    // A deactivated user's password gets no second step either.
    app.password_login(Kind::Jwt, "a@example.com", PASSWORD)
        .await
        .assert_code("LOGIN_BAD_CREDENTIALS", "a deactivated user's password");
}

// ---------------------------------------------------------------------------
// The login throttle (memory: the counting is the throttle's, not the
// store's).

fn throttled(max: u32) -> MfaApp<MemoryStore<User>> {
    MfaApp::build(
        MemoryStore::new(),
        Setup {
            throttle: Some(
                LoginThrottle::new(MemoryThrottle::new())
                    .per_address(Some(Limit::new(max, Duration::from_secs(300)))),
            ),
            ..Setup::default()
        },
    )
}

/// 429 `LOGIN_TOO_MANY_ATTEMPTS` with `Retry-After` in (0, 300].
#[track_caller]
fn assert_locked(answer: &Answer, what: &str) {
    assert_eq!(
        (answer.status, &answer.body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"detail": "LOGIN_TOO_MANY_ATTEMPTS"})
        ),
        "{what}"
    );
    let seconds: u64 = answer
        .headers
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=300).contains(&seconds),
        "{what}: Retry-After {seconds}"
    );
}

#[tokio::test]
async fn bad_codes_count_towards_the_login_throttle() {
    let app = throttled(3);
    let (_, totp, codes) = app.totp_user("a@example.com").await;
    app.user("b@example.com").await;
    // The password step counts 1, each bad code 1 more: 3 reach the limit.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    for _ in 0..2 {
        app.login_mfa(Kind::Jwt, &token, &totp.wrong_code())
            .await
            .assert_code(BAD_CODE, "a bad code under the limit");
    }
    // Locked: the right code, a recovery code, the right password.
    assert_locked(
        &app.login_mfa(Kind::Jwt, &token, &totp.peek()).await,
        "the right TOTP code when locked",
    );
    assert_locked(
        &app.login_mfa(Kind::Jwt, &token, &codes[0]).await,
        "a recovery code when locked",
    );
    for kind in KINDS {
        assert_locked(
            &app.password_login(kind, "a@example.com", PASSWORD).await,
            "the right password when locked",
        );
    }
    // Nothing was used up, and other addresses go on.
    let answer = app
        .password_login(Kind::Jwt, "b@example.com", PASSWORD)
        .await;
    app.assert_logged_in(Kind::Jwt, &answer, "b@example.com")
        .await;
    let user = app.manager.get_by_email("a@example.com").await.unwrap();
    assert_eq!(app.store.recovery_codes(&user.id).await.unwrap().len(), 10);
}

#[tokio::test]
async fn a_correct_password_that_meets_mfa_required_does_not_clear_the_throttle_count() {
    let app = throttled(3);
    let (_, mut totp, _) = app.totp_user("a@example.com").await;
    for _ in 0..2 {
        app.password_login(Kind::Jwt, "a@example.com", "wrong password")
            .await
            .assert_code("LOGIN_BAD_CREDENTIALS", "a wrong password");
    }
    // The right password: the second step is asked for, the count stays
    // (it is the third attempt: the limit).
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    assert_locked(
        &app.password_login(Kind::Jwt, "a@example.com", "wrong password")
            .await,
        "a wrong password after LOGIN_MFA_REQUIRED",
    );
    assert_locked(
        &app.login_mfa(Kind::Jwt, &token, &totp.peek()).await,
        "the second step when locked",
    );
    let _ = totp.next().await;
}

#[tokio::test]
async fn a_completed_two_step_login_clears_the_throttle_count() {
    let app = throttled(3);
    let (_, mut totp, _) = app.totp_user("a@example.com").await;
    app.password_login(Kind::Jwt, "a@example.com", "wrong password")
        .await
        .assert_code("LOGIN_BAD_CREDENTIALS", "a wrong password");
    // Two attempts so far; the second step is the third, and completes.
    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    // Cleared: two wrong passwords are below the limit again.
    for _ in 0..2 {
        app.password_login(Kind::Jwt, "a@example.com", "wrong password")
            .await
            .assert_code("LOGIN_BAD_CREDENTIALS", "a wrong password after the login");
    }
}

#[tokio::test]
async fn enrolment_and_removal_count_wrong_current_passwords_towards_the_throttle() {
    let app = throttled(2);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    app.start_totp(&jwt, "wrong password")
        .await
        .assert_code(BAD_CURRENT, "a wrong password");
    app.start_totp(&jwt, "wrong password")
        .await
        .assert_code(BAD_CURRENT, "a wrong password");
    assert_locked(
        &app.start_totp(&jwt, PASSWORD).await,
        "the right password once locked",
    );
    let answer = app
        .call(request(
            "DELETE",
            "/users/me/mfa/totp",
            Some(&jwt),
            Some(&json!({"current_password": PASSWORD})),
        ))
        .await;
    assert_locked(&answer, "disabling once locked");
}

// ---------------------------------------------------------------------------
// Hooks and the audit trail.

#[tokio::test(flavor = "current_thread")]
async fn mfa_flows_are_audited_and_fire_hooks_without_secrets() {
    let (capture, _capturing) = Capture::start();
    let app = mfa_app(MemoryStore::<User>::new());
    app.superuser("admin@example.com").await;
    let admin = app.jwt("admin@example.com").await;
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let mut totp = app.start(&jwt).await;
    let confirm_code = totp.next().await;
    let answer = app.confirm(&jwt, &confirm_code).await;
    let codes = recovery_codes(&answer.body);
    assert_eq!(app.hooks.events(), ["enabled a@example.com totp"]);

    let token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let bad = totp.wrong_code();
    app.login_mfa(Kind::Jwt, &token, &bad)
        .await
        .assert_code(BAD_CODE, "a bad code");
    let login_code = totp.next().await;
    let answer = app.login_mfa(Kind::Jwt, &token, &login_code).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    let recovery_token = app.mfa_token(Kind::Jwt, "a@example.com").await;
    let answer = app.login_mfa(Kind::Jwt, &recovery_token, &codes[0]).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    let regenerate_code = totp.next().await;
    let answer = app
        .post(
            "/users/me/mfa/recovery-codes",
            Some(&jwt),
            json!({"code": regenerate_code}),
        )
        .await;
    let new_codes = recovery_codes(&answer.body);
    let answer = app
        .call(request(
            "DELETE",
            "/users/me/mfa/totp",
            Some(&jwt),
            Some(&json!({"current_password": PASSWORD})),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let answer = app
        .call(request(
            "DELETE",
            &format!("/users/{}/mfa", user.id),
            Some(&admin),
            None,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.hooks.events(),
        [
            "enabled a@example.com totp",
            "disabled a@example.com totp",
            "disabled a@example.com all",
        ]
    );

    let id = user.id.to_string();
    for name in [
        "mfa_enabled",
        "mfa_required",
        "mfa_login",
        "recovery_code_used",
        "recovery_codes_regenerated",
        "mfa_disabled",
        "mfa_reset",
    ] {
        let events = capture.audit(name);
        assert!(!events.is_empty(), "a {name} event");
        for event in &events {
            assert_eq!(event.fields.get("user"), Some(&id), "{name}: {event:?}");
        }
    }
    let Credential::Bearer(access) = &jwt else {
        unreachable!()
    };
    let mut secrets: Vec<String> = vec![
        totp.base32.clone(),
        confirm_code,
        login_code,
        regenerate_code,
        bad,
        token,
        recovery_token,
        PASSWORD.to_owned(),
        access.clone(),
    ];
    secrets.extend(codes.iter().cloned());
    secrets.extend(new_codes.iter().cloned());
    secrets.extend(codes.iter().map(|c| c.replace('-', "")));
    for event in capture.all() {
        let text = format!("{:?}", event.fields);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "an event on {} carries a secret ({secret}): {text}",
                event.target
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers of this file.

impl<S: MfaTestStore> MfaApp<S> {
    /// A JWT of a TOTP user, through both steps.
    async fn jwt_after_mfa(&self, email: &str, totp: &mut AuthenticatorApp) -> Credential {
        self.totp_login(email, totp).await
    }
}

#[allow(dead_code)]
fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}
