//! JWTs and purpose tokens: the access-token decoder (`JwtStrategy` through
//! the `Strategy` trait, and `JwtCodec::decode`), and the token bodies of
//! `reset-password`, `verify`, `confirm-email-change`, `verify-token` and
//! `accept-invitation`.
//!
//! The first byte picks the sink (its value modulo 7) and whether the rest
//! is a token of its own (below 128) or edits ([`tamper`]) of the token
//! planted for that sink (Alice's access token, Alice's reset token,
//! Carol's verification token; the sinks without one take the bytes as a
//! token). The invariants: no 5xx, no error from the decoders, and nothing
//! but the planted token, byte for byte, is ever accepted.
//!
//! A fresh app for the planted reset and verification tokens (accepted,
//! they change the user), the shared app for the rest.
#![no_main]

use axum_users_fuzz::axum_users::tokens::JwtCodec;
use axum_users_fuzz::{App, SECRET, assert_only_planted_succeeds, block_on, json, tamper};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const NEW_PASSWORD: &str = "another-horse-battery-9";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let sink = mode % 7;
    let tampered = mode >= 128;
    let shared = App::shared();
    block_on(async {
        // An accepted reset or verification changes the user: a fresh app
        // for the planted tokens of those, the shared one for the rest.
        let fresh;
        let app = match tampered && (sink == 3 || sink == 4) {
            true => {
                fresh = App::new().await;
                &fresh
            }
            false => shared,
        };
        let planted = match sink {
            0..=2 => Some(app.alice_token.clone()),
            3 => Some(app.reset_token()),
            4 => Some(app.verify_token(&app.carol)),
            _ => None,
        };
        let token = match (&planted, tampered) {
            (Some(planted), true) => String::from_utf8_lossy(&tamper(planted, rest)).into_owned(),
            _ => String::from_utf8_lossy(rest).into_owned(),
        };
        let planted = planted.unwrap_or_default();
        match sink {
            0 => {
                let owner = app
                    .jwt
                    .strategy()
                    .read_token(&token)
                    .await
                    .expect("reading a token never fails");
                assert_eq!(
                    owner.is_some(),
                    token == planted,
                    "JwtStrategy and {token:?} (planted {planted:?})"
                );
            }
            1 => {
                let codec = JwtCodec::hs256(SECRET).expect("the codec");
                let claims = codec.decode::<serde_json::Value>(&token, &["fastapi-users:auth"]);
                assert_eq!(
                    claims.is_some(),
                    token == planted,
                    "JwtCodec and {token:?} (planted {planted:?})"
                );
            }
            2 => {
                let body = json!({ "token": token }).to_string();
                let answer = app
                    .send(json("POST", "/auth/jwt/verify-token", None, body))
                    .await;
                assert_only_planted_succeeds("verify-token", answer.status, &token, &planted);
            }
            3 => {
                let body = json!({ "token": token, "password": NEW_PASSWORD }).to_string();
                let answer = app
                    .send(json("POST", "/auth/reset-password", None, body))
                    .await;
                assert_only_planted_succeeds("reset-password", answer.status, &token, &planted);
            }
            4 => {
                let body = json!({ "token": token }).to_string();
                let answer = app.send(json("POST", "/auth/verify", None, body)).await;
                assert_only_planted_succeeds("verify", answer.status, &token, &planted);
            }
            5 => {
                let body = json!({ "token": token }).to_string();
                let answer = app
                    .send(json(
                        "POST",
                        "/auth/confirm-email-change",
                        Some(&app.alice_token),
                        body,
                    ))
                    .await;
                assert!(
                    !answer.status.is_success(),
                    "confirm-email-change took {token:?}"
                );
            }
            _ => {
                let body = json!({ "token": token, "password": NEW_PASSWORD }).to_string();
                let answer = app
                    .send(json("POST", "/auth/accept-invitation", None, body))
                    .await;
                assert!(
                    !answer.status.is_success(),
                    "accept-invitation took {token:?}"
                );
            }
        }
    });
});
