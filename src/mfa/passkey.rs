//! Passkeys: WebAuthn registration and username-less login, a thin wrapper
//! over the pure-Rust [`webauthn_rp`] crate (feature `passkeys`).
//!
//! A [`RelyingParty`] names the site (its RP ID, a domain such as
//! `example.com`) and the origins its pages are served from. Each ceremony
//! has two steps:
//!
//! 1. `start_*` answers a [`Ceremony`]: its [`options`](Ceremony::options)
//!    go to the browser (the `publicKey` member of
//!    `navigator.credentials.create`/`get`, as WebAuthn level 3 JSON, ready
//!    for `PublicKeyCredential.parseCreationOptionsFromJSON` /
//!    `parseRequestOptionsFromJSON`), its [`state`](Ceremony::state) stays on
//!    the server: the caller stores it (under a random id, for at most
//!    [`CEREMONY_TIMEOUT`]) and deletes it when it is used, so that each
//!    challenge is answered at most once.
//! 2. `finish_*` checks what the browser answered (`credential.toJSON()`)
//!    against that state.
//!
//! Registration gives a [`NewPasskey`]: the caller stores its
//! [`credential_id`](NewPasskey::credential_id) (unique; look-ups go by it),
//! [`user_handle`](NewPasskey::user_handle) and the opaque
//! [`stored`](NewPasskey::stored) text. A login names its credential and user
//! handle ([`RelyingParty::assertion_ids`]); the caller finds that passkey and
//! passes its `stored` text to [`RelyingParty::finish_authentication`], then
//! replaces it with [`PasskeyUse::stored`] (the new signature counter).
//!
//! Every passkey is a discoverable credential with user verification
//! (`residentKey: "required"`, `userVerification: "required"`), so a login
//! needs no user name first. User handles are [`USER_HANDLE_LEN`] random bytes
//! ([`new_user_handle`]), never an e-mail address or a user id.
//!
//! ```
//! use axum_users::mfa::passkey::{self, RelyingParty};
//!
//! let rp = RelyingParty::new("localhost", "http://localhost:8000")?;
//! let handle = passkey::new_user_handle();
//! let ceremony = rp.start_registration(&handle, "alice@example.com", "alice@example.com", &[])?;
//! assert_eq!(ceremony.options["authenticatorSelection"]["residentKey"], "required");
//! // Send `ceremony.options` to the browser, keep `ceremony.state`; then
//! // `rp.finish_registration(&state, &credential_json)` with what it answers.
//! let login = rp.start_authentication()?;
//! assert_eq!(login.options["allowCredentials"], serde_json::json!([]));
//! # Ok::<(), passkey::PasskeyError>(())
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize as _;
use serde_json::{Map, Value};
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticationVerificationOptions;
use webauthn_rp::request::register::{
    CoseAlgorithmIdentifier, CoseAlgorithmIdentifiers, CredProtect, Nickname,
    PublicKeyCredentialUserEntity, RegistrationVerificationOptions, UserHandle, Username,
};
use webauthn_rp::request::{
    AsciiDomain, BackupReq, ExtensionInfo, ExtensionReq, PublicKeyCredentialDescriptor, RpId,
};
use webauthn_rp::response::auth::error::AuthCeremonyErr;
use webauthn_rp::response::auth::ser_relaxed::DiscoverableAuthenticationRelaxed;
use webauthn_rp::response::register::error::RegCeremonyErr;
use webauthn_rp::response::register::ser_relaxed::RegistrationRelaxed;
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, CredentialId};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, PublicKeyCredentialCreationOptions,
    RegistrationServerState,
};

/// The length of a user handle in bytes: every passkey of this crate has a
/// user handle of exactly this many random bytes (WebAuthn allows 1 to 64;
/// `webauthn_rp` wants the length fixed at compile time).
pub const USER_HANDLE_LEN: usize = 32;

/// How long the browser may take to answer a ceremony (its `timeout`); a
/// [`Ceremony::state`] older than this is refused ([`PasskeyError::Expired`]).
pub const CEREMONY_TIMEOUT: Duration = Duration::from_secs(300);

/// [`CEREMONY_TIMEOUT`] in milliseconds, as the options carry it.
const TIMEOUT_MS: NonZeroU32 = match NonZeroU32::new(300_000) {
    Some(ms) => ms,
    // Evaluated at compile time: 300 000 is not zero.
    None => panic!("the ceremony timeout is zero"),
};

