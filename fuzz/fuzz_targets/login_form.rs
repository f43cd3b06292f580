//! The login form: `POST /auth/jwt/login` with a fuzzed body and
//! `Content-Type` (urlencoded, multipart with any boundary, JSON, nothing).
//!
//! Input: the Content-Type, a NUL, then the body. An input without a NUL is
//! all body, sent as `application/x-www-form-urlencoded`; a first byte of
//! `0x01` sends no Content-Type at all. The app is built once: a failed login
//! changes nothing (no login throttle), and a good one (the seeds hold
//! Alice's credentials) issues a stateless JWT.
#![no_main]

use axum::body::Body;
use axum_users_fuzz::http::header;
use axum_users_fuzz::{App, block_on, header_value, request, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let app = App::shared();
    let (content_type, body) = match data.iter().position(|&b| b == 0) {
        Some(_) => split(data, 0),
        None => (&b"application/x-www-form-urlencoded"[..], data),
    };
    let mut builder = request("POST", "/auth/jwt/login");
    if content_type != b"\x01" {
        let Some(value) = header_value(content_type) else {
            return;
        };
        builder = builder.header(header::CONTENT_TYPE, value);
    }
    let request = builder
        .body(Body::from(body.to_vec()))
        .expect("a login request");
    block_on(async {
        let answer = app.send(request).await;
        // A login answers 200 with a token, 400 or 422 (and 415 for a body
        // of another kind); never anything else.
        assert!(
            [200, 400, 413, 415, 422].contains(&answer.status.as_u16()),
            "login answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    });
});
