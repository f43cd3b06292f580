//! A software passkey authenticator for the tests: it plays the browser and a
//! platform authenticator with ES256 (P-256) keys, answering the options of
//! `axum_users::mfa::passkey` with the JSON `credential.toJSON()` gives
//! (`RegistrationResponseJSON`, `AuthenticationResponseJSON`).
//!
//! Its public fields are knobs for the negative tests: what it puts in the
//! client data and authenticator data, and how it damages its answers. Each
//! knob stays set until the test changes it back, except `next_counter`,
//! which is used once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// authenticatorData flag: user present.
const FLAG_UP: u8 = 0x01;
/// authenticatorData flag: user verified.
const FLAG_UV: u8 = 0x04;
/// authenticatorData flag: attested credential data included.
const FLAG_AT: u8 = 0x40;

/// The DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey,
/// prime256v1, then a BIT STRING of the 65-byte uncompressed point).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A passkey the authenticator holds.
pub struct SoftCredential {
    /// The credential id (32 random bytes).
    pub id: Vec<u8>,
    /// The private key.
    key: SigningKey,
    /// The user handle of the registration options.
    pub user_handle: Vec<u8>,
    /// The signature counter it last reported.
    pub counter: u32,
}

/// The browser and its platform authenticator.
pub struct SoftAuthenticator {
    /// The origin put in clientDataJSON.
    pub origin: String,
    /// The RP ID whose SHA-256 goes into authenticatorData.
    pub rp_id: String,
    /// The passkeys made so far, oldest first.
    pub credentials: Vec<SoftCredential>,
    /// A challenge (base64url) to put in clientDataJSON instead of the
    /// options' one.
    pub challenge: Option<String>,
    /// clientDataJSON's `type` instead of `webauthn.create` / `webauthn.get`.
    pub client_data_type: Option<String>,
    /// Send a valid signature over other bytes (logins).
    pub tamper_signature: bool,
    /// Change clientDataJSON after signing it (logins; a registration with
    /// attestation "none" signs nothing).
    pub tamper_client_data: bool,
    /// The UV (user verified) flag; UP is always set.
    pub user_verified: bool,
    /// The counter to report next (registration or login), instead of the
    /// credential's last one plus `counter_step`; used once.
    pub next_counter: Option<u32>,
    /// How much the counter goes up per login (0: an authenticator that does
    /// not count, like most synced passkeys).
    pub counter_step: u32,
    /// A user handle to send in logins instead of the credential's.
    pub user_handle: Option<Vec<u8>>,
    /// Log in with a fresh credential the server never saw (with the user
    /// handle of the one it would have used).
    pub unknown_credential: bool,
}