/// The format of [`Ceremony::state`] and of [`NewPasskey::stored`].
const FORMAT_VERSION: u8 = 1;
/// The kind byte of a registration ceremony's state.
const KIND_REGISTRATION: u8 = b'R';
/// The kind byte of an authentication ceremony's state.
const KIND_AUTHENTICATION: u8 = b'A';
/// The length of `webauthn_rp`'s encoded `DynamicState`.
const DYNAMIC_STATE_LEN: usize = 7;
/// Error messages quote at most this many bytes (they may quote what the
/// client sent).
const MAX_MESSAGE_LEN: usize = 200;

/// The key type a stored passkey decodes to (Ed25519, P-256, P-384, RSA).
type StoredPubKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

/// Why a passkey operation failed.
///
/// The messages say what was wrong and never include key material or the
/// server state; they may quote (at most 200 bytes of) what the client sent.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying party's configuration is unusable: an RP ID that is not a
    /// domain, an origin that is not `https://` (or `http://localhost`), or
    /// that is not the RP ID or one of its subdomains.
    #[error("passkey configuration: {0}")]
    Config(String),
    /// An argument the server passed is unusable: a user handle that is not
    /// [`USER_HANDLE_LEN`] bytes, an empty or invalid user name, an excluded
    /// credential id of a wrong length.
    #[error("passkey argument: {0}")]
    Argument(String),
    /// The browser's answer is malformed or does not check out: wrong type,
    /// challenge, origin or RP ID, bad signature, user not verified, user
    /// handle or credential id not those of the stored passkey, unsupported
    /// attestation or algorithm, ...
    #[error("invalid passkey credential: {0}")]
    Invalid(String),
    /// The signature counter did not go up: the stored counter is not 0 and
    /// the answer's is not greater. The authenticator may have been cloned.
    #[error("the passkey's signature counter went back (a possible clone)")]
    CounterRegressed,
    /// The ceremony is older than [`CEREMONY_TIMEOUT`].
    #[error("the passkey ceremony has expired")]
    Expired,
    /// A ceremony state or a stored passkey cannot be read: damaged, of the
    /// other ceremony, or of an unknown format.
    #[error("unreadable passkey state: {0}")]
    State(String),
    /// An unexpected failure inside the WebAuthn library or the system clock.
    #[error("passkey internal error: {0}")]
    Internal(String),
}

/// `message` cut to [`MAX_MESSAGE_LEN`] bytes (at a character boundary).
fn bounded(message: String) -> String {
    if message.len() <= MAX_MESSAGE_LEN {
        return message;
    }
    let mut end = MAX_MESSAGE_LEN;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

/// [`PasskeyError::Invalid`] with `what` and the cause.
fn invalid(what: &str, cause: impl fmt::Display) -> PasskeyError {
    PasskeyError::Invalid(bounded(format!("{what}: {cause}")))
}

/// A new random user handle of [`USER_HANDLE_LEN`] bytes (from
/// `webauthn_rp`'s generator, a CSPRNG seeded by the operating system): one
/// per user, made when the user registers a first passkey and kept for the
/// next ones.
#[must_use]
pub fn new_user_handle() -> Vec<u8> {
    UserHandle::<USER_HANDLE_LEN>::new().as_ref().to_vec()
}

/// The relying party: the RP ID (a domain, e.g. `example.com` or
/// `localhost`) and the origins allowed to run ceremonies for it (e.g.
/// `https://example.com`, `http://localhost:8000`).
///
/// Origins are compared exactly (scheme, host, port) with what the browser
/// reports; each must be `https://` (or `http://` for `localhost` and its
/// subdomains) on the RP ID or one of its subdomains.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    /// The RP ID.
    rp_id: RpId,
    /// The allowed origins, normalised (`scheme://host[:port]`, lower case,
    /// no default port).
    origins: Vec<String>,
}

impl RelyingParty {
    /// A relying party with RP ID `rp_id` and one allowed origin.
    ///
    /// # Errors
    ///
    /// [`PasskeyError::Config`] if `rp_id` is not a domain (an IP address,
    /// a URL, empty, ...) or `origin` is not allowed for it (see the type's
    /// documentation).
    pub fn new(rp_id: &str, origin: &str) -> Result<Self, PasskeyError> {
        let rp_id = normalise_rp_id(rp_id)?;
        let origin = normalise_origin(origin, &rp_id)?;
        let rp_id = AsciiDomain::try_from(rp_id.clone())
            .map_err(|e| PasskeyError::Config(bounded(format!("RP ID {rp_id:?}: {e}"))))?;
        Ok(Self {
            rp_id: RpId::Domain(rp_id),
            origins: vec![origin],
        })
    }

