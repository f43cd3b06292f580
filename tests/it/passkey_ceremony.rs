//! Passkey ceremonies through `axum_users::mfa::passkey`, against the
//! software authenticator of `common::authenticator`: registration and
//! username-less login, the options' shape, state that crosses instances,
//! and every forged or damaged answer refused with an error (never a panic).

use std::time::{SystemTime, UNIX_EPOCH};

use axum_users::mfa::passkey::{
    self, CEREMONY_TIMEOUT, NewPasskey, PasskeyError, RelyingParty, USER_HANDLE_LEN,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::common::authenticator::SoftAuthenticator;

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8000";
const EMAIL: &str = "alice@example.com";

fn rp() -> RelyingParty {
    RelyingParty::new(RP_ID, ORIGIN).expect("a valid relying party")
}

fn authenticator() -> SoftAuthenticator {
    SoftAuthenticator::new(ORIGIN, RP_ID)
}

/// Registers a passkey for a new user handle with `auth`.
fn register(rp: &RelyingParty, auth: &mut SoftAuthenticator) -> NewPasskey {
    let handle = passkey::new_user_handle();
    let ceremony = rp.start_registration(&handle, EMAIL, EMAIL, &[]).unwrap();
    let response = auth.register(&ceremony.options);
    rp.finish_registration(&ceremony.state, &response)
        .expect("an honest registration")
}

/// A login answer from `auth` and the ceremony's state.
fn login_answer(rp: &RelyingParty, auth: &mut SoftAuthenticator) -> (Vec<u8>, Value) {
    let ceremony = rp.start_authentication().unwrap();
    let response = auth.authenticate(&ceremony.options);
    (ceremony.state, response)
}

/// A registration answer from `auth` and the ceremony's state.
fn registration_answer(rp: &RelyingParty, auth: &mut SoftAuthenticator) -> (Vec<u8>, Value) {
    let handle = passkey::new_user_handle();
    let ceremony = rp.start_registration(&handle, EMAIL, EMAIL, &[]).unwrap();
    let response = auth.register(&ceremony.options);
    (ceremony.state, response)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn a_passkey_registers_and_logs_in_twice_with_a_rising_counter() {
    let rp = rp();
    let mut auth = authenticator();
    let handle = passkey::new_user_handle();
    assert_eq!(handle.len(), USER_HANDLE_LEN);

    let ceremony = rp.start_registration(&handle, EMAIL, "Alice", &[]).unwrap();
    let response = auth.register(&ceremony.options);
    let new = rp.finish_registration(&ceremony.state, &response).unwrap();
    assert_eq!(new.credential_id, auth.last().id);
    assert_eq!(new.user_handle, handle);
    assert_eq!(new.sign_count, 0);

    let (state, response) = login_answer(&rp, &mut auth);
    let ids = RelyingParty::assertion_ids(&response).unwrap();
    assert_eq!(ids.credential_id, new.credential_id);
    assert_eq!(ids.user_handle.as_deref(), Some(handle.as_slice()));
    let first = rp
        .finish_authentication(&state, &response, &new.stored)
        .unwrap();
    assert_eq!(first.sign_count, 1);

    let (state, response) = login_answer(&rp, &mut auth);
    let second = rp
        .finish_authentication(&state, &response, &first.stored)
        .unwrap();
    assert_eq!(second.sign_count, 2);
    assert_ne!(second.stored, first.stored);
}

#[test]
fn an_authenticator_that_never_counts_keeps_logging_in() {
    let rp = rp();
    let mut auth = authenticator();
    auth.counter_step = 0;
    let new = register(&rp, &mut auth);
    let mut stored = new.stored;
    for _ in 0..3 {
        let (state, response) = login_answer(&rp, &mut auth);
        let used = rp
            .finish_authentication(&state, &response, &stored)
            .unwrap();
        assert_eq!(used.sign_count, 0);
        stored = used.stored;
    }
}

#[test]
fn registration_options_ask_for_a_discoverable_user_verified_passkey() {
    let rp = rp();
    let handle = passkey::new_user_handle();
    let existing = vec![vec![7u8; 16], vec![9u8; 32]];
    let ceremony = rp
        .start_registration(&handle, EMAIL, "Alice Example", &existing)
        .unwrap();
    let options = &ceremony.options;

    assert_eq!(options["rp"]["id"], RP_ID);
    assert_eq!(options["user"]["id"], b64(&handle));
    assert_eq!(options["user"]["name"], EMAIL);
    assert_eq!(options["user"]["displayName"], "Alice Example");
    let challenge = URL_SAFE_NO_PAD
        .decode(options["challenge"].as_str().unwrap())
        .unwrap();
    assert!(challenge.len() >= 16);
    assert_eq!(options["timeout"], 300_000);
    assert_eq!(CEREMONY_TIMEOUT.as_millis(), 300_000);
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(options["attestation"], "none");
    // credProtect is asked for but not enforced: browsers would refuse
    // authenticators without it.
    assert_ne!(
        options["extensions"]["enforceCredentialProtectionPolicy"],
        true
    );
    let mut algorithms: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "public-key");
            p["alg"].as_i64().unwrap()
        })
        .collect();
    algorithms.sort_unstable();
    assert_eq!(algorithms, [-257, -8, -7]); // RS256, EdDSA, ES256
    let mut excluded: Vec<&str> = options["excludeCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["type"], "public-key");
            c["id"].as_str().unwrap()
        })
        .collect();
    excluded.sort_unstable();
    let mut expected = vec![b64(&existing[0]), b64(&existing[1])];
    expected.sort_unstable();
    assert_eq!(excluded, expected);
}