impl SoftAuthenticator {
    /// An honest authenticator for `origin` and `rp_id`, holding no passkey.
    pub fn new(origin: &str, rp_id: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            rp_id: rp_id.to_owned(),
            credentials: Vec::new(),
            challenge: None,
            client_data_type: None,
            tamper_signature: false,
            tamper_client_data: false,
            user_verified: true,
            next_counter: None,
            counter_step: 1,
            user_handle: None,
            unknown_credential: false,
        }
    }

    /// The most recent passkey.
    pub fn last(&self) -> &SoftCredential {
        self.credentials.last().expect("no passkey registered yet")
    }

    /// Answers `navigator.credentials.create({publicKey: options})`: makes a
    /// passkey (kept in `credentials`) and returns its
    /// `RegistrationResponseJSON`.
    pub fn register(&mut self, options: &Value) -> Value {
        let user_handle = b64_decode(options["user"]["id"].as_str().expect("options.user.id"));
        let key = random_key();
        let id = random_bytes::<32>().to_vec();
        let counter = self.next_counter.take().unwrap_or(0);
        let client_data = self.client_data("webauthn.create", options);

        let point = key.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x().expect("x"), point.y().expect("y"));
        let cose_key = cbor_map(vec![
            (Cbor::Int(1), Cbor::Int(2)),  // kty: EC2
            (Cbor::Int(3), Cbor::Int(-7)), // alg: ES256
            (Cbor::Int(-1), Cbor::Int(1)), // crv: P-256
            (Cbor::Int(-2), Cbor::Bytes(x.to_vec())),
            (Cbor::Int(-3), Cbor::Bytes(y.to_vec())),
        ]);
        let mut auth_data = self.auth_data(FLAG_AT, counter);
        auth_data.extend_from_slice(&[0; 16]); // AAGUID
        auth_data.extend_from_slice(&u16::try_from(id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_key);
        // CTAP2 canonical order: shorter keys first.
        let attestation_object = cbor_map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (
                Cbor::Text("authData".into()),
                Cbor::Bytes(auth_data.clone()),
            ),
        ]);
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(point.as_bytes());

        let id_b64 = URL_SAFE_NO_PAD.encode(&id);
        self.credentials.push(SoftCredential {
            id,
            key,
            user_handle,
            counter,
        });
        json!({
            "id": id_b64,
            "rawId": id_b64,
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data),
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
                "transports": ["internal"],
                "publicKeyAlgorithm": -7,
                "publicKey": URL_SAFE_NO_PAD.encode(spki),
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// Answers `navigator.credentials.get({publicKey: options})` with the
    /// passkey `allowCredentials` names, or else the most recent one, and
    /// returns the `AuthenticationResponseJSON`.
    pub fn authenticate(&mut self, options: &Value) -> Value {
        let allowed: Vec<Vec<u8>> = options["allowCredentials"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|c| b64_decode(c["id"].as_str().expect("id")))
                    .collect()
            })
            .unwrap_or_default();
        let index = if allowed.is_empty() {
            self.credentials.len().checked_sub(1)
        } else {
            self.credentials
                .iter()
                .rposition(|c| allowed.contains(&c.id))
        }
        .expect("no passkey for these options");
        let client_data = self.client_data("webauthn.get", options);

        let step = self.counter_step;
        let counter = match self.next_counter.take() {
            Some(counter) => counter,
            None => self.credentials[index].counter.wrapping_add(step),
        };
        let auth_data = self.auth_data(0, counter);
        let unknown = self
            .unknown_credential
            .then(|| (random_bytes::<32>().to_vec(), random_key()));
        let credential = &mut self.credentials[index];
        credential.counter = counter;
        let (id, key) = match &unknown {
            Some((id, key)) => (id.clone(), key),
            None => (credential.id.clone(), &credential.key),
        };

        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        if self.tamper_signature {
            *signed.last_mut().unwrap() ^= 1;
        }
        let signature: Signature = key.sign(&signed);
        let mut sent_client_data = client_data;
        if self.tamper_client_data {
            // Still valid JSON with the same challenge and origin.
            sent_client_data.pop();
            sent_client_data.extend_from_slice(br#","tampered":true}"#);
        }
        let user_handle = self
            .user_handle
            .clone()
            .unwrap_or_else(|| credential.user_handle.clone());

        let id_b64 = URL_SAFE_NO_PAD.encode(&id);
        json!({
            "id": id_b64,
            "rawId": id_b64,
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(&sent_client_data),
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
                "userHandle": URL_SAFE_NO_PAD.encode(&user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// clientDataJSON as browsers write it.
    fn client_data(&self, default_type: &str, options: &Value) -> Vec<u8> {
        let challenge = match &self.challenge {
            Some(challenge) => challenge.clone(),
            None => options["challenge"]
                .as_str()
                .expect("options.challenge")
                .to_owned(),
        };
        let kind = self.client_data_type.as_deref().unwrap_or(default_type);
        // The members in the order browsers write them, which a JSON object
        // would not keep.
        format!(
            r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
            Value::from(kind),
            Value::from(challenge),
            Value::from(self.origin.as_str()),
        )
        .into_bytes()
    }

    /// authenticatorData up to the signature counter: RP ID hash, flags
    /// (UP, UV as set, and `extra`), counter.
    fn auth_data(&self, extra: u8, counter: u32) -> Vec<u8> {
        let mut flags = FLAG_UP | extra;
        if self.user_verified {
            flags |= FLAG_UV;
        }
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data
    }
}

/// `N` random bytes.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes
}

/// A random P-256 private key.
fn random_key() -> SigningKey {
    loop {
        // Out of range (zero or at least the group order) with probability
        // about 2^-32: draw again.
        if let Ok(key) = SigningKey::from_slice(&random_bytes::<32>()) {
            return key;
        }
    }
}

/// Unpadded base64url.
fn b64_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// The CBOR values an attestation object needs.
enum Cbor {
    /// An integer (major type 0 or 1).
    Int(i64),
    /// A byte string (major type 2).
    Bytes(Vec<u8>),
    /// A text string (major type 3).
    Text(String),
    /// A map (major type 5), its entries in the order given.
    Map(Vec<(Cbor, Cbor)>),
}

/// The encoding of a map with these entries, in this order.
fn cbor_map(entries: Vec<(Cbor, Cbor)>) -> Vec<u8> {
    let mut out = Vec::new();
    cbor_encode(&Cbor::Map(entries), &mut out);
    out
}

/// Appends the encoding of `value` (shortest heads, definite lengths).
fn cbor_encode(value: &Cbor, out: &mut Vec<u8>) {
    match value {
        Cbor::Int(n) if *n >= 0 => cbor_head(0, n.unsigned_abs(), out),
        Cbor::Int(n) => cbor_head(1, (-1 - n).unsigned_abs(), out),
        Cbor::Bytes(bytes) => {
            cbor_head(2, bytes.len() as u64, out);
            out.extend_from_slice(bytes);
        }
        Cbor::Text(text) => {
            cbor_head(3, text.len() as u64, out);
            out.extend_from_slice(text.as_bytes());
        }
        Cbor::Map(entries) => {
            cbor_head(5, entries.len() as u64, out);
            for (key, value) in entries {
                cbor_encode(key, out);
                cbor_encode(value, out);
            }
        }
    }
}

/// Appends a CBOR head: major type and argument.
fn cbor_head(major: u8, argument: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match argument {
        0..=23 => out.push(major | argument as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}
