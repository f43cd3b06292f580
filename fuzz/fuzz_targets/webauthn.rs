//! WebAuthn responses: `POST /auth/jwt/passkey/login` and
//! `POST /users/me/passkeys` (as Alice), and
//! `RelyingParty::assertion_ids` directly.
//!
//! The first byte picks what the rest is:
//!
//! - 0: a JSON value for `RelyingParty::assertion_ids`;
//! - 1: the raw body of the login route; 2: the login's `credential`
//!   (JSON) with a genuine `challenge_id`;
//! - 3: a login answer built around the fuzzed parts ([`parts`]:
//!   clientDataJSON, or the genuine one when empty; the authenticator data
//!   after the RP ID hash; the signature; the credential id, or the planted
//!   passkey's when empty; the user handle, or Alice's when empty), for a
//!   genuine ceremony and a passkey planted for Alice;
//! - 4: the raw body of the registration route; 5: the registration's
//!   `credential` (JSON) with a genuine `challenge_id`;
//! - 6: a registration answer built around the fuzzed parts ([`parts`]:
//!   clientDataJSON, or the genuine one when empty; the attestation
//!   statement's format, or `none` when empty; the authenticator data after
//!   the RP ID hash), for a genuine ceremony.
//!
//! The invariants: no 5xx, and no login without a valid signature (the
//! planted passkey's key is P-256's generator, whose private key is 1: the
//! harness never signs, so no login may succeed). A fresh app for each
//! input that starts a ceremony (it is stored, and works once), the shared
//! app for raw bodies.
#![no_main]

use axum::body::Body;
use axum_users_fuzz::axum_users::mfa::passkey::RelyingParty;
use axum_users_fuzz::{App, ORIGIN, RP_ID, block_on, json, parts, request};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json as value};
use sha2::{Digest, Sha256};

/// P-256's generator, the planted passkey's public key.
const GX: [u8; 32] = hex32("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
const GY: [u8; 32] = hex32("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
/// The planted passkey's credential id.
const CREDENTIAL_ID: [u8; 32] = [0x11; 32];
/// The DER prefix of a P-256 SubjectPublicKeyInfo.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 7 == 0 {
        if let Ok(response) = serde_json::from_slice::<Value>(rest) {
            if let Ok(ids) = RelyingParty::assertion_ids(&response) {
                assert!((16..=1023).contains(&ids.credential_id.len()));
                if let Some(handle) = &ids.user_handle {
                    assert!((1..=64).contains(&handle.len()));
                }
            }
        }
        return;
    }
    let shared = App::shared();
    block_on(async {
        // A ceremony is stored, and used once: a fresh app for the inputs
        // that start one; the shared app for raw bodies.
        let fresh;
        let app = match mode % 7 {
            1 | 4 => shared,
            _ => {
                fresh = App::new().await;
                &fresh
            }
        };
        let alice = Some(app.alice_token.as_str());
        match mode % 7 {
            1 => {
                let answer = app
                    .send(json("POST", "/auth/jwt/passkey/login", None, rest.to_vec()))
                    .await;
                assert!(
                    !answer.status.is_success(),
                    "a passkey login without a passkey"
                );
            }
            2 => {
                let Ok(credential) = serde_json::from_slice::<Value>(rest) else {
                    return;
                };
                let (challenge_id, _) = login_options(&app).await;
                let body = value!({ "challenge_id": challenge_id, "credential": credential });
                let answer = app
                    .send(json(
                        "POST",
                        "/auth/jwt/passkey/login",
                        None,
                        body.to_string(),
                    ))
                    .await;
                assert!(
                    !answer.status.is_success(),
                    "a passkey login without a passkey"
                );
            }
            3 => {
                let user_handle = plant_passkey(&app).await;
                let (challenge_id, challenge) = login_options(&app).await;
                let [client_data, auth_data, signature, credential_id, handle] = parts(rest, 5)[..]
                else {
                    unreachable!("five parts")
                };
                let client_data = match client_data {
                    [] => genuine_client_data("webauthn.get", &challenge),
                    bytes => bytes.to_vec(),
                };
                let credential_id = match credential_id {
                    [] => &CREDENTIAL_ID[..],
                    bytes => bytes,
                };
                let handle = match handle {
                    [] => &user_handle[..],
                    bytes => bytes,
                };
                let id = b64(credential_id);
                let credential = value!({
                    "id": id,
                    "rawId": id,
                    "type": "public-key",
                    "response": {
                        "clientDataJSON": b64(&client_data),
                        "authenticatorData": b64(&[&rp_id_hash()[..], auth_data].concat()),
                        "signature": b64(signature),
                        "userHandle": b64(handle),
                    },
                    "clientExtensionResults": {},
                    "authenticatorAttachment": "platform",
                });
                let body = value!({ "challenge_id": challenge_id, "credential": credential });
                let answer = app
                    .send(json(
                        "POST",
                        "/auth/jwt/passkey/login",
                        None,
                        body.to_string(),
                    ))
                    .await;
                assert!(
                    !answer.status.is_success(),
                    "a passkey login without a valid signature: {credential}"
                );
            }
            4 => {
                app.send(json("POST", "/users/me/passkeys", alice, rest.to_vec()))
                    .await;
            }
            5 => {
                let Ok(credential) = serde_json::from_slice::<Value>(rest) else {
                    return;
                };
                let (challenge_id, _, _) = registration_options(&app).await;
                let body = value!({ "challenge_id": challenge_id, "credential": credential });
                app.send(json("POST", "/users/me/passkeys", alice, body.to_string()))
                    .await;
            }
            _ => {
                let (challenge_id, challenge, _) = registration_options(&app).await;
                let [client_data, format, auth_data] = parts(rest, 3)[..] else {
                    unreachable!("three parts")
                };
                let client_data = match client_data {
                    [] => genuine_client_data("webauthn.create", &challenge),
                    bytes => bytes.to_vec(),
                };
                let format = match format {
                    [] => "none".to_owned(),
                    bytes => String::from_utf8_lossy(bytes).into_owned(),
                };
                let auth_data = [&rp_id_hash()[..], auth_data].concat();
                let credential = registration(&client_data, &auth_data, &format);
                let body = value!({ "challenge_id": challenge_id, "credential": credential });
                app.send(json("POST", "/users/me/passkeys", alice, body.to_string()))
                    .await;
            }
        }
    });
});