    /// The same relying party with more allowed origins (for example the
    /// `www.` host beside the bare domain).
    ///
    /// # Errors
    ///
    /// [`PasskeyError::Config`] if one of them is not allowed for the RP ID.
    pub fn origins(mut self, more: impl IntoIterator<Item = String>) -> Result<Self, PasskeyError> {
        for origin in more {
            let origin = normalise_origin(&origin, self.rp_id())?;
            if !self.origins.contains(&origin) {
                self.origins.push(origin);
            }
        }
        Ok(self)
    }

    /// The RP ID.
    #[must_use]
    pub fn rp_id(&self) -> &str {
        self.rp_id.as_ref()
    }

    /// The allowed origins, normalised (`scheme://host[:port]`).
    #[must_use]
    pub fn allowed_origins(&self) -> &[String] {
        &self.origins
    }

    /// Starts registering a passkey for a user.
    ///
    /// `user_handle` is the user's handle ([`USER_HANDLE_LEN`] random bytes,
    /// see [`new_user_handle`]), `name` and `display_name` what the
    /// authenticator shows (the user's e-mail address, say; an empty
    /// `display_name` is allowed), `exclude` the credential ids the user
    /// already has (so that the authenticator does not make a second passkey
    /// for the same account).
    ///
    /// The options ask for a discoverable credential (`residentKey:
    /// "required"`, `requireResidentKey: true`) with user verification
    /// (`userVerification: "required"`), `attestation: "none"`, a timeout of
    /// [`CEREMONY_TIMEOUT`] and the algorithms EdDSA, ES256 and RS256; they
    /// also ask for the `credProps` extension and, without enforcing it,
    /// `credProtect` "userVerificationRequired".
    ///
    /// # Errors
    ///
    /// [`PasskeyError::Argument`] for a user handle of another length, a
    /// `name` that is empty or not a valid user name (RFC 8265), a
    /// `display_name` that is not a valid nickname (RFC 8266), an excluded
    /// credential id that is not 16 to 1023 bytes.
    pub fn start_registration(
        &self,
        user_handle: &[u8],
        name: &str,
        display_name: &str,
        exclude: &[Vec<u8>],
    ) -> Result<Ceremony, PasskeyError> {
        let handle = user_handle_from(user_handle).map_err(PasskeyError::Argument)?;
        let name = Username::try_from(name)
            .map_err(|e| PasskeyError::Argument(format!("user name: {e}")))?;
        let display_name = if display_name.is_empty() {
            None
        } else {
            Some(
                Nickname::try_from(display_name)
                    .map_err(|e| PasskeyError::Argument(format!("display name: {e}")))?,
            )
        };
        // No transports known: the browser tries them all.
        let no_transports = AuthTransports::decode(0)
            .map_err(|e| PasskeyError::Internal(format!("transports: {e}")))?;
        let mut exclude_credentials = Vec::with_capacity(exclude.len());
        for id in exclude {
            let id = CredentialId::<Vec<u8>>::decode(id.clone())
                .map_err(|e| PasskeyError::Argument(format!("excluded credential id: {e}")))?;
            exclude_credentials.push(PublicKeyCredentialDescriptor {
                id,
                transports: no_transports,
            });
        }
        let user = PublicKeyCredentialUserEntity {
            name,
            id: &handle,
            display_name,
        };
        // `passkey`: residentKey and userVerification "required".
        let mut options =
            PublicKeyCredentialCreationOptions::passkey(&self.rp_id, user, exclude_credentials);
        options.timeout = TIMEOUT_MS;
        // `passkey` asks for credProtect "userVerificationRequired" with
        // `enforceCredentialProtectionPolicy: true`, which makes browsers
        // refuse authenticators without the extension (several platform
        // and virtual ones). Ask without enforcing: every login needs user
        // verification anyway.
        options.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        options.pub_key_cred_params =
            CoseAlgorithmIdentifiers::ALL.remove(CoseAlgorithmIdentifier::Es384);
        options.extensions.cred_props = Some(ExtensionReq::Allow);
        let (server, client) = options
            .start_ceremony()
            .map_err(|e| PasskeyError::Internal(format!("registration options: {e}")))?;
        let options = serde_json::to_value(&client)
            .map_err(|e| PasskeyError::Internal(format!("registration options: {e}")))?;
        let encoded = server
            .encode()
            .map_err(|e| PasskeyError::Internal(format!("registration state: {e}")))?;
        Ok(Ceremony {
            options,
            state: state_bytes(KIND_REGISTRATION, &encoded),
        })
    }

