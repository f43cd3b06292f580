//! Passkeys over HTTP (CONTRACT-accounts.md §F, issue 17 item 4), with the
//! software authenticator of `common::authenticator` playing the browser:
//! registration options, registering, listing and removing passkeys
//! (`/users/me/passkeys…`), the username-less login (`{prefix}/passkey/options`
//! then `{prefix}/passkey/login`) on every kind of backend, a passkey
//! satisfying MFA, and every forged or damaged answer refused with 400
//! `PASSKEY_BAD_CREDENTIAL`, never a 500 nor a token. Ceremony state is
//! stored: a ceremony begun on one instance ends on another.
//!
//! Behaviours that depend on the store run on memory, SQLite and PostgreSQL
//! (`<behaviour>::on_memory`, `::on_sqlite`, `::on_postgres`).

use axum::http::StatusCode;
use axum_users::User;
use axum_users::mfa::passkey::RelyingParty;
use axum_users::store::MemoryStore;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::common::PASSWORD;
use crate::common::authenticator::SoftAuthenticator;
use crate::common::mfa::*;

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8000";
const BAD: &str = "PASSKEY_BAD_CREDENTIAL";
const UNKNOWN_ID: &str = "0b6c4c3e-8b7a-4f0e-9a57-4d2a1c3b5e6f";

on_every_store!(
    registration_options_ask_for_a_discoverable_user_verified_passkey,
    a_registered_passkey_is_listed_and_removable,
    removing_an_unknown_or_another_users_passkey_answers_404,
    a_passkey_logs_in_on_every_backend,
    a_passkey_login_satisfies_mfa_for_a_totp_user,
    an_authenticator_without_a_counter_keeps_logging_in,
    forged_or_damaged_logins_are_refused,
    forged_or_damaged_registrations_are_refused,
    a_login_challenge_works_once_and_only_for_its_own_ceremony,
    passkey_ceremonies_begun_on_one_instance_end_on_another,
    a_superuser_reset_removes_the_passkeys,
    a_deleted_users_passkeys_go_with_the_user,
    concurrent_logins_with_one_answer_log_in_once,
    a_deactivated_users_passkey_does_not_log_in,
);

// ---------------------------------------------------------------------------
// The app and the ceremonies.

fn rp() -> RelyingParty {
    RelyingParty::new(RP_ID, ORIGIN).unwrap()
}

fn passkey_app<S: MfaTestStore>(store: S) -> MfaApp<S> {
    MfaApp::build(
        store,
        Setup {
            passkeys: Some(rp()),
            ..Setup::default()
        },
    )
}

fn authenticator() -> SoftAuthenticator {
    SoftAuthenticator::new(ORIGIN, RP_ID)
}

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// The sorted keys of an object.
fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

impl<S: MfaTestStore> MfaApp<S> {
    /// `POST /users/me/passkeys/options`: the challenge id and the options.
    async fn registration_options(&self, auth: &Credential) -> (String, Value) {
        let answer = self
            .call(request(
                "POST",
                "/users/me/passkeys/options",
                Some(auth),
                None,
            ))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(keys(&answer.body), ["challenge_id", "publicKey"]);
        (
            answer.body["challenge_id"].as_str().unwrap().to_owned(),
            answer.body["publicKey"].clone(),
        )
    }

    /// `POST /users/me/passkeys`.
    async fn finish_registration(
        &self,
        auth: &Credential,
        challenge_id: &str,
        credential: &Value,
        name: Option<&str>,
    ) -> Answer {
        let mut body = json!({ "challenge_id": challenge_id, "credential": credential });
        if let Some(name) = name {
            body["name"] = json!(name);
        }
        self.post("/users/me/passkeys", Some(auth), body).await
    }

    /// Registers a passkey with `device`: the 201 body.
    async fn register(
        &self,
        auth: &Credential,
        device: &mut SoftAuthenticator,
        name: Option<&str>,
    ) -> Value {
        let (challenge_id, options) = self.registration_options(auth).await;
        let credential = device.register(&options);
        let answer = self
            .finish_registration(auth, &challenge_id, &credential, name)
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.body
    }

    /// `GET /users/me/passkeys`.
    async fn passkeys(&self, auth: &Credential) -> Vec<Value> {
        let answer = self
            .call(request("GET", "/users/me/passkeys", Some(auth), None))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.body.as_array().expect("a list").clone()
    }

