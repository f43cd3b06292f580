//! OAuth callback parameters: `GET /auth/generic/callback?<query>` (login)
//! and `GET /auth/associate/generic/callback?<query>` (linking, as Alice), a
//! generic OAuth2 provider whose endpoints are loopback port 9, where
//! nothing listens; the authorize route's `scopes`; and the provider
//! answer's mapping (`UserInfoMapping::read`), directly.
//!
//! The first byte picks what the rest is:
//!
//! - 0: the login callback's query string; 1: the CSRF cookie's value, a
//!   NUL, then the query string; 2: the linking callback's query string;
//! - 3: the authorize route's query string;
//! - 4: a user-info answer (JSON) for `UserInfoMapping::openid().read`;
//! - 5: edits ([`tamper`]) of a genuine state (from the authorize route at
//!   start), sent with its genuine CSRF cookie and no code.
//!
//! The invariants: no 5xx — a 502 would mean the provider was called, which
//! takes a state no input can forge — and a state that is not the genuine
//! one, byte for byte, is refused (400 `ACCESS_TOKEN_DECODE_ERROR` or
//! `OAUTH_INVALID_STATE`). The app is built
//! once: a callback refused before any code exchange changes nothing.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum_users_fuzz::axum_users::oauth::UserInfoMapping;
use axum_users_fuzz::http::header;
use axum_users_fuzz::{
    App, OAUTH_CSRF_COOKIE, PROVIDER, block_on, header_value, request, split, tamper, uri_part,
    urlencode,
};
use libfuzzer_sys::fuzz_target;

/// A genuine state and its CSRF cookie, from the authorize route.
struct Genuine {
    state: String,
    csrf: String,
}

fn genuine(app: &'static App) -> &'static Genuine {
    static GENUINE: OnceLock<Genuine> = OnceLock::new();
    GENUINE.get_or_init(|| {
        block_on(async {
            let uri = format!("/auth/{PROVIDER}/authorize");
            let answer = app
                .send(request("GET", &uri).body(Body::empty()).expect("a request"))
                .await;
            let url = answer.json()["authorization_url"]
                .as_str()
                .expect("an authorization URL")
                .to_owned();
            let state = url
                .split(['?', '&'])
                .find_map(|pair| pair.strip_prefix("state="))
                .expect("a state in the authorization URL")
                .to_owned();
            let cookie = answer
                .headers
                .get(header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .expect("the CSRF cookie");
            let csrf = cookie
                .split(';')
                .next()
                .and_then(|pair| pair.strip_prefix(&format!("{OAUTH_CSRF_COOKIE}=")))
                .expect("the CSRF cookie's value")
                .to_owned();
            Genuine { state, csrf }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let app = App::shared();
    let genuine = genuine(app);
    let login_callback = format!("/auth/{PROVIDER}/callback");
    let (uri, cookie, bearer, planted) = match mode % 6 {
        0 => (
            format!("{login_callback}?{}", uri_part(rest, true)),
            None,
            false,
            None,
        ),
        1 => {
            let (cookie, query) = split(rest, 0);
            let cookie = [OAUTH_CSRF_COOKIE.as_bytes(), b"=", cookie].concat();
            (
                format!("{login_callback}?{}", uri_part(query, true)),
                Some(cookie),
                false,
                None,
            )
        }
        2 => (
            format!(
                "/auth/associate/{PROVIDER}/callback?{}",
                uri_part(rest, true)
            ),
            None,
            true,
            None,
        ),
        3 => (
            format!("/auth/{PROVIDER}/authorize?{}", uri_part(rest, true)),
            None,
            false,
            None,
        ),
        4 => {
            if let Ok(info) = serde_json::from_slice::<serde_json::Value>(rest) {
                if let Some((id, email, _verified)) = UserInfoMapping::openid().read(&info) {
                    assert!(!id.is_empty(), "an empty account id from {info}");
                    let _ = email;
                }
            }
            return;
        }
        _ => {
            let state = tamper(&genuine.state, rest);
            let state = String::from_utf8_lossy(&state).into_owned();
            let cookie = format!("{OAUTH_CSRF_COOKIE}={}", genuine.csrf).into_bytes();
            (
                format!("{login_callback}?state={}", urlencode(&state)),
                Some(cookie),
                false,
                Some(state),
            )
        }
    };
    let mut builder = request("GET", &uri);
    if let Some(cookie) = cookie {
        let Some(value) = header_value(&cookie) else {
            return;
        };
        builder = builder.header(header::COOKIE, value);
    }
    if bearer {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {}", app.alice_token));
    }
    let Ok(request) = builder.body(Body::empty()) else {
        return;
    };
    block_on(async {
        let answer = app.send(request).await;
        if let Some(state) = planted {
            let detail = answer.json()["detail"].clone();
            if state == genuine.state {
                // Past the state check, refused for want of a code.
                assert_eq!(answer.status, 400, "the genuine state: {detail}");
                assert!(
                    detail != "ACCESS_TOKEN_DECODE_ERROR" && detail != "OAUTH_INVALID_STATE",
                    "the genuine state was refused: {detail}"
                );
            } else {
                // FastAPI Users' codes: a state that does not decode, or
                // one that is not this login's.
                assert!(
                    answer.status == 400
                        && (detail == "ACCESS_TOKEN_DECODE_ERROR"
                            || detail == "OAUTH_INVALID_STATE"),
                    "a tampered state {state:?} got {} {detail}",
                    answer.status
                );
            }
        }
    });
});