#[test]
fn login_options_are_username_less_with_user_verification() {
    let ceremony = rp().start_authentication().unwrap();
    let options = &ceremony.options;
    assert_eq!(options["rpId"], RP_ID);
    assert_eq!(options["allowCredentials"], json!([]));
    assert_eq!(options["userVerification"], "required");
    assert_eq!(options["timeout"], 300_000);
    assert!(options["challenge"].as_str().unwrap().len() >= 22);
    // Two ceremonies, two challenges.
    let other = rp().start_authentication().unwrap();
    assert_ne!(other.options["challenge"], options["challenge"]);
}

#[test]
fn ceremony_state_and_stored_passkey_work_on_another_instance() {
    let mut auth = authenticator();
    let handle = passkey::new_user_handle();
    let ceremony = rp().start_registration(&handle, EMAIL, EMAIL, &[]).unwrap();
    // Only bytes and text cross over, as through a database.
    let state_copy: Vec<u8> = ceremony.state.to_vec();
    let response_text = auth.register(&ceremony.options).to_string();
    drop(ceremony);
    let other_instance = rp();
    let response: Value = serde_json::from_str(&response_text).unwrap();
    let new = other_instance
        .finish_registration(&state_copy, &response)
        .unwrap();

    let ceremony = rp().start_authentication().unwrap();
    let state_copy = ceremony.state.clone();
    let response_text = auth.authenticate(&ceremony.options).to_string();
    let stored_copy = new.stored.clone();
    let response: Value = serde_json::from_str(&response_text).unwrap();
    let used = rp()
        .finish_authentication(&state_copy, &response, &stored_copy)
        .unwrap();
    assert_eq!(used.sign_count, 1);
}

#[test]
fn extra_origins_are_accepted() {
    let rp = RelyingParty::new("example.com", "https://example.com")
        .unwrap()
        .origins(["https://www.example.com".to_owned()])
        .unwrap();
    assert_eq!(
        rp.allowed_origins(),
        ["https://example.com", "https://www.example.com"]
    );
    let mut auth = SoftAuthenticator::new("https://www.example.com", "example.com");
    let new = register(&rp, &mut auth);
    auth.origin = "https://example.com".to_owned();
    let (state, response) = login_answer(&rp, &mut auth);
    rp.finish_authentication(&state, &response, &new.stored)
        .unwrap();
}