    async fn delete_passkey(&self, auth: &Credential, id: &str) -> Answer {
        self.call(request(
            "DELETE",
            &format!("/users/me/passkeys/{id}"),
            Some(auth),
            None,
        ))
        .await
    }

    /// `POST {prefix}/passkey/options`: the challenge id and the options.
    async fn login_options(&self, kind: Kind) -> (String, Value) {
        let answer = self
            .post(
                &format!("{}/passkey/options", kind.prefix()),
                None,
                json!({}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(keys(&answer.body), ["challenge_id", "publicKey"]);
        (
            answer.body["challenge_id"].as_str().unwrap().to_owned(),
            answer.body["publicKey"].clone(),
        )
    }

    /// `POST {prefix}/passkey/login`.
    async fn finish_login(&self, kind: Kind, challenge_id: &str, credential: &Value) -> Answer {
        self.post(
            &format!("{}/passkey/login", kind.prefix()),
            None,
            json!({ "challenge_id": challenge_id, "credential": credential }),
        )
        .await
    }

    /// A whole passkey login on `kind` with `device`.
    async fn passkey_login(&self, kind: Kind, device: &mut SoftAuthenticator) -> Answer {
        let (challenge_id, options) = self.login_options(kind).await;
        let credential = device.authenticate(&options);
        self.finish_login(kind, &challenge_id, &credential).await
    }

    /// A new user with a passkey on `device`: the user's JWT.
    async fn passkey_user(&self, email: &str, device: &mut SoftAuthenticator) -> Credential {
        self.user(email).await;
        let jwt = self.jwt(email).await;
        self.register(&jwt, device, Some("Laptop")).await;
        jwt
    }
}

// ---------------------------------------------------------------------------
// Registration.

async fn registration_options_ask_for_a_discoverable_user_verified_passkey<S: MfaTestStore>(
    store: S,
) {
    let app = passkey_app(store);
    let user = app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    let (challenge_id, options) = app.registration_options(&jwt).await;
    assert!(challenge_id.len() >= 32, "{challenge_id}");
    assert_eq!(options["rp"]["id"], RP_ID);
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["userVerification"], "required", "{options}");
    assert!(b64(options["challenge"].as_str().unwrap()).len() >= 16);
    assert_eq!(options["user"]["name"], "a@example.com");
    // The user handle is random: neither the address nor the id.
    let handle = b64(options["user"]["id"].as_str().unwrap());
    assert_eq!(handle.len(), 32);
    assert_ne!(handle, b"a@example.com");
    assert_ne!(handle, user.id.as_bytes());
    assert!(!String::from_utf8_lossy(&handle).contains(&user.id.to_string()));
    let excluded = |options: &Value| -> Vec<String> {
        options["excludeCredentials"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|c| c["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(excluded(&options).is_empty(), "{options}");

    // With a passkey: it is excluded, and its handle stays the user's (a
    // ceremony left unfinished kept none).
    let mut device = authenticator();
    app.register(&jwt, &mut device, None).await;
    let handle = device.last().user_handle.clone();
    assert_eq!(handle.len(), 32);
    assert_ne!(handle, user.id.as_bytes());
    let (_, options) = app.registration_options(&jwt).await;
    assert_eq!(
        excluded(&options),
        [URL_SAFE_NO_PAD.encode(&device.last().id)]
    );
    assert_eq!(b64(options["user"]["id"].as_str().unwrap()), handle);
    let mut second = authenticator();
    app.register(&jwt, &mut second, None).await;
    let (_, options) = app.registration_options(&jwt).await;
    let mut listed = excluded(&options);
    listed.sort();
    let mut expected = vec![
        URL_SAFE_NO_PAD.encode(&device.last().id),
        URL_SAFE_NO_PAD.encode(&second.last().id),
    ];
    expected.sort();
    assert_eq!(listed, expected);

    // Another user has another handle.
    app.user("b@example.com").await;
    let other = app.jwt("b@example.com").await;
    let (_, options) = app.registration_options(&other).await;
    assert_ne!(b64(options["user"]["id"].as_str().unwrap()), handle);
    assert!(excluded(&options).is_empty());
}

async fn a_registered_passkey_is_listed_and_removable<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    assert!(app.passkeys(&jwt).await.is_empty());
    let mut laptop = authenticator();
    let first = app.register(&jwt, &mut laptop, Some("  Laptop  ")).await;
    assert_eq!(keys(&first), ["created_at", "id", "last_used_at", "name"]);
    assert_eq!(first["name"], "Laptop");
    assert_eq!(first["last_used_at"], Value::Null);
    let created = first["created_at"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(created).expect("RFC 3339");
    assert!(created.ends_with('Z'), "UTC: {created}");
    uuid::Uuid::parse_str(first["id"].as_str().unwrap()).expect("a UUID id");
    // A missing or blank name: "Passkey".
    let mut phone = authenticator();
    let second = app.register(&jwt, &mut phone, None).await;
    assert_eq!(second["name"], "Passkey");
    let mut key = authenticator();
    let third = app.register(&jwt, &mut key, Some("   ")).await;
    assert_eq!(third["name"], "Passkey");
    // A name too long: 422, nothing registered.
    let (challenge_id, options) = app.registration_options(&jwt).await;
    let mut long = authenticator();
    let credential = long.register(&options);
    let answer = app
        .finish_registration(&jwt, &challenge_id, &credential, Some(&"n".repeat(65)))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );

    let listed = app.passkeys(&jwt).await;
    assert_eq!(listed, [first.clone(), second.clone(), third.clone()]);
    assert_eq!(app.status(&jwt).await["passkeys"], 3);
    assert_eq!(
        app.hooks.events(),
        [
            "enabled a@example.com passkey",
            "enabled a@example.com passkey",
            "enabled a@example.com passkey",
        ]
    );

    let answer = app
        .delete_passkey(&jwt, second["id"].as_str().unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert_eq!(app.passkeys(&jwt).await, [first, third]);
    assert_eq!(app.status(&jwt).await["passkeys"], 2);
    assert_eq!(
        app.hooks.events().last().unwrap(),
        "disabled a@example.com passkey"
    );
    // Removed: it no longer logs in, and a second DELETE is 404.
    app.passkey_login(Kind::Jwt, &mut phone)
        .await
        .assert_code(BAD, "a removed passkey");
    let answer = app
        .delete_passkey(&jwt, second["id"].as_str().unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    // The others still log in.
    let answer = app.passkey_login(Kind::Jwt, &mut laptop).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn removing_an_unknown_or_another_users_passkey_answers_404<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    let mut device = authenticator();
    let alice = app.passkey_user("alice@example.com", &mut device).await;
    app.user("bob@example.com").await;
    let bob = app.jwt("bob@example.com").await;
    let id = app.passkeys(&alice).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (who, id) in [
        (&bob, id.as_str()),
        (&alice, UNKNOWN_ID),
        (&alice, "not-a-uuid"),
        (&alice, "1"),
    ] {
        let answer = app.delete_passkey(who, id).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{id}: {answer:?}");
    }
    assert_eq!(app.passkeys(&alice).await.len(), 1, "still there");
    let answer = app.passkey_login(Kind::Jwt, &mut device).await;
    app.assert_logged_in(Kind::Jwt, &answer, "alice@example.com")
        .await;
}

#[tokio::test]
async fn passkey_routes_answer_401_without_a_token() {
    let app = passkey_app(MemoryStore::<User>::new());
    let bad = Credential::Bearer("not-a-token".into());
    for auth in [None, Some(&bad)] {
        for (method, uri, body) in [
            ("POST", "/users/me/passkeys/options".to_owned(), None),
            (
                "POST",
                "/users/me/passkeys".to_owned(),
                Some(json!({"challenge_id": "x", "credential": {}, "name": "n"})),
            ),
            ("GET", "/users/me/passkeys".to_owned(), None),
            ("DELETE", format!("/users/me/passkeys/{UNKNOWN_ID}"), None),
        ] {
            let answer = app.call(request(method, &uri, auth, body.as_ref())).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri}: {answer:?}"
            );
        }
    }
    // The login options need nobody.
    for kind in KINDS {
        let (_, options) = app.login_options(kind).await;
        assert_eq!(options["userVerification"], "required", "{options}");
        assert_eq!(options["rpId"], RP_ID, "{options}");
        let allowed = options["allowCredentials"].as_array().map_or(0, Vec::len);
        assert_eq!(allowed, 0, "a username-less login: {options}");
    }
}

// ---------------------------------------------------------------------------
// Login.

async fn a_passkey_logs_in_on_every_backend<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    let mut device = authenticator();
    let jwt = app.passkey_user("a@example.com", &mut device).await;
    assert_eq!(app.passkeys(&jwt).await[0]["last_used_at"], Value::Null);
    for kind in KINDS {
        let answer = app.passkey_login(kind, &mut device).await;
        app.assert_logged_in(kind, &answer, "a@example.com").await;
    }
    let listed = app.passkeys(&jwt).await;
    let used = listed[0]["last_used_at"]
        .as_str()
        .expect("last_used_at set");
    chrono::DateTime::parse_from_rfc3339(used).expect("RFC 3339");
    // Two users, two passkeys on one device: each logs in its own user.
    let mut other = authenticator();
    app.passkey_user("b@example.com", &mut other).await;
    let answer = app.passkey_login(Kind::Jwt, &mut other).await;
    app.assert_logged_in(Kind::Jwt, &answer, "b@example.com")
        .await;
    let answer = app.passkey_login(Kind::Jwt, &mut device).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn a_passkey_login_satisfies_mfa_for_a_totp_user<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    let (_, mut totp, _) = app.totp_user("a@example.com").await;
    let jwt = app.totp_login("a@example.com", &mut totp).await;
    let mut device = authenticator();
    app.register(&jwt, &mut device, None).await;
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": true, "recovery_codes_left": 10, "passkeys": 1})
    );
    // The password login offers the passkey as a method too.
    let token = app
        .password_login(Kind::Jwt, "a@example.com", PASSWORD)
        .await
        .mfa_token(&["totp", "recovery_code", "passkey"]);
    // A passkey login needs no code, on every backend.
    for kind in KINDS {
        let answer = app.passkey_login(kind, &mut device).await;
        app.assert_logged_in(kind, &answer, "a@example.com").await;
    }
    // The pending password login is unaffected.
    let answer = app.login_mfa(Kind::Jwt, &token, &totp.next().await).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn an_authenticator_without_a_counter_keeps_logging_in<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    let mut device = authenticator();
    device.counter_step = 0;
    app.passkey_user("a@example.com", &mut device).await;
    for _ in 0..3 {
        let answer = app.passkey_login(Kind::Jwt, &mut device).await;
        app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
            .await;
    }
}

/// A login with `device` refused with 400 `PASSKEY_BAD_CREDENTIAL` (no
/// token, no cookie), on a cookie backend and a bearer one.
async fn assert_login_refused<S: MfaTestStore>(
    app: &MfaApp<S>,
    device: &mut SoftAuthenticator,
    what: &str,
) {
    for kind in [Kind::Jwt, Kind::Session] {
        let answer = app.passkey_login(kind, device).await;
        answer.assert_code(BAD, &format!("{what} on {kind:?}"));
        assert!(answer.cookies().is_empty(), "{what}: no cookie");
    }
}

async fn forged_or_damaged_logins_are_refused<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    let mut device = authenticator();
    app.passkey_user("a@example.com", &mut device).await;
    // Two honest logins: the counter is at 2.
    for _ in 0..2 {
        let answer = app.passkey_login(Kind::Jwt, &mut device).await;
        app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
            .await;
    }