    /// Finishes a registration: `state` is the [`Ceremony::state`] of
    /// [`start_registration`](Self::start_registration), `response` the
    /// browser's `RegistrationResponseJSON` (what `credential.toJSON()`
    /// gives; unknown members are ignored, `type` must be `"public-key"`).
    ///
    /// Checks the type, challenge, origin, RP ID hash, the user-present and
    /// user-verified flags, the attestation (`none` or self), the algorithm,
    /// the extensions and that the credential is discoverable when the
    /// browser says. The caller must still check that the credential id is
    /// not registered already (to any user) before storing it.
    ///
    /// # Errors
    ///
    /// [`PasskeyError::Invalid`] for a malformed or wrong answer,
    /// [`PasskeyError::Expired`] after [`CEREMONY_TIMEOUT`],
    /// [`PasskeyError::State`] for a `state` that is not a registration's.
    pub fn finish_registration(
        &self,
        state: &[u8],
        response: &Value,
    ) -> Result<NewPasskey, PasskeyError> {
        guarded(|| self.check_registration(state, response))
    }

    /// [`finish_registration`](Self::finish_registration), unguarded.
    fn check_registration(
        &self,
        state: &[u8],
        response: &Value,
    ) -> Result<NewPasskey, PasskeyError> {
        let server = RegistrationServerState::<USER_HANDLE_LEN>::decode(state_body(
            state,
            KIND_REGISTRATION,
        )?)
        .map_err(|e| PasskeyError::State(format!("registration state: {e}")))?;
        credential_object(response)?;
        let registration = RegistrationRelaxed::deserialize(response)
            .map_err(|e| invalid("registration response", e))?
            .0;
        let options = RegistrationVerificationOptions::<String, String> {
            allowed_origins: &self.origins,
            allowed_top_origins: None,
            backup_requirement: BackupReq::None,
            error_on_unsolicited_extensions: true,
            require_authenticator_attachment: false,
            ..RegistrationVerificationOptions::default()
        };
        let credential = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(registration_error)?;
        let (id, _transports, user, static_state, dynamic_state, _metadata) =
            credential.into_parts();
        let static_state = match static_state.encode() {
            Ok(bytes) => bytes,
            Err(never) => match never {},
        };
        let stored = encode_stored(id.as_ref(), user.as_ref(), &static_state, dynamic_state)?;
        Ok(NewPasskey {
            credential_id: id.as_ref().to_vec(),
            user_handle: user.as_ref().to_vec(),
            stored,
            sign_count: dynamic_state.sign_count,
        })
    }

    /// Starts a username-less login: empty `allowCredentials` (the browser
    /// offers the passkeys it has for the RP ID), `userVerification:
    /// "required"`, a timeout of [`CEREMONY_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`PasskeyError::Internal`] only (a system clock before 1970, ...).
    pub fn start_authentication(&self) -> Result<Ceremony, PasskeyError> {
        let mut options = DiscoverableCredentialRequestOptions::passkey(&self.rp_id);
        options.0.timeout = TIMEOUT_MS;
        let (server, client) = options
            .start_ceremony()
            .map_err(|e| PasskeyError::Internal(format!("request options: {e}")))?;
        let options = serde_json::to_value(&client)
            .map_err(|e| PasskeyError::Internal(format!("request options: {e}")))?;
        let encoded = server
            .encode()
            .map_err(|e| PasskeyError::Internal(format!("authentication state: {e}")))?;
        Ok(Ceremony {
            options,
            state: state_bytes(KIND_AUTHENTICATION, &encoded),
        })
    }