/// A login ceremony: its id and challenge.
async fn login_options(app: &App) -> (String, String) {
    let answer = app
        .send(
            request("POST", "/auth/jwt/passkey/options")
                .body(Body::empty())
                .expect("a request"),
        )
        .await;
    let options = answer.json();
    (
        options["challenge_id"]
            .as_str()
            .expect("challenge_id")
            .to_owned(),
        options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge")
            .to_owned(),
    )
}

/// A registration ceremony for Alice: its id, challenge and Alice's user
/// handle.
async fn registration_options(app: &App) -> (String, String, Vec<u8>) {
    let answer = app
        .send(json(
            "POST",
            "/users/me/passkeys/options",
            Some(&app.alice_token),
            Vec::new(),
        ))
        .await;
    let options = answer.json();
    let handle = options["publicKey"]["user"]["id"]
        .as_str()
        .and_then(|id| URL_SAFE_NO_PAD.decode(id).ok())
        .unwrap_or_else(|| panic!("registration options without a user id: {options}"));
    (
        options["challenge_id"]
            .as_str()
            .expect("challenge_id")
            .to_owned(),
        options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge")
            .to_owned(),
        handle,
    )
}

/// Registers the planted passkey (P-256 generator as its key, attestation
/// `none`) for Alice; her user handle.
async fn plant_passkey(app: &App) -> Vec<u8> {
    let (challenge_id, challenge, handle) = registration_options(app).await;
    let client_data = genuine_client_data("webauthn.create", &challenge);
    let mut cose_key = Vec::new();
    cbor_head(5, 5, &mut cose_key);
    for (key, value) in [(1i64, 2i64), (3, -7), (-1, 1)] {
        cbor_int(key, &mut cose_key);
        cbor_int(value, &mut cose_key);
    }
    cbor_int(-2, &mut cose_key);
    cbor_bytes(&GX, &mut cose_key);
    cbor_int(-3, &mut cose_key);
    cbor_bytes(&GY, &mut cose_key);
    let mut auth_data = rp_id_hash().to_vec();
    auth_data.push(0x45); // UP, UV, AT
    auth_data.extend_from_slice(&0u32.to_be_bytes());
    auth_data.extend_from_slice(&[0; 16]); // AAGUID
    auth_data.extend_from_slice(&32u16.to_be_bytes());
    auth_data.extend_from_slice(&CREDENTIAL_ID);
    auth_data.extend_from_slice(&cose_key);
    let credential = registration(&client_data, &auth_data, "none");
    let body = value!({ "challenge_id": challenge_id, "credential": credential });
    let answer = app
        .send(json(
            "POST",
            "/users/me/passkeys",
            Some(&app.alice_token),
            body.to_string(),
        ))
        .await;
    assert!(
        answer.status.is_success(),
        "planting the passkey: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    handle
}

/// A `RegistrationResponseJSON` with attestation format `format` and no
/// statement.
fn registration(client_data: &[u8], auth_data: &[u8], format: &str) -> Value {
    let mut attestation = Vec::new();
    cbor_head(5, 3, &mut attestation);
    cbor_text("fmt", &mut attestation);
    cbor_text(format, &mut attestation);
    cbor_text("attStmt", &mut attestation);
    cbor_head(5, 0, &mut attestation);
    cbor_text("authData", &mut attestation);
    cbor_bytes(auth_data, &mut attestation);
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.push(0x04);
    spki.extend_from_slice(&GX);
    spki.extend_from_slice(&GY);
    let id = b64(&CREDENTIAL_ID);
    value!({
        "id": id,
        "rawId": id,
        "type": "public-key",
        "response": {
            "clientDataJSON": b64(client_data),
            "attestationObject": b64(&attestation),
            "transports": ["internal"],
            "publicKeyAlgorithm": -7,
            "publicKey": b64(&spki),
            "authenticatorData": b64(auth_data),
        },
        "clientExtensionResults": {},
        "authenticatorAttachment": "platform",
    })
}

fn genuine_client_data(kind: &str, challenge: &str) -> Vec<u8> {
    format!(
        r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
        Value::from(kind),
        Value::from(challenge),
        Value::from(ORIGIN),
    )
    .into_bytes()
}

fn rp_id_hash() -> [u8; 32] {
    Sha256::digest(RP_ID.as_bytes()).into()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn cbor_int(n: i64, out: &mut Vec<u8>) {
    match n {
        0.. => cbor_head(0, n.unsigned_abs(), out),
        _ => cbor_head(1, (-1 - n).unsigned_abs(), out),
    }
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    cbor_head(3, text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

const fn hex32(text: &str) -> [u8; 32] {
    let bytes = text.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(bytes[2 * i]) << 4) | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not hex"),
    }
}