    device.origin = "http://evil.example".into();
    assert_login_refused(&app, &mut device, "a wrong origin").await;
    device.origin = "http://localhost:8001".into();
    assert_login_refused(&app, &mut device, "another port").await;
    device.origin = "https://localhost:8000".into();
    assert_login_refused(&app, &mut device, "another scheme").await;
    device.origin = ORIGIN.into();

    device.rp_id = "evil.example".into();
    assert_login_refused(&app, &mut device, "a wrong RP ID").await;
    device.rp_id = RP_ID.into();

    device.tamper_signature = true;
    assert_login_refused(&app, &mut device, "a tampered signature").await;
    device.tamper_signature = false;

    device.tamper_client_data = true;
    assert_login_refused(&app, &mut device, "tampered client data").await;
    device.tamper_client_data = false;

    device.unknown_credential = true;
    assert_login_refused(&app, &mut device, "an unknown credential").await;
    device.unknown_credential = false;

    device.user_verified = false;
    assert_login_refused(&app, &mut device, "no user verification").await;
    device.user_verified = true;

    device.client_data_type = Some("webauthn.create".into());
    assert_login_refused(&app, &mut device, "a registration's client data").await;
    device.client_data_type = None;

    device.user_handle = Some(vec![7; 32]);
    assert_login_refused(&app, &mut device, "another user handle").await;
    device.user_handle = None;

