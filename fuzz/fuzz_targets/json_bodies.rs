//! Every router's JSON body (and the invitation list's query string): the
//! first byte picks the route, the rest is the body, sent as
//! `application/json` (with the high bit of the first byte set: as
//! `text/plain`, which must be refused with a 4xx). Routes that need a
//! caller get the planted user's bearer token: Alice's, Bob's (TOTP on) or
//! the superuser's.
//!
//! A fresh app for each input to a route that may change the store (a
//! registration, a `PATCH /users/me`, a change of password), so that each
//! such input runs against the same state; the shared app for the others.
#![no_main]

use axum::body::Body;
use axum_users_fuzz::http::header;
use axum_users_fuzz::{App, block_on, request, uri_part};
use libfuzzer_sys::fuzz_target;

/// Who calls a route.
#[derive(Clone, Copy)]
enum Caller {
    Nobody,
    Alice,
    Bob,
    Admin,
}

/// The routes with a body, by method, path and caller, and whether an input
/// may change the store (then it runs on a fresh app, else on the shared
/// one: without a token no input can forge, a reset, a verification or a
/// second step changes nothing). `{alice}` is Alice's id; `{query}` and
/// `{segment}` mark the routes whose query string or path segment, not
/// body, is fuzzed.
const ROUTES: &[(&str, &str, Caller, bool)] = &[
    ("POST", "/auth/register", Caller::Nobody, true),
    ("PATCH", "/users/me", Caller::Alice, true),
    ("POST", "/auth/forgot-password", Caller::Nobody, false),
    ("POST", "/auth/reset-password", Caller::Nobody, false),
    ("POST", "/auth/request-verify-token", Caller::Nobody, false),
    ("POST", "/auth/verify", Caller::Nobody, false),
    ("POST", "/users/me/change-password", Caller::Alice, true),
    ("POST", "/users/me/change-email", Caller::Alice, true),
    ("POST", "/auth/confirm-email-change", Caller::Alice, false),
    ("POST", "/auth/accept-invitation", Caller::Nobody, false),
    ("POST", "/users/invitations", Caller::Admin, true),
    ("PATCH", "/users/{alice}", Caller::Admin, true),
    ("POST", "/auth/jwt/verify-token", Caller::Nobody, false),
    ("POST", "/users/me/mfa/totp", Caller::Alice, true),
    ("POST", "/users/me/mfa/totp/confirm", Caller::Alice, true),
    ("DELETE", "/users/me/mfa/totp", Caller::Bob, true),
    ("POST", "/users/me/mfa/recovery-codes", Caller::Bob, true),
    ("POST", "/auth/jwt/login/mfa", Caller::Nobody, false),
    ("POST", "/auth/jwt/passkey/login", Caller::Nobody, false),
    ("POST", "/users/me/passkeys", Caller::Alice, false),
    ("POST", "/auth/token/refresh", Caller::Nobody, false),
    ("GET", "/users/invitations?{query}", Caller::Admin, false),
    ("GET", "/users/{segment}", Caller::Admin, false),
    (
        "DELETE",
        "/users/me/sessions/{segment}",
        Caller::Alice,
        true,
    ),
    (
        "DELETE",
        "/users/me/passkeys/{segment}",
        Caller::Alice,
        true,
    ),
    ("GET", "/users/invitations/{segment}", Caller::Admin, false),
    ("DELETE", "/users/{segment}/mfa", Caller::Admin, true),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (method, path, caller, mutates) = ROUTES[usize::from(selector & 0x7f) % ROUTES.len()];
    let content_type = match selector & 0x80 {
        0 => "application/json",
        _ => "text/plain",
    };
    let shared = App::shared();
    block_on(async {
        let fresh;
        let app = match mutates {
            true => {
                fresh = App::new().await;
                &fresh
            }
            false => shared,
        };
        let mut path = path.replace("{alice}", &app.alice.id.to_string());
        let body = if let Some(at) = path.find("{query}") {
            // The query string, made a valid URI: what a client can send.
            path.truncate(at);
            path.push_str(&uri_part(body, true));
            Vec::new()
        } else if let Some(at) = path.find("{segment}") {
            let rest = path[at + "{segment}".len()..].to_owned();
            path.truncate(at);
            path.push_str(&uri_part(body, false));
            path.push_str(&rest);
            Vec::new()
        } else {
            body.to_vec()
        };
        let mut builder = request(method, &path).header(header::CONTENT_TYPE, content_type);
        let token = match caller {
            Caller::Nobody => None,
            Caller::Alice => Some(&app.alice_token),
            Caller::Bob => Some(&app.bob_token),
            Caller::Admin => Some(&app.admin_token),
        };
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let Ok(request) = builder.body(Body::from(body)) else {
            return;
        };
        let answer = app.send(request).await;
        // What a caller sends never raises its own rights: a registration
        // or a user's own update gives no superuser, and only a verification
        // verifies (the planted Alice is verified already).
        if answer.status.is_success() && (path == "/auth/register" || path == "/users/me") {
            let user = answer.json();
            assert_eq!(
                user["is_superuser"], false,
                "{method} {path} made a superuser: {user}"
            );
            if path == "/auth/register" {
                assert_eq!(user["is_verified"], false, "registration verified: {user}");
                assert_eq!(user["is_active"], true, "registration deactivated: {user}");
            }
        }
        if content_type == "text/plain" && !method.starts_with('G') {
            // 422, as FastAPI answers a body that is not JSON.
            assert!(
                answer.status.is_client_error(),
                "{method} {path} took a text/plain body: {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
    });
});