#[test]
fn bad_relying_party_configurations_are_refused() {
    for (rp_id, origin) in [
        ("", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("example.com/", "https://example.com"),
        ("127.0.0.1", "https://127.0.0.1"),
        ("exa mple.com", "https://example.com"),
        ("example.com", "https://evil.com"),
        ("example.com", "https://notexample.com"),
        ("example.com", "http://example.com"),
        ("example.com", "ftp://example.com"),
        ("example.com", "example.com"),
        ("example.com", "https://example.com/login"),
        ("example.com", "https://example.com:0"),
        ("example.com", "https://example.com:99999"),
        ("example.com", "https://user@example.com"),
        ("www.example.com", "https://example.com"),
    ] {
        let result = RelyingParty::new(rp_id, origin);
        assert!(
            matches!(result, Err(PasskeyError::Config(_))),
            "{rp_id} {origin}: {result:?}"
        );
    }
    let result = rp().origins(["https://evil.com".to_owned()]);
    assert!(matches!(result, Err(PasskeyError::Config(_))));
}

#[test]
fn origins_are_normalised_like_browsers_write_them() {
    let rp = RelyingParty::new("Example.COM", "HTTPS://Login.Example.com:443/").unwrap();
    assert_eq!(rp.rp_id(), "example.com");
    assert_eq!(rp.allowed_origins(), ["https://login.example.com"]);
    let rp = RelyingParty::new("localhost", "http://localhost:80").unwrap();
    assert_eq!(rp.allowed_origins(), ["http://localhost"]);
    let rp = RelyingParty::new("localhost", "https://localhost:8443").unwrap();
    assert_eq!(rp.allowed_origins(), ["https://localhost:8443"]);
}

#[test]
fn bad_registration_arguments_are_refused() {
    let rp = rp();
    let handle = passkey::new_user_handle();
    for bad in [&handle[..16], &[][..], &[1u8; 64][..]] {
        let result = rp.start_registration(bad, EMAIL, EMAIL, &[]);
        assert!(
            matches!(result, Err(PasskeyError::Argument(_))),
            "{result:?}"
        );
    }
    let result = rp.start_registration(&handle, "", EMAIL, &[]);
    assert!(matches!(result, Err(PasskeyError::Argument(_))));
    let result = rp.start_registration(&handle, EMAIL, EMAIL, &[vec![1; 8]]);
    assert!(matches!(result, Err(PasskeyError::Argument(_))));
    // An empty display name is allowed.
    rp.start_registration(&handle, EMAIL, "", &[]).unwrap();
}

#[test]
fn a_registration_from_another_origin_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    auth.origin = "http://localhost:8001".to_owned();
    let (state, response) = registration_answer(&rp, &mut auth);
    let result = rp.finish_registration(&state, &response);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_login_from_another_origin_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.origin = "https://evil.example".to_owned();
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_registration_for_another_rp_id_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    auth.rp_id = "evil.example".to_owned();
    let (state, response) = registration_answer(&rp, &mut auth);
    let result = rp.finish_registration(&state, &response);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_login_for_another_rp_id_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.rp_id = "evil.example".to_owned();
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn an_answer_to_another_ceremonys_challenge_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    // Registration: the state of one ceremony, the answer to another.
    let handle = passkey::new_user_handle();
    let first = rp.start_registration(&handle, EMAIL, EMAIL, &[]).unwrap();
    let second = rp.start_registration(&handle, EMAIL, EMAIL, &[]).unwrap();
    let response = auth.register(&second.options);
    let result = rp.finish_registration(&first.state, &response);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
    let new = rp.finish_registration(&second.state, &response).unwrap();

    // Login: likewise, and a made-up challenge.
    let first = rp.start_authentication().unwrap();
    let second = rp.start_authentication().unwrap();
    let response = auth.authenticate(&second.options);
    let result = rp.finish_authentication(&first.state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );

    auth.challenge = Some(b64(&[0u8; 16]));
    let response = auth.authenticate(&first.options);
    let result = rp.finish_authentication(&first.state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_tampered_signature_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.tamper_signature = true;
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );

    // A signature that is not even DER, or is empty.
    for signature in ["AAAA", ""] {
        let (state, mut response) = login_answer(&rp, &mut auth);
        response["response"]["signature"] = json!(signature);
        let result = rp.finish_authentication(&state, &response, &new.stored);
        assert!(
            matches!(result, Err(PasskeyError::Invalid(_))),
            "{result:?}"
        );
    }
}