    device.challenge = Some(URL_SAFE_NO_PAD.encode([1u8; 32]));
    assert_login_refused(&app, &mut device, "a challenge the server never made").await;
    device.challenge = None;

    // The counter going back (the server has 2): refused.
    device.next_counter = Some(1);
    assert_login_refused(&app, &mut device, "a counter that went back").await;
    device.next_counter = Some(2);
    let answer = app.passkey_login(Kind::Jwt, &mut device).await;
    answer.assert_code(BAD, "a counter that did not go up");

    // Malformed credentials, unknown challenge ids.
    let (challenge_id, options) = app.login_options(Kind::Jwt).await;
    for credential in [
        json!({}),
        json!(null),
        json!("a string"),
        json!([1, 2, 3]),
        json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}),
        json!({"id": "!!!", "type": "public-key", "response": {}}),
    ] {
        app.finish_login(Kind::Jwt, &challenge_id, &credential)
            .await
            .assert_code(BAD, &format!("the credential {credential}"));
    }
    let honest = {
        device.next_counter = Some(10);
        device.authenticate(&options)
    };
    for unknown in ["", "x", UNKNOWN_ID, &"c".repeat(10_000)] {
        app.finish_login(Kind::Jwt, unknown, &honest)
            .await
            .assert_code(BAD, "an unknown challenge id");
    }
    // Missing fields: a malformed body.
    for body in [
        json!({"challenge_id": challenge_id}),
        json!({"credential": honest}),
    ] {
        let answer = app.post("/auth/jwt/passkey/login", None, body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{answer:?}"
        );
    }

    // After all that, an honest login still works (the challenge was used
    // by the malformed attempts: a new one).
    let answer = app.passkey_login(Kind::Jwt, &mut device).await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