    /// What a login's `AuthenticationResponseJSON` names: the credential id
    /// (to find the stored passkey) and the user handle, if any (to check it
    /// is that passkey's user). Nothing is verified but the shape: call
    /// [`finish_authentication`](Self::finish_authentication) next.
    ///
    /// # Errors
    ///
    /// [`PasskeyError::Invalid`] if `response` is not a `public-key`
    /// credential with a base64url `id` of 16 to 1023 bytes (equal to
    /// `rawId` when present) and a `response` object whose `userHandle`, if
    /// present, is base64url of 1 to 64 bytes or `null`.
    pub fn assertion_ids(response: &Value) -> Result<AssertionIds, PasskeyError> {
        let object = credential_object(response)?;
        let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
        let credential_id = decode_b64url("id", id, 16, 1023)?;
        match object.get("rawId") {
            None | Some(Value::Null) => {}
            Some(Value::String(raw)) if raw == id => {}
            Some(_) => return Err(PasskeyError::Invalid("id and rawId differ".to_owned())),
        }
        let inner = object
            .get("response")
            .and_then(Value::as_object)
            .ok_or_else(|| PasskeyError::Invalid("no response object".to_owned()))?;
        let user_handle = match inner.get("userHandle") {
            None | Some(Value::Null) => None,
            Some(Value::String(handle)) => Some(decode_b64url("userHandle", handle, 1, 64)?),
            Some(_) => {
                return Err(PasskeyError::Invalid(
                    "userHandle is not a string".to_owned(),
                ));
            }
        };
        Ok(AssertionIds {
            credential_id,
            user_handle,
        })
    }

    /// Finishes a login against the stored passkey: `state` is the
    /// [`Ceremony::state`] of [`start_authentication`](Self::start_authentication),
    /// `response` the browser's `AuthenticationResponseJSON` (with its
    /// `userHandle`), `stored` the passkey's [`NewPasskey::stored`] or last
    /// [`PasskeyUse::stored`].
    ///
    /// Checks the type, challenge, origin, RP ID hash, signature, the
    /// user-present and user-verified flags, that the credential id and user
    /// handle are the stored passkey's, that its backup eligibility did not
    /// change, and the signature counter: when the stored counter is not 0,
    /// the new one must be greater (authenticators that do not count always
    /// send 0, and stay accepted while the stored counter is 0).
    ///
    /// # Errors
    ///
    /// [`PasskeyError::Invalid`] for a malformed or wrong answer,
    /// [`PasskeyError::CounterRegressed`] when the counter went back,
    /// [`PasskeyError::Expired`] after [`CEREMONY_TIMEOUT`],
    /// [`PasskeyError::State`] for a `state` that is not a login's or a
    /// damaged `stored`.
    pub fn finish_authentication(
        &self,
        state: &[u8],
        response: &Value,
        stored: &str,
    ) -> Result<PasskeyUse, PasskeyError> {
        guarded(|| self.check_authentication(state, response, stored))
    }

    /// [`finish_authentication`](Self::finish_authentication), unguarded.
    fn check_authentication(
        &self,
        state: &[u8],
        response: &Value,
        stored: &str,
    ) -> Result<PasskeyUse, PasskeyError> {
        let server =
            DiscoverableAuthenticationServerState::decode(state_body(state, KIND_AUTHENTICATION)?)
                .map_err(|e| PasskeyError::State(format!("authentication state: {e}")))?;
        let passkey = StoredPasskey::decode(stored)?;
        let object = credential_object(response)?;
        // webauthn_rp 0.3.0 takes `"userHandle": null` for a discoverable
        // login and then panics in `verify` (its `user_handle()` unwraps).
        if !object
            .get("response")
            .and_then(|inner| inner.get("userHandle"))
            .is_some_and(Value::is_string)
        {
            return Err(PasskeyError::Invalid(
                "the login answer has no userHandle".to_owned(),
            ));
        }
        let authentication =
            DiscoverableAuthenticationRelaxed::<USER_HANDLE_LEN>::deserialize(response)
                .map_err(|e| invalid("authentication response", e))?
                .0;
        let credential_id = CredentialId::<&[u8]>::decode(passkey.credential_id.as_slice())
            .map_err(|e| PasskeyError::State(format!("stored credential id: {e}")))?;
        let user = match UserHandle::<USER_HANDLE_LEN>::decode(passkey.user_handle) {
            Ok(user) => user,
            Err(never) => match never {},
        };
        let static_state = StaticState::<StoredPubKey>::decode(passkey.static_state.as_slice())
            .map_err(|e| PasskeyError::State(format!("stored public key: {e}")))?;
        let dynamic_state = DynamicState::decode(passkey.dynamic_state)
            .map_err(|e| PasskeyError::State(format!("stored counter and flags: {e}")))?;
        let mut credential =
            AuthenticatedCredential::new(credential_id, &user, static_state, dynamic_state)
                .map_err(|e| PasskeyError::State(format!("stored passkey: {e}")))?;
        let options = AuthenticationVerificationOptions::<String, String> {
            allowed_origins: &self.origins,
            allowed_top_origins: None,
            update_uv: true,
            ..AuthenticationVerificationOptions::default()
        };
        server
            .verify(&self.rp_id, &authentication, &mut credential, &options)
            .map_err(authentication_error)?;
        let dynamic_state = credential.dynamic_state();
        let stored = encode_stored(
            &passkey.credential_id,
            &passkey.user_handle,
            &passkey.static_state,
            dynamic_state,
        )?;
        Ok(PasskeyUse {
            stored,
            sign_count: dynamic_state.sign_count,
        })
    }
}

