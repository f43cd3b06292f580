//! Bearer and cookie headers: `GET /users/me` with a fuzzed `Authorization`
//! or `Cookie` header, and a cookie-authenticated `POST` with fuzzed
//! `Origin`, `Host` and `Sec-Fetch-Site` headers (the CSRF check).
//!
//! The first byte picks what the rest is:
//!
//! - 0: the whole `Authorization` header; 1: a bearer token (`Bearer <rest>`);
//! - 2: the whole `Cookie` header; 3: the JWT cookie's value; 4: the session
//!   cookie's value;
//! - 5: several `Authorization` and `Cookie` headers, one per line
//!   (`A<value>` or `C<value>`);
//! - 6: Alice's planted token tampered with ([`tamper`]), as a bearer token;
//!   7: the same as the JWT cookie;
//! - 8: `Origin`, `Host` and `Sec-Fetch-Site`, NUL-separated, on
//!   `POST /auth/cookie/logout` with Alice's cookie;
//! - 9: the client's address (`TrustedProxies::client_ip`, directly): a
//!   byte picking the socket's peer (a trusted proxy or not, IPv4, IPv6 or
//!   IPv4-mapped), then header lines `F<Forwarded>`, `X<X-Forwarded-For>`;
//! - 10: the same lines and `U<User-Agent>` on a session login of Alice
//!   (`POST /auth/session/login`, which stores the agent and the address)
//!   from that peer, then `GET /users/me/sessions` with the new session
//!   (on a fresh app: a login stores a session).
//!
//! Header values `http` refuses are skipped: no client can send them. The
//! invariants: no 5xx; `/users/me` answers 2xx only to the planted token,
//! byte for byte; the client's address is the peer's unless the peer is a
//! trusted proxy; a session login succeeds whatever its forwarding headers
//! and agent say, and its session lists. The shared app but for mode 10:
//! reading `/users/me` and a JWT cookie's logout change nothing.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum_users_fuzz::axum_users::client::TrustedProxies;
use axum_users_fuzz::http::{HeaderName, header};
use axum_users_fuzz::{
    ALICE, App, JWT_COOKIE, PASSWORD, SESSION_COOKIE, TRUSTED_PROXIES,
    assert_only_planted_succeeds, block_on, header_value, request, split, tamper, urlencode,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let app = App::shared();
    let mut headers: Vec<(HeaderName, Vec<u8>)> = Vec::new();
    let mut planted = None;
    let mut uri = "/users/me";
    let mut method = "GET";
    if mode % 11 >= 9 {
        client_headers(mode % 11 == 10, rest);
        return;
    }
    match mode % 9 {
        0 => headers.push((header::AUTHORIZATION, rest.to_vec())),
        1 => headers.push((header::AUTHORIZATION, [b"Bearer ", rest].concat())),
        2 => headers.push((header::COOKIE, rest.to_vec())),
        3 => headers.push((header::COOKIE, cookie(JWT_COOKIE, rest))),
        4 => headers.push((header::COOKIE, cookie(SESSION_COOKIE, rest))),
        5 => {
            for line in rest.split(|&b| b == b'\n') {
                match line.split_first() {
                    Some((b'A', value)) => headers.push((header::AUTHORIZATION, value.to_vec())),
                    Some((b'C', value)) => headers.push((header::COOKIE, value.to_vec())),
                    _ => {}
                }
            }
        }
        6 => {
            let token = tamper(&app.alice_token, rest);
            headers.push((header::AUTHORIZATION, [b"Bearer ", &token[..]].concat()));
            planted = Some(token);
        }
        7 => {
            let token = tamper(&app.alice_token, rest);
            headers.push((header::COOKIE, cookie(JWT_COOKIE, &token)));
            planted = Some(token);
        }
        _ => {
            let (origin, rest) = split(rest, 0);
            let (host, site) = split(rest, 0);
            headers.push((header::ORIGIN, origin.to_vec()));
            headers.push((header::HOST, host.to_vec()));
            headers.push((HeaderName::from_static("sec-fetch-site"), site.to_vec()));
            let token = app.alice_token.as_bytes();
            headers.push((header::COOKIE, cookie(JWT_COOKIE, token)));
            uri = "/auth/cookie/logout";
            method = "POST";
        }
    }
    let mut builder = request(method, uri);
    for (name, value) in &headers {
        let Some(value) = header_value(value) else {
            return;
        };
        builder = builder.header(name, value);
    }
    let request = builder.body(Body::empty()).expect("a request");
    block_on(async {
        let answer = app.send(request).await;
        if uri == "/users/me" {
            match &planted {
                Some(token) => assert_only_planted_succeeds(
                    "GET /users/me",
                    answer.status,
                    &String::from_utf8_lossy(token),
                    &app.alice_token,
                ),
                // Without the planted token nothing authenticates.
                None => assert!(
                    !answer.status.is_success(),
                    "GET /users/me with {headers:?} answered {}",
                    answer.status
                ),
            }
        }
    });
});

fn cookie(name: &str, value: &[u8]) -> Vec<u8> {
    [name.as_bytes(), b"=", value].concat()
}

/// Modes 9 and 10: the peer and the forwarding and agent headers.
fn client_headers(login: bool, data: &[u8]) {
    let Some((&peer, lines)) = data.split_first() else {
        return;
    };
    let peer = match peer % 5 {
        0 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        1 => IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
        2 => IpAddr::V6(Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped()),
        3 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        _ => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb9, 0, 0, 0, 0, 0, 1)),
    };
    let mut builder = match login {
        true => request("POST", "/auth/session/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
        false => request("GET", "/"),
    };
    for line in lines.split(|&b| b == b'\n') {
        let (name, value) = match line.split_first() {
            Some((b'F', value)) => (header::FORWARDED, value),
            Some((b'X', value)) => (HeaderName::from_static("x-forwarded-for"), value),
            Some((b'U', value)) => (header::USER_AGENT, value),
            _ => continue,
        };
        let Some(value) = header_value(value) else {
            return;
        };
        builder = builder.header(name, value);
    }
    let body = format!("username={}&password={PASSWORD}", urlencode(ALICE));
    let mut request = builder.body(Body::from(body)).expect("a request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer, 443)));
    if !login {
        let proxies = TrustedProxies::parse(TRUSTED_PROXIES).expect("the trusted proxies");
        let (parts, _) = request.into_parts();
        let client = proxies.client_ip(&parts).expect("a peer");
        if !proxies.contains(peer) {
            assert_eq!(
                client,
                peer.to_canonical(),
                "an untrusted peer's headers were believed"
            );
        }
        return;
    }
    block_on(async {
        let app = App::new().await;
        let answer = app.send(request).await;
        assert!(
            answer.status.is_success(),
            "a session login answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        let cookie = answer
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()
                    .filter(|c| c.starts_with(SESSION_COOKIE))
            })
            .expect("the session cookie")
            .to_owned();
        let sessions = app
            .send(
                axum_users_fuzz::request("GET", "/users/me/sessions")
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await;
        assert!(
            sessions.status.is_success(),
            "listing the sessions answered {}",
            sessions.status
        );
    });
}