/// A change made to an honest authenticator.
type Damage = Box<dyn Fn(&mut SoftAuthenticator)>;

async fn forged_or_damaged_registrations_are_refused<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    app.user("a@example.com").await;
    let jwt = app.jwt("a@example.com").await;
    app.user("b@example.com").await;
    let bob = app.jwt("b@example.com").await;
    let mut device = authenticator();

    let cases: Vec<(&str, Damage)> = vec![
        (
            "a wrong origin",
            Box::new(|d| d.origin = "http://evil.example".into()),
        ),
        (
            "a wrong RP ID",
            Box::new(|d| d.rp_id = "evil.example".into()),
        ),
        (
            "no user verification",
            Box::new(|d| d.user_verified = false),
        ),
        (
            "a login's client data",
            Box::new(|d| d.client_data_type = Some("webauthn.get".into())),
        ),
        (
            "a challenge the server never made",
            Box::new(|d| d.challenge = Some(URL_SAFE_NO_PAD.encode([1u8; 32]))),
        ),
    ];
    for (what, damage) in cases {
        let mut damaged = authenticator();
        damage(&mut damaged);
        let (challenge_id, options) = app.registration_options(&jwt).await;
        let credential = damaged.register(&options);
        app.finish_registration(&jwt, &challenge_id, &credential, None)
            .await
            .assert_code(BAD, what);
    }
    // A registration answer posted twice: the challenge is used.
    let (challenge_id, options) = app.registration_options(&jwt).await;
    let credential = device.register(&options);
    let answer = app
        .finish_registration(&jwt, &challenge_id, &credential, None)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    app.finish_registration(&jwt, &challenge_id, &credential, None)
        .await
        .assert_code(BAD, "a registration challenge reused");
    // The same credential under a fresh challenge: its client data names the
    // old challenge.
    let (fresh, _) = app.registration_options(&jwt).await;
    app.finish_registration(&jwt, &fresh, &credential, None)
        .await
        .assert_code(BAD, "an old registration answer on a new challenge");
    // Another user's challenge.
    let (alice_challenge, options) = app.registration_options(&jwt).await;
    let mut stolen = authenticator();
    let credential = stolen.register(&options);
    app.finish_registration(&bob, &alice_challenge, &credential, None)
        .await
        .assert_code(BAD, "Alice's challenge finished by Bob");
    // A login ceremony's challenge id.
    let (login_challenge, options) = app.login_options(Kind::Jwt).await;
    let mut confused = authenticator();
    let mut as_registration = options.clone();
    as_registration["user"] = json!({"id": URL_SAFE_NO_PAD.encode([3u8; 32])});
    let credential = confused.register(&as_registration);
    app.finish_registration(&jwt, &login_challenge, &credential, None)
        .await
        .assert_code(BAD, "a login challenge used to register");
    // Malformed credentials and unknown challenge ids.
    for credential in [
        json!({}),
        json!(null),
        json!("x"),
        json!({"type": "public-key"}),
    ] {
        let (challenge_id, _) = app.registration_options(&jwt).await;
        app.finish_registration(&jwt, &challenge_id, &credential, None)
            .await
            .assert_code(BAD, &format!("the credential {credential}"));
    }
    let (_, options) = app.registration_options(&jwt).await;
    let credential = authenticator().register(&options);
    for unknown in ["", "x", UNKNOWN_ID] {
        app.finish_registration(&jwt, unknown, &credential, None)
            .await
            .assert_code(BAD, "an unknown challenge id");
    }
    // Only the honest one was registered; Bob has none.
    assert_eq!(app.passkeys(&jwt).await.len(), 1);
    assert!(app.passkeys(&bob).await.is_empty());
}