#[test]
fn client_data_changed_after_signing_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.tamper_client_data = true;
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn client_data_of_the_other_ceremony_type_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    auth.client_data_type = Some("webauthn.get".to_owned());
    let (state, response) = registration_answer(&rp, &mut auth);
    let result = rp.finish_registration(&state, &response);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );

    auth.client_data_type = None;
    let new = register(&rp, &mut auth);
    auth.client_data_type = Some("webauthn.create".to_owned());
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_counter_that_goes_back_or_stays_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.next_counter = Some(5);
    let (state, response) = login_answer(&rp, &mut auth);
    let used = rp
        .finish_authentication(&state, &response, &new.stored)
        .unwrap();
    assert_eq!(used.sign_count, 5);

    for counter in [3, 5, 0] {
        auth.next_counter = Some(counter);
        let (state, response) = login_answer(&rp, &mut auth);
        let result = rp.finish_authentication(&state, &response, &used.stored);
        assert!(
            matches!(result, Err(PasskeyError::CounterRegressed)),
            "{counter}: {result:?}"
        );
    }
    // A greater counter still works.
    auth.next_counter = Some(6);
    let (state, response) = login_answer(&rp, &mut auth);
    let again = rp
        .finish_authentication(&state, &response, &used.stored)
        .unwrap();
    assert_eq!(again.sign_count, 6);
}

#[test]
fn a_credential_the_browser_says_is_not_discoverable_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let (state, mut response) = registration_answer(&rp, &mut auth);
    response["clientExtensionResults"] = json!({"credProps": {"rk": false}});
    let result = rp.finish_registration(&state, &response);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );

    let (state, mut response) = registration_answer(&rp, &mut auth);
    response["clientExtensionResults"] = json!({"credProps": {"rk": true}});
    rp.finish_registration(&state, &response).unwrap();
}