/// Runs a `finish_*` check, turning a panic into [`PasskeyError::Invalid`].
///
/// `webauthn_rp` means to be panic-free, but 0.3.0 has at least one panic an
/// answer can reach (see `check_authentication`); a forged answer must get a
/// refusal, not end the request's task. Nothing outlives the closure but its
/// result, so no half-updated state can be observed after a panic.
fn guarded<T>(check: impl FnOnce() -> Result<T, PasskeyError>) -> Result<T, PasskeyError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).unwrap_or_else(|_| {
        Err(PasskeyError::Invalid(
            "the WebAuthn library failed on this answer".to_owned(),
        ))
    })
}

/// A started ceremony: what goes to the browser and what stays on the
/// server.
#[derive(Clone)]
pub struct Ceremony {
    /// The `publicKey` options as WebAuthn level 3 JSON
    /// (`PublicKeyCredentialCreationOptionsJSON` or
    /// `PublicKeyCredentialRequestOptionsJSON`: binary members are base64url
    /// strings), for `PublicKeyCredential.parseCreationOptionsFromJSON` /
    /// `parseRequestOptionsFromJSON`.
    pub options: Value,
    /// The server's state of the ceremony (its challenge, expiry, user
    /// handle, ...), to store server-side until the answer comes (it is not
    /// authenticated: never hand it to the client) and to pass to `finish_*`
    /// once. Any instance with the same [`RelyingParty`] can finish it.
    pub state: Vec<u8>,
}

impl fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ceremony")
            .field("options", &"..")
            .field("state", &format_args!("<{} bytes>", self.state.len()))
            .finish()
    }
}

/// A registered passkey, to store.
#[derive(Clone)]
pub struct NewPasskey {
    /// The credential id (16 to 1023 bytes), unique to this passkey: logins
    /// name it ([`AssertionIds::credential_id`]).
    pub credential_id: Vec<u8>,
    /// The user handle it was registered for ([`USER_HANDLE_LEN`] bytes).
    pub user_handle: Vec<u8>,
    /// Everything a login needs (credential id, user handle, public key,
    /// flags, counter), as base64url text; pass it to
    /// [`RelyingParty::finish_authentication`].
    pub stored: String,
    /// The signature counter at registration (0 for authenticators that do
    /// not count).
    pub sign_count: u32,
}

impl fmt::Debug for NewPasskey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPasskey")
            .field(
                "credential_id",
                &format_args!("<{} bytes>", self.credential_id.len()),
            )
            .field(
                "user_handle",
                &format_args!("<{} bytes>", self.user_handle.len()),
            )
            .field("stored", &"..")
            .field("sign_count", &self.sign_count)
            .finish()
    }
}

/// What a login answer names ([`RelyingParty::assertion_ids`]).
#[derive(Clone, PartialEq, Eq)]
pub struct AssertionIds {
    /// The credential id: find the stored passkey by it.
    pub credential_id: Vec<u8>,
    /// The user handle the authenticator holds for it (always present for
    /// the discoverable logins of this crate; `None` if the client left it
    /// out, which [`RelyingParty::finish_authentication`] refuses).
    pub user_handle: Option<Vec<u8>>,
}

impl fmt::Debug for AssertionIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionIds")
            .field(
                "credential_id",
                &format_args!("<{} bytes>", self.credential_id.len()),
            )
            .field(
                "user_handle",
                &self
                    .user_handle
                    .as_ref()
                    .map(|handle| format!("<{} bytes>", handle.len())),
            )
            .finish()
    }
}

/// A successful login with a passkey: store the updated state.
#[derive(Clone)]
pub struct PasskeyUse {
    /// The passkey's updated [`NewPasskey::stored`] (new counter and flags):
    /// replace the stored one with it.
    pub stored: String,
    /// The new signature counter.
    pub sign_count: u32,
}