async fn a_login_challenge_works_once_and_only_for_its_own_ceremony<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    let mut device = authenticator();
    let jwt = app.passkey_user("a@example.com", &mut device).await;
    let (challenge_id, options) = app.login_options(Kind::Jwt).await;
    let credential = device.authenticate(&options);
    let answer = app
        .finish_login(Kind::Jwt, &challenge_id, &credential)
        .await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
    // The same answer again: the challenge is used.
    app.finish_login(Kind::Jwt, &challenge_id, &credential)
        .await
        .assert_code(BAD, "a login challenge reused");
    // The old answer on a fresh challenge: it signed the old one.
    let (fresh, _) = app.login_options(Kind::Jwt).await;
    app.finish_login(Kind::Jwt, &fresh, &credential)
        .await
        .assert_code(BAD, "an old answer on a new challenge");
    // The answer to one ceremony sent with another's id.
    let (first, first_options) = app.login_options(Kind::Jwt).await;
    let (second, _) = app.login_options(Kind::Jwt).await;
    let answer_to_first = device.authenticate(&first_options);
    app.finish_login(Kind::Jwt, &second, &answer_to_first)
        .await
        .assert_code(BAD, "the answer to another ceremony");
    // A registration ceremony's id at login.
    let (registration, registration_options) = app.registration_options(&jwt).await;
    let mut as_login = registration_options.clone();
    as_login["allowCredentials"] = json!([]);
    let answer = device.authenticate(&as_login);
    app.finish_login(Kind::Jwt, &registration, &answer)
        .await
        .assert_code(BAD, "a registration challenge used to log in");
    let _ = first;
}

async fn passkey_ceremonies_begun_on_one_instance_end_on_another<S: MfaTestStore>(store: S) {
    let one = passkey_app(store.clone());
    let two = passkey_app(store);
    one.user("a@example.com").await;
    let jwt = one.jwt("a@example.com").await;
    let mut device = authenticator();
    // Registration: options on one, answer on two.
    let (challenge_id, options) = one.registration_options(&jwt).await;
    let credential = device.register(&options);
    let answer = two
        .finish_registration(&jwt, &challenge_id, &credential, Some("Laptop"))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(one.passkeys(&jwt).await.len(), 1);
    // Login: options on two, answer on one; then on two, answered on one.
    for (begin, end) in [(&two, &one), (&one, &two)] {
        let (challenge_id, options) = begin.login_options(Kind::Token).await;
        let credential = device.authenticate(&options);
        let answer = end
            .finish_login(Kind::Token, &challenge_id, &credential)
            .await;
        end.assert_logged_in(Kind::Token, &answer, "a@example.com")
            .await;
        // Used once across instances.
        begin
            .finish_login(Kind::Token, &challenge_id, &credential)
            .await
            .assert_code(BAD, "a challenge used on the other instance");
    }
}

