//! Small secrets sealed for storage: a user's TOTP secret is kept in the
//! database as `v1.<base64url>`, encrypted and authenticated with
//! XChaCha20-Poly1305 under a key derived (HKDF-SHA-256) from the
//! application's secret.
//!
//! What a database dump yields: nothing of the sealed secrets without the
//! application's secret, which is not in the database. A sealed value is also
//! bound to its row's context (the user id), so copying one user's sealed
//! secret into another user's row does not make it open there.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};
use crate::tokens::MIN_SECRET_BYTES;

/// The HKDF salt of the keys the [`mfa`](crate::mfa) module derives from the
/// application's secret: fixed and specific to this crate, so that the keys
/// differ from those any other software derives from the same secret.
const HKDF_SALT: &[u8] = b"axum-users mfa hkdf salt";

/// The HKDF `info` of the [`SecretBox`] key.
const INFO: &[u8] = b"axum-users mfa secret box v1";

/// The prefix of a sealed value: the format's version.
const PREFIX: &str = "v1.";

/// The length of an XChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 24;

/// The length of a Poly1305 tag.
const TAG_LEN: usize = 16;

/// A 32-byte key derived from the application's `secret` with HKDF-SHA-256
/// (the crate's salt, `info`); `what` names the secret in the error refusing
/// one shorter than [`MIN_SECRET_BYTES`].
pub(crate) fn derive_key(secret: &[u8], info: &[u8], what: &str) -> Result<[u8; 32]> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(Error::Config(format!(
            "the {what} has {} bytes; at least {MIN_SECRET_BYTES} are required (for example \
             48 random bytes in base64: `openssl rand -base64 48`)",
            secret.len()
        )));
    }
    let mut key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(HKDF_SALT), secret)
        .expand(info, &mut key)
        // Only an output longer than 255 hashes fails; 32 bytes is one.
        .map_err(|e| Error::internal("deriving an MFA key", e.to_string()))?;
    Ok(key)
}