impl fmt::Debug for PasskeyUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyUse")
            .field("stored", &"..")
            .field("sign_count", &self.sign_count)
            .finish()
    }
}

/// `rp_id` in lower case if it is a domain name: dot-separated labels of
/// ASCII letters, digits and inner hyphens, not an IPv4 address.
fn normalise_rp_id(rp_id: &str) -> Result<String, PasskeyError> {
    let domain = rp_id.to_ascii_lowercase();
    if is_domain(&domain) {
        Ok(domain)
    } else {
        Err(PasskeyError::Config(bounded(format!(
            "RP ID {rp_id:?} is not a domain name (like \"example.com\" or \"localhost\")"
        ))))
    }
}

/// Whether `host` (lower case) is a domain name.
fn is_domain(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.parse::<std::net::Ipv4Addr>().is_err()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// `origin` as browsers serialise it (`scheme://host[:port]`, lower case,
/// without the scheme's default port), if it is allowed for `rp_id`.
fn normalise_origin(origin: &str, rp_id: &str) -> Result<String, PasskeyError> {
    let refuse = |why: &str| PasskeyError::Config(bounded(format!("origin {origin:?}: {why}")));
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| refuse("not scheme://host[:port]"))?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@', '\\']) {
        return Err(refuse("an origin has no path, query, fragment or user"));
    }
    let (host, port) = match rest.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host = host.to_ascii_lowercase();
    if !is_domain(&host) {
        return Err(refuse("the host is not a domain name"));
    }
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" if host == "localhost" || host.ends_with(".localhost") => 80,
        "http" => return Err(refuse("http is only allowed for localhost")),
        _ => return Err(refuse("the scheme is not https")),
    };
    let port = match port {
        None => None,
        Some(port) => {
            let number = port
                .parse::<u16>()
                .ok()
                .filter(|n| *n != 0 && port.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| refuse("bad port"))?;
            (number != default_port).then_some(number)
        }
    };
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Err(refuse(&format!(
            "the host is neither the RP ID {rp_id:?} nor a subdomain of it"
        )));
    }
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// `bytes` as a user handle of [`USER_HANDLE_LEN`] bytes.
fn user_handle_from(bytes: &[u8]) -> Result<UserHandle<USER_HANDLE_LEN>, String> {
    let array: [u8; USER_HANDLE_LEN] = bytes.try_into().map_err(|_| {
        format!(
            "a user handle is {USER_HANDLE_LEN} bytes, not {}",
            bytes.len()
        )
    })?;
    match UserHandle::<USER_HANDLE_LEN>::decode(array) {
        Ok(handle) => Ok(handle),
        Err(never) => match never {},
    }
}

/// A ceremony's state: format version, kind, `webauthn_rp`'s encoding.
fn state_bytes(kind: u8, encoded: &[u8]) -> Vec<u8> {
    let mut state = Vec::with_capacity(2 + encoded.len());
    state.push(FORMAT_VERSION);
    state.push(kind);
    state.extend_from_slice(encoded);
    state
}

/// The `webauthn_rp` encoding inside a ceremony state of kind `kind`.
fn state_body(state: &[u8], kind: u8) -> Result<&[u8], PasskeyError> {
    match state {
        [version, found, body @ ..] if *version == FORMAT_VERSION && *found == kind => Ok(body),
        [version, found, ..] if *version == FORMAT_VERSION => Err(PasskeyError::State(format!(
            "a {} ceremony's state, not a {}'s",
            kind_name(*found),
            kind_name(kind)
        ))),
        _ => Err(PasskeyError::State(
            "not a ceremony state of this version".to_owned(),
        )),
    }
}

/// The name of a ceremony kind, for messages.
fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_REGISTRATION => "registration",
        KIND_AUTHENTICATION => "login",
        _ => "unknown",
    }
}

/// `response` as a JSON object whose `type` is `"public-key"` and `id` a
/// string (`webauthn_rp`'s relaxed parsing would let both be absent).
fn credential_object(response: &Value) -> Result<&Map<String, Value>, PasskeyError> {
    let object = response
        .as_object()
        .ok_or_else(|| PasskeyError::Invalid("the credential is not a JSON object".to_owned()))?;
    if object.get("type").and_then(Value::as_str) != Some("public-key") {
        return Err(PasskeyError::Invalid(
            "the credential's type is not \"public-key\"".to_owned(),
        ));
    }
    if !object.get("id").is_some_and(Value::is_string) {
        return Err(PasskeyError::Invalid("the credential has no id".to_owned()));
    }
    Ok(object)
}