async fn a_superuser_reset_removes_the_passkeys<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    app.superuser("admin@example.com").await;
    let admin = app.jwt("admin@example.com").await;
    let (user, mut totp, _) = app.totp_user("a@example.com").await;
    let jwt = app.totp_login("a@example.com", &mut totp).await;
    let mut device = authenticator();
    app.register(&jwt, &mut device, None).await;
    let mut second = authenticator();
    app.register(&jwt, &mut second, None).await;
    let answer = app
        .call(request(
            "DELETE",
            &format!("/users/{}/mfa", user.id),
            Some(&admin),
            None,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert_eq!(
        app.status(&jwt).await,
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    assert!(app.passkeys(&jwt).await.is_empty());
    assert!(app.store.passkeys(&user.id).await.unwrap().is_empty());
    for device in [&mut device, &mut second] {
        app.passkey_login(Kind::Jwt, device)
            .await
            .assert_code(BAD, "a passkey removed by the reset");
    }
    assert_eq!(
        app.hooks.events().last().unwrap(),
        "disabled a@example.com all"
    );
    // The password alone logs in now.
    let answer = app
        .password_login(Kind::Jwt, "a@example.com", PASSWORD)
        .await;
    app.assert_logged_in(Kind::Jwt, &answer, "a@example.com")
        .await;
}

async fn a_deleted_users_passkeys_go_with_the_user<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    app.superuser("admin@example.com").await;
    let admin = app.jwt("admin@example.com").await;
    let mut device = authenticator();
    app.passkey_user("a@example.com", &mut device).await;
    let user = app.manager.get_by_email("a@example.com").await.unwrap();
    let credential_id = device.last().id.clone();
    let answer = app
        .call(request(
            "DELETE",
            &format!("/users/{}", user.id),
            Some(&admin),
            None,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert!(app.store.passkeys(&user.id).await.unwrap().is_empty());
    assert!(
        app.store
            .passkey_by_credential(&credential_id)
            .await
            .unwrap()
            .is_none()
    );
    app.passkey_login(Kind::Jwt, &mut device)
        .await
        .assert_code(BAD, "a passkey of a deleted user");
    // The address registered again: no passkeys, and the old one does not
    // log the new account in.
    let answer = app
        .post(
            "/auth/register",
            None,
            json!({"email": "a@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let jwt = app.jwt("a@example.com").await;
    assert!(app.passkeys(&jwt).await.is_empty());
    assert_eq!(app.status(&jwt).await["passkeys"], 0);
    app.passkey_login(Kind::Jwt, &mut device)
        .await
        .assert_code(BAD, "the old passkey on the new account");
}

async fn concurrent_logins_with_one_answer_log_in_once<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    let mut device = authenticator();
    app.passkey_user("a@example.com", &mut device).await;
    let (challenge_id, options) = app.login_options(Kind::Jwt).await;
    let credential = device.authenticate(&options);
    let requests = (0..8)
        .map(|_| {
            request(
                "POST",
                "/auth/jwt/passkey/login",
                None,
                Some(&json!({ "challenge_id": challenge_id, "credential": credential })),
            )
        })
        .collect();
    let answers = app.concurrently(requests).await;
    let wins = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(wins, 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
        answer.assert_code(BAD, "a loser of the race");
    }
}

async fn a_deactivated_users_passkey_does_not_log_in<S: MfaTestStore>(store: S) {
    let app = passkey_app(store);
    app.superuser("admin@example.com").await;
    let admin = app.jwt("admin@example.com").await;
    let mut device = authenticator();
    app.passkey_user("a@example.com", &mut device).await;
    let user = app.manager.get_by_email("a@example.com").await.unwrap();
    let answer = app
        .call(request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            Some(&json!({"is_active": false})),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    for kind in KINDS {
        let answer = app.passkey_login(kind, &mut device).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{kind:?}: {answer:?}"
        );
        assert!(answer.body.get("access_token").is_none());
        assert!(answer.cookies().is_empty(), "{kind:?}: no cookie");
    }
}
