//! Refresh tokens: `POST /auth/token/refresh` (bearer backend: the token in
//! the JSON body) and `POST /auth/cookie-token/refresh` (cookie backend: the
//! token in the refresh cookie, else the body).
//!
//! The first byte picks what the rest is:
//!
//! - 0: the raw JSON body of the bearer route; 1: the token in
//!   `{"refresh_token": …}`;
//! - 2: the refresh cookie's value; 3: the whole `Cookie` header (cookie
//!   route);
//! - 4: edits ([`tamper`]) of a refresh token planted for Alice, in the body;
//!   5: the same through the cookie.
//!
//! The invariants: no 5xx; only the planted token, byte for byte, refreshes;
//! and a token that refreshed once never refreshes again (rotation). A fresh
//! app for the planted tokens (a refresh rotates them), the shared one for
//! the others.
#![no_main]

use axum::body::Body;
use axum_users_fuzz::http::header;
use axum_users_fuzz::{
    App, REFRESH_COOKIE, assert_only_planted_succeeds, block_on, header_value, json, request,
    tamper,
};
use libfuzzer_sys::fuzz_target;
use serde_json::json as value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let shared = App::shared();
    block_on(async {
        // A planted token's session rotates: a fresh app for those; the
        // shared app for tokens no input can forge.
        let fresh;
        let app = match mode % 6 {
            4 | 5 => {
                fresh = App::new().await;
                &fresh
            }
            _ => shared,
        };
        let (planted, token): (Option<String>, Vec<u8>) = match mode % 6 {
            4 => {
                let planted = app.refresh_token(&app.token).await;
                let token = tamper(&planted, rest);
                (Some(planted), token)
            }
            5 => {
                let planted = app.refresh_token(&app.cookie_token).await;
                let token = tamper(&planted, rest);
                (Some(planted), token)
            }
            _ => (None, rest.to_vec()),
        };
        let build = || -> Option<axum_users_fuzz::http::Request<Body>> {
            match mode % 6 {
                0 => Some(json("POST", "/auth/token/refresh", None, token.clone())),
                1 | 4 => {
                    let text = String::from_utf8_lossy(&token);
                    let body = value!({ "refresh_token": text }).to_string();
                    Some(json("POST", "/auth/token/refresh", None, body))
                }
                2 | 5 => {
                    let cookie = [REFRESH_COOKIE.as_bytes(), b"=", &token].concat();
                    let request = request("POST", "/auth/cookie-token/refresh")
                        .header(header::COOKIE, header_value(&cookie)?)
                        .body(Body::empty())
                        .expect("a refresh request");
                    Some(request)
                }
                _ => {
                    let request = request("POST", "/auth/cookie-token/refresh")
                        .header(header::COOKIE, header_value(&token)?)
                        .body(Body::empty())
                        .expect("a refresh request");
                    Some(request)
                }
            }
        };
        let Some(request) = build() else {
            return;
        };
        let answer = app.send(request).await;
        let sent = String::from_utf8_lossy(&token);
        match &planted {
            Some(planted) => {
                assert_only_planted_succeeds("refresh", answer.status, &sent, planted);
                if answer.status.is_success() {
                    // Rotated: the same token never works again.
                    let again = app.send(build().expect("the same request")).await;
                    assert!(
                        !again.status.is_success(),
                        "a rotated refresh token refreshed twice"
                    );
                }
            }
            None => assert!(
                !answer.status.is_success(),
                "refresh took {sent:?}: {}",
                String::from_utf8_lossy(&answer.body)
            ),
        }
    });
});