#[test]
fn a_registration_without_user_verification_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    auth.user_verified = false;
    let (state, response) = registration_answer(&rp, &mut auth);
    let result = rp.finish_registration(&state, &response);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_login_without_user_verification_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.user_verified = false;
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_login_with_another_user_handle_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.user_handle = Some(passkey::new_user_handle());
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );

    // A user handle of another length, or none at all.
    auth.user_handle = Some(vec![1; 16]);
    let (state, response) = login_answer(&rp, &mut auth);
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
    auth.user_handle = None;
    let (state, mut response) = login_answer(&rp, &mut auth);
    response["response"]["userHandle"] = Value::Null;
    assert_eq!(
        RelyingParty::assertion_ids(&response).unwrap().user_handle,
        None
    );
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn a_login_with_an_unknown_credential_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    auth.unknown_credential = true;
    let (state, response) = login_answer(&rp, &mut auth);
    let ids = RelyingParty::assertion_ids(&response).unwrap();
    assert_ne!(ids.credential_id, new.credential_id);
    // A caller that looked it up wrongly and passed another passkey.
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn another_users_passkey_does_not_verify_a_login() {
    let rp = rp();
    let mut alice = authenticator();
    let mut bob = authenticator();
    let alices = register(&rp, &mut alice);
    let _bobs = register(&rp, &mut bob);
    let (state, response) = login_answer(&rp, &mut bob);
    let result = rp.finish_authentication(&state, &response, &alices.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn garbage_json_is_refused_without_panicking() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    let huge = "A".repeat(4 << 20);
    let nested =
        serde_json::from_str::<Value>(&format!("{}1{}", "[".repeat(120), "]".repeat(120))).unwrap();
    let garbage = [
        Value::Null,
        json!(""),
        json!("garbage"),
        json!(42),
        json!([]),
        json!({}),
        json!({"type": "public-key"}),
        json!({"type": "public-key", "id": "", "response": {}}),
        json!({"type": "public-key", "id": "!!", "rawId": "!!", "response": {}}),
        json!({"type": "public-key", "id": huge, "rawId": huge, "response": {"clientDataJSON": huge}}),
        json!({"type": "public-key", "id": "AAAAAAAAAAAAAAAAAAAAAA", "response": {
            "clientDataJSON": huge, "attestationObject": huge, "authenticatorData": huge,
            "signature": huge, "userHandle": huge}}),
        json!({"type": "public-key", "id": "AAAAAAAAAAAAAAAAAAAAAA", "response": nested}),
        nested.clone(),
    ];
    for value in &garbage {
        let state = rp
            .start_registration(&new.user_handle, EMAIL, EMAIL, &[])
            .unwrap()
            .state;
        assert!(
            rp.finish_registration(&state, value).is_err(),
            "{value:.100}"
        );
        let state = rp.start_authentication().unwrap().state;
        assert!(
            rp.finish_authentication(&state, value, &new.stored)
                .is_err(),
            "{value:.100}"
        );
        assert!(RelyingParty::assertion_ids(value).is_err(), "{value:.100}");
    }

    // Each member of an honest answer damaged in turn.
    let (state, honest) = registration_answer(&rp, &mut auth);
    for member in [
        "clientDataJSON",
        "attestationObject",
        "publicKey",
        "authenticatorData",
    ] {
        for bad in [json!("AAAA"), json!(""), json!(7), json!(huge)] {
            let mut response = honest.clone();
            response["response"][member] = bad;
            assert!(
                rp.finish_registration(&state, &response).is_err(),
                "{member}"
            );
        }
    }
    let (state, honest) = login_answer(&rp, &mut auth);
    for member in [
        "clientDataJSON",
        "authenticatorData",
        "signature",
        "userHandle",
    ] {
        for bad in [json!("AAAA"), json!(""), json!(7), json!(huge)] {
            let mut response = honest.clone();
            response["response"][member] = bad;
            assert!(
                rp.finish_authentication(&state, &response, &new.stored)
                    .is_err(),
                "{member}"
            );
        }
    }
}

#[test]
fn a_credential_of_another_type_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    for kind in [json!("public-key-x"), json!(""), json!(null), json!(1)] {
        let (state, mut response) = registration_answer(&rp, &mut auth);
        response["type"] = kind.clone();
        let result = rp.finish_registration(&state, &response);
        assert!(
            matches!(result, Err(PasskeyError::Invalid(_))),
            "{kind}: {result:?}"
        );
    }
    let (state, mut response) = registration_answer(&rp, &mut auth);
    response.as_object_mut().unwrap().remove("type");
    assert!(rp.finish_registration(&state, &response).is_err());

    let new = register(&rp, &mut auth);
    let (state, mut response) = login_answer(&rp, &mut auth);
    response["type"] = json!("password");
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(
        matches!(result, Err(PasskeyError::Invalid(_))),
        "{result:?}"
    );
    assert!(RelyingParty::assertion_ids(&response).is_err());
}

#[test]
fn mismatched_ids_are_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let (state, mut response) = registration_answer(&rp, &mut auth);
    response["rawId"] = json!(b64(&[5; 32]));
    response["id"] = json!(b64(&[5; 32]));
    assert!(matches!(
        rp.finish_registration(&state, &response),
        Err(PasskeyError::Invalid(_))
    ));

    let new = register(&rp, &mut auth);
    let (state, mut response) = login_answer(&rp, &mut auth);
    response["rawId"] = json!(b64(&[5; 32]));
    assert!(RelyingParty::assertion_ids(&response).is_err());
    assert!(matches!(
        rp.finish_authentication(&state, &response, &new.stored),
        Err(PasskeyError::Invalid(_))
    ));
}