/// `text` as unpadded base64url of `min..=max` bytes.
fn decode_b64url(what: &str, text: &str, min: usize, max: usize) -> Result<Vec<u8>, PasskeyError> {
    // 4 characters per 3 bytes: refuse long text before decoding it.
    if text.len() > max.div_ceil(3) * 4 {
        return Err(PasskeyError::Invalid(format!("{what} is too long")));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| invalid(&format!("{what} is not base64url"), e))?;
    if (min..=max).contains(&bytes.len()) {
        Ok(bytes)
    } else {
        Err(PasskeyError::Invalid(format!(
            "{what} is {} bytes, not {min} to {max}",
            bytes.len()
        )))
    }
}

/// [`PasskeyError`] of a failed registration.
fn registration_error(error: RegCeremonyErr) -> PasskeyError {
    match error {
        RegCeremonyErr::Timeout => PasskeyError::Expired,
        other => invalid("registration", other),
    }
}

/// [`PasskeyError`] of a failed login.
fn authentication_error(error: AuthCeremonyErr) -> PasskeyError {
    match error {
        AuthCeremonyErr::Timeout => PasskeyError::Expired,
        AuthCeremonyErr::SignatureCounter => PasskeyError::CounterRegressed,
        other => invalid("login", other),
    }
}

/// [`NewPasskey::stored`]: base64url of the format version, the user handle,
/// `webauthn_rp`'s encoded dynamic state (flags, counter, attachment), the
/// credential id's length (2 bytes, little-endian) and the id, and
/// `webauthn_rp`'s encoded static state (public key, extensions).
fn encode_stored(
    credential_id: &[u8],
    user_handle: &[u8],
    static_state: &[u8],
    dynamic_state: DynamicState,
) -> Result<String, PasskeyError> {
    let id_len = u16::try_from(credential_id.len())
        .map_err(|_| PasskeyError::Internal("credential id too long".to_owned()))?;
    let dynamic_state = match dynamic_state.encode() {
        Ok(bytes) => bytes,
        Err(never) => match never {},
    };
    let mut bytes = Vec::with_capacity(
        1 + user_handle.len() + DYNAMIC_STATE_LEN + 2 + credential_id.len() + static_state.len(),
    );
    bytes.push(FORMAT_VERSION);
    bytes.extend_from_slice(user_handle);
    bytes.extend_from_slice(&dynamic_state);
    bytes.extend_from_slice(&id_len.to_le_bytes());
    bytes.extend_from_slice(credential_id);
    bytes.extend_from_slice(static_state);
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A decoded [`NewPasskey::stored`].
struct StoredPasskey {
    /// The user handle.
    user_handle: [u8; USER_HANDLE_LEN],
    /// `webauthn_rp`'s encoded `DynamicState`.
    dynamic_state: [u8; DYNAMIC_STATE_LEN],
    /// The credential id.
    credential_id: Vec<u8>,
    /// `webauthn_rp`'s encoded `StaticState`.
    static_state: Vec<u8>,
}

impl StoredPasskey {
    /// Reads the text [`encode_stored`] wrote.
    fn decode(stored: &str) -> Result<Self, PasskeyError> {
        let damaged = || PasskeyError::State("the stored passkey is damaged".to_owned());
        let bytes = URL_SAFE_NO_PAD.decode(stored).map_err(|_| damaged())?;
        let (version, rest) = bytes.split_first().ok_or_else(damaged)?;
        if *version != FORMAT_VERSION {
            return Err(PasskeyError::State(format!(
                "a stored passkey of format {version}, not {FORMAT_VERSION}"
            )));
        }
        let (user_handle, rest) = rest
            .split_first_chunk::<USER_HANDLE_LEN>()
            .ok_or_else(damaged)?;
        let (dynamic_state, rest) = rest
            .split_first_chunk::<DYNAMIC_STATE_LEN>()
            .ok_or_else(damaged)?;
        let (id_len, rest) = rest.split_first_chunk::<2>().ok_or_else(damaged)?;
        let id_len = usize::from(u16::from_le_bytes(*id_len));
        if rest.len() < id_len {
            return Err(damaged());
        }
        let (credential_id, static_state) = rest.split_at(id_len);
        Ok(Self {
            user_handle: *user_handle,
            dynamic_state: *dynamic_state,
            credential_id: credential_id.to_vec(),
            static_state: static_state.to_vec(),
        })
    }
}