/// Seals and opens small secrets (a user's TOTP secret) for storage, under a
/// key derived from the application's secret: a database dump alone yields
/// none of them. `Debug` shows nothing of the key.
///
/// ```
/// use axum_users::mfa::secret_box::SecretBox;
///
/// let secret_box = SecretBox::new("an application secret of 32 bytes or more")?;
/// let sealed = secret_box.seal(b"totp secret", b"user 42")?;
/// assert!(sealed.starts_with("v1."));
/// assert_eq!(secret_box.open(&sealed, b"user 42").as_deref(), Some(&b"totp secret"[..]));
/// assert_eq!(secret_box.open(&sealed, b"user 43"), None);
/// # Ok::<(), axum_users::Error>(())
/// ```
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// A box whose key is derived from the application's `secret`, which must
    /// have at least [`MIN_SECRET_BYTES`] (32) bytes: a shorter one is an
    /// [`Error::Config`]. The same secret opens what an earlier process sealed.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self> {
        let key = derive_key(secret.as_ref(), INFO, "MFA secret-box secret")?;
        Ok(Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        })
    }

    /// Encrypts `plaintext` under a fresh random nonce, binding `context` (the
    /// user's id) as associated data, and returns the text to store:
    /// `v1.<base64url of nonce || ciphertext || tag>`. Sealing the same
    /// plaintext twice gives two different texts.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::internal("the operating system's random source", e.to_string()))?;
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            // Only a plaintext of about 256 GiB or more fails.
            .map_err(|e| Error::internal("sealing an MFA secret", e.to_string()))?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The plaintext [`seal`](Self::seal) sealed with this same `context`;
    /// `None` for anything else: another prefix, bad base64, a value too short,
    /// sealed under another key or another context, or altered in any way.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let encoded = sealed.strip_prefix(PREFIX)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context,
        };
        self.cipher.decrypt(XNonce::from_slice(nonce), payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    const SECRET: &str = "an application secret of 32 bytes or more";
    /// A 20-byte TOTP secret (RFC 6238's SHA-1 test key).
    const TOTP: &[u8] = b"12345678901234567890";

    fn secret_box() -> SecretBox {
        SecretBox::new(SECRET).unwrap()
    }

    #[test]
    fn round_trip() {
        let secret_box = secret_box();
        for plaintext in [TOTP, b"", &[0u8; 64], &[0xffu8; 1]] {
            let sealed = secret_box.seal(plaintext, b"user 1").unwrap();
            assert!(sealed.starts_with("v1."), "{sealed}");
            assert_eq!(
                secret_box.open(&sealed, b"user 1").as_deref(),
                Some(plaintext)
            );
        }
        // Another box from the same secret (another process) opens it.
        let sealed = secret_box.seal(TOTP, b"user 1").unwrap();
        assert_eq!(
            SecretBox::new(SECRET)
                .unwrap()
                .open(&sealed, b"user 1")
                .as_deref(),
            Some(TOTP)
        );
    }

    #[test]
    fn a_value_sealed_by_this_version_keeps_opening() {
        // Sealed once with `SECRET` and context `user 1`: the key derivation
        // and the format must not change under stored data.
        let sealed =
            "v1.6YI1DlP4v7ihuChVizlGTkE_CD5wrCz8uhEqeJBduxh5PwxtM9JtdIh_aS2OyDj_0UeTM3cIfPwErow2";
        assert_eq!(secret_box().open(sealed, b"user 1").as_deref(), Some(TOTP));
    }

    #[test]
    fn wrong_context_or_key_does_not_open() {
        let sealed = secret_box().seal(TOTP, b"user 1").unwrap();
        assert_eq!(secret_box().open(&sealed, b"user 2"), None);
        assert_eq!(secret_box().open(&sealed, b""), None);
        let other = SecretBox::new("another application secret, 32 bytes+").unwrap();
        assert_eq!(other.open(&sealed, b"user 1"), None);
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let secret_box = secret_box();
        let sealed = secret_box.seal(TOTP, b"user 1").unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(&sealed[PREFIX.len()..]).unwrap();
        assert_eq!(bytes.len(), NONCE_LEN + TOTP.len() + TAG_LEN);
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut altered = bytes.clone();
                altered[i] ^= flip;
                let altered = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&altered));
                assert_eq!(secret_box.open(&altered, b"user 1"), None, "byte {i}");
            }
        }
        // Each character of the text, replaced by another of the alphabet.
        for i in 0..sealed.len() {
            let mut altered = sealed.clone().into_bytes();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            assert_eq!(secret_box.open(&altered, b"user 1"), None, "char {i}");
        }
    }

    #[test]
    fn truncated_or_extended_values_are_refused() {
        let secret_box = secret_box();
        let sealed = secret_box.seal(TOTP, b"user 1").unwrap();
        for len in 0..sealed.len() {
            assert_eq!(secret_box.open(&sealed[..len], b"user 1"), None, "{len}");
        }
        let bytes = URL_SAFE_NO_PAD.decode(&sealed[PREFIX.len()..]).unwrap();
        for len in 0..bytes.len() {
            let truncated = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes[..len]));
            assert_eq!(secret_box.open(&truncated, b"user 1"), None, "{len}");
        }
        let mut extended = bytes.clone();
        extended.push(0);
        let extended = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&extended));
        assert_eq!(secret_box.open(&extended, b"user 1"), None);
    }

    #[test]
    fn garbage_is_refused() {
        let secret_box = secret_box();
        let sealed = secret_box.seal(TOTP, b"user 1").unwrap();
        let encoded = &sealed[PREFIX.len()..];
        let long = "A".repeat(10_000);
        let padded = format!(
            "{PREFIX}{}",
            STANDARD.encode(URL_SAFE_NO_PAD.decode(encoded).unwrap())
        );
        for garbage in [
            "",
            "v1",
            "v1.",
            "v1.=",
            "v1.!!!!",
            "v1.é",
            "v2.AAAA",
            encoded,
            &format!("v2.{encoded}"),
            &format!("V1.{encoded}"),
            &format!(" {sealed}"),
            &format!("{sealed} "),
            &format!("{sealed}="),
            &padded,
            &format!("v1.{long}"),
            &long,
        ] {
            assert_eq!(secret_box.open(garbage, b"user 1"), None, "{garbage:.40}");
        }
    }

    #[test]
    fn each_seal_uses_a_new_nonce() {
        let secret_box = secret_box();
        let a = secret_box.seal(TOTP, b"user 1").unwrap();
        let b = secret_box.seal(TOTP, b"user 1").unwrap();
        assert_ne!(a, b);
        let a = URL_SAFE_NO_PAD.decode(&a[PREFIX.len()..]).unwrap();
        let b = URL_SAFE_NO_PAD.decode(&b[PREFIX.len()..]).unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }

    #[test]
    fn a_short_secret_is_refused() {
        let short = "x".repeat(MIN_SECRET_BYTES - 1);
        assert_eq!(short.len(), 31);
        assert!(matches!(SecretBox::new(&short), Err(Error::Config(_))));
        assert!(matches!(SecretBox::new(""), Err(Error::Config(_))));
        assert!(SecretBox::new("x".repeat(MIN_SECRET_BYTES)).is_ok());
    }

    #[test]
    fn the_sealed_text_does_not_carry_the_plaintext() {
        let secret_box = secret_box();
        let sealed = secret_box.seal(TOTP, b"user 1").unwrap();
        let plaintext = std::str::from_utf8(TOTP).unwrap();
        for form in [
            plaintext.to_owned(),
            crate::tokens::hex(TOTP),
            URL_SAFE_NO_PAD.encode(TOTP),
            STANDARD.encode(TOTP),
        ] {
            assert!(!sealed.contains(&form), "{form}");
        }
        let bytes = URL_SAFE_NO_PAD.decode(&sealed[PREFIX.len()..]).unwrap();
        assert!(!bytes.windows(TOTP.len()).any(|w| w == TOTP));
    }

    #[test]
    fn debug_shows_no_key() {
        let debug = format!("{:?}", secret_box());
        assert_eq!(debug, "SecretBox([redacted])");
    }
}