#[test]
fn damaged_or_mixed_up_states_are_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let handle = passkey::new_user_handle();
    let registration = rp.start_registration(&handle, EMAIL, EMAIL, &[]).unwrap();
    let response = auth.register(&registration.options);
    let login = rp.start_authentication().unwrap();

    // A login's state for a registration, and the reverse.
    let result = rp.finish_registration(&login.state, &response);
    assert!(matches!(result, Err(PasskeyError::State(_))), "{result:?}");
    for bad in [
        Vec::new(),
        vec![0],
        vec![1, b'R'],
        registration.state[..registration.state.len() - 1].to_vec(),
        [registration.state.as_slice(), &[0]].concat(),
        vec![0xff; 500],
    ] {
        let result = rp.finish_registration(&bad, &response);
        assert!(matches!(result, Err(PasskeyError::State(_))), "{result:?}");
    }
    let new = rp
        .finish_registration(&registration.state, &response)
        .unwrap();

    let answer = auth.authenticate(&login.options);
    let result = rp.finish_authentication(&registration.state, &answer, &new.stored);
    assert!(matches!(result, Err(PasskeyError::State(_))), "{result:?}");
    for bad in [
        "",
        "!!!",
        "AQ",
        &new.stored[..new.stored.len() / 2],
        &format!("{}AAAA", new.stored),
        &"A".repeat(10_000),
    ] {
        let result = rp.finish_authentication(&login.state, &answer, bad);
        assert!(
            matches!(result, Err(PasskeyError::State(_))),
            "{bad:.40}: {result:?}"
        );
    }
    rp.finish_authentication(&login.state, &answer, &new.stored)
        .unwrap();
}

#[test]
fn an_expired_login_is_refused() {
    let rp = rp();
    let mut auth = authenticator();
    let new = register(&rp, &mut auth);
    let ceremony = rp.start_authentication().unwrap();
    let response = auth.authenticate(&ceremony.options);
    // webauthn_rp's login state ends with its expiry: seconds (u64) and
    // nanoseconds (u32) since 1970, little-endian. Move it a second back.
    let mut state = ceremony.state.clone();
    let at = state.len() - 12;
    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    state[at..at + 8].copy_from_slice(&past.to_le_bytes());
    let result = rp.finish_authentication(&state, &response, &new.stored);
    assert!(matches!(result, Err(PasskeyError::Expired)), "{result:?}");
    rp.finish_authentication(&ceremony.state, &response, &new.stored)
        .unwrap();
}

#[test]
fn debug_output_shows_no_keys_or_state() {
    let rp = rp();
    let mut auth = authenticator();
    let handle = passkey::new_user_handle();
    let ceremony = rp.start_registration(&handle, EMAIL, EMAIL, &[]).unwrap();
    let debug = format!("{ceremony:?}");
    assert!(
        !debug.contains(ceremony.options["challenge"].as_str().unwrap()),
        "{debug}"
    );
    assert!(
        !debug.contains(&format!("{:?}", &ceremony.state[..8])),
        "{debug}"
    );
    let response = auth.register(&ceremony.options);
    let new = rp.finish_registration(&ceremony.state, &response).unwrap();
    let debug = format!("{new:?}");
    assert!(!debug.contains(&new.stored[..16]), "{debug}");
    assert!(
        !debug.contains(&format!("{:?}", &new.credential_id[..8])),
        "{debug}"
    );
    let (state, response) = login_answer(&rp, &mut auth);
    let used = rp
        .finish_authentication(&state, &response, &new.stored)
        .unwrap();
    let debug = format!("{used:?}");
    assert!(!debug.contains(&used.stored[..16]), "{debug}");
    let ids = RelyingParty::assertion_ids(&response).unwrap();
    assert!(!format!("{ids:?}").contains(&format!("{:?}", &handle[..8])));
}
