//! Time-based one-time passwords (TOTP, [RFC 6238]), as authenticator apps
//! compute them: HMAC-SHA-1, 6 digits, 30-second steps.
//!
//! A user enrols by scanning [`otpauth_url`] (or typing the
//! [base32 secret](TotpSecret::to_base32)); later logins send the 6 digits the
//! app shows, which [`verify`] checks against the previous, current and next
//! step. [`verify`] answers the step a code belongs to: the caller stores it
//! and passes it back as `last_used_step`, so a code, and every code of an
//! earlier step, is accepted at most once.
//!
//! ```
//! use axum_users::mfa::totp::{self, TotpSecret};
//!
//! let secret = TotpSecret::generate()?;
//! let url = totp::otpauth_url(&secret, "Example", "alice@example.com");
//! assert!(url.starts_with("otpauth://totp/Example:alice%40example.com?secret="));
//!
//! // What the user's app shows at this moment, sent back at login.
//! let now = 1_700_000_000;
//! let code = totp::code_at(&secret, now);
//! let step = totp::verify(&secret, &code, now, None).expect("a fresh code");
//! assert_eq!(step, totp::step_of(now));
//! // The same code again is a replay.
//! assert_eq!(totp::verify(&secret, &code, now, Some(step)), None);
//! # Ok::<(), axum_users::Error>(())
//! ```
//!
//! [RFC 6238]: https://www.rfc-editor.org/rfc/rfc6238

use std::fmt;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};

use crate::error::{Error, Result};

/// The length of a TOTP secret in bytes: 160 bits, the length of an HMAC-SHA-1
/// output, as RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;

/// The number of digits of a code.
pub const DIGITS: usize = 6;

/// The length of a time step in seconds.
pub const PERIOD: u64 = 30;

/// `10^DIGITS`: codes are the truncated HMAC modulo this.
const MODULUS: u32 = 1_000_000;

/// A TOTP shared secret: [`SECRET_LEN`] bytes.
///
/// Its `Debug` output is redacted. Store it sealed ([`as_bytes`](Self::as_bytes)
/// and [`from_bytes`](Self::from_bytes)); show it to the user once, at
/// enrolment, as [`to_base32`](Self::to_base32) or inside an
/// [`otpauth_url`].
#[derive(Clone)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    /// A new secret of [`SECRET_LEN`] random bytes from the operating system.
    ///
    /// ```
    /// use axum_users::mfa::totp::TotpSecret;
    ///
    /// let secret = TotpSecret::generate()?;
    /// assert_eq!(secret.to_base32().len(), 32);
    /// # Ok::<(), axum_users::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An internal error if the operating system's random source fails.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::internal("the operating system's random source", e.to_string()))?;
        Ok(Self(bytes))
    }

    /// The secret made of these bytes (as [`as_bytes`](Self::as_bytes) gave
    /// them), or `None` unless there are exactly [`SECRET_LEN`] of them.
    ///
    /// ```
    /// use axum_users::mfa::totp::TotpSecret;
    ///
    /// let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
    /// assert_eq!(secret.as_bytes(), b"12345678901234567890");
    /// assert!(TotpSecret::from_bytes(b"too short").is_none());
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; SECRET_LEN]>::try_from(bytes).ok().map(Self)
    }

    /// The raw bytes of the secret, to seal them at rest.
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The secret in base32 (RFC 4648 alphabet, uppercase, no padding), as
    /// authenticator apps take it: 32 characters.
    ///
    /// ```
    /// use axum_users::mfa::totp::TotpSecret;
    ///
    /// let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
    /// assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    /// ```
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The secret written in base32, as [`to_base32`](Self::to_base32) writes
    /// it; lowercase letters are accepted, and ASCII spaces and `=` padding are
    /// ignored. `None` if another character appears, if the length is not one
    /// base32 can produce, if unused trailing bits are not zero, or unless it
    /// decodes to exactly [`SECRET_LEN`] bytes.
    ///
    /// ```
    /// use axum_users::mfa::totp::TotpSecret;
    ///
    /// let secret = TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap();
    /// assert_eq!(secret.as_bytes(), b"12345678901234567890");
    /// assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQ-GEZDGNBVGY3TQOJQ").is_none());
    /// ```
    pub fn from_base32(text: &str) -> Option<Self> {
        Self::from_bytes(&base32_decode(text)?)
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// The `otpauth://` URL authenticator apps read (usually from a QR code):
/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
///
/// `issuer` (the application's name) and `account` (the user's e-mail address
/// or name) are percent-encoded, every byte but RFC 3986's unreserved
/// characters: a space is `%20` (never `+`), `@` is `%40` and `:` is `%3A`, so
/// only the separating colon is literal. An empty `issuer` leaves out both its
/// label prefix and its parameter.
///
/// ```
/// use axum_users::mfa::totp::{otpauth_url, TotpSecret};
///
/// let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
/// assert_eq!(
///     otpauth_url(&secret, "Example Co", "alice@example.com"),
///     "otpauth://totp/Example%20Co:alice%40example.com\
///      ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Co\
///      &algorithm=SHA1&digits=6&period=30",
/// );
/// ```
pub fn otpauth_url(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    let account = percent_encode(account);
    let secret = secret.to_base32();
    if issuer.is_empty() {
        format!(
            "otpauth://totp/{account}?secret={secret}\
             &algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
        )
    } else {
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
        )
    }
}

/// The time step of a Unix time: `unix_seconds / 30`.
///
/// ```
/// use axum_users::mfa::totp::step_of;
///
/// assert_eq!(step_of(59), 1);
/// assert_eq!(step_of(60), 2);
/// ```
pub fn step_of(unix_seconds: u64) -> u64 {
    unix_seconds / PERIOD
}

/// The code of `secret` at a Unix time: 6 digits, zero-padded.
///
/// ```
/// use axum_users::mfa::totp::{code_at, TotpSecret};
///
/// // RFC 6238, Appendix B (the last 6 of its 8 digits).
/// let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
/// assert_eq!(code_at(&secret, 59), "287082");
/// assert_eq!(code_at(&secret, 1_111_111_111), "050471");
/// ```
pub fn code_at(secret: &TotpSecret, unix_seconds: u64) -> String {
    let digits = code_digits(secret, step_of(unix_seconds));
    // ASCII digits only, so this never replaces anything.
    String::from_utf8_lossy(&digits).into_owned()
}

/// Checks a code the user typed against the codes of the previous, current and
/// next steps around `now_unix`, and answers the step it matched, or `None`.
///
/// `input` may contain ASCII spaces (`"123 456"`); once they are removed it must
/// be exactly 6 ASCII digits. The three codes are always all computed and
/// compared in constant time.
///
/// A matched step is only accepted if it is greater than `last_used_step`:
/// store the step returned and pass it back next time, so that a code, and any
/// code of an earlier step, works at most once.
///
/// ```
/// use axum_users::mfa::totp::{code_at, verify, TotpSecret};
///
/// let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
/// // The code of 30 seconds ago is still accepted…
/// assert_eq!(verify(&secret, "287082", 89, None), Some(1));
/// // …but not twice, nor after a later code.
/// assert_eq!(verify(&secret, "287 082", 89, Some(1)), None);
/// assert_eq!(verify(&secret, "287082", 89, Some(2)), None);
/// // Not 6 digits.
/// assert_eq!(verify(&secret, "28708", 89, None), None);
/// ```
pub fn verify(
    secret: &TotpSecret,
    input: &str,
    now_unix: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let typed = normalise_code(input)?;
    let now = step_of(now_unix);
    // A step is fresh if it is after `last_used_step`; every step is fresh
    // when no code was used yet (step 0 included).
    let (floor, floor_is_none) = match last_used_step {
        Some(step) => (step, Choice::from(0)),
        None => (0, Choice::from(1)),
    };
    let mut matched = 0u64;
    let mut found = Choice::from(0);
    // Earliest first, so that the latest matching step wins.
    for (offset_back, offset_forward) in [(1u64, 0u64), (0, 0), (0, 1)] {
        // Step `now - 1` does not exist at step 0: check step 0 again there,
        // with the outcome masked out, so the work stays the same.
        let (step, exists) = match now.checked_sub(offset_back) {
            Some(step) => (step.saturating_add(offset_forward), Choice::from(1)),
            None => (now, Choice::from(0)),
        };
        let expected = code_digits(secret, step);
        let fresh = step.ct_gt(&floor) | floor_is_none;
        let hit = expected.ct_eq(&typed) & exists & fresh;
        matched.conditional_assign(&step, hit);
        found |= hit;
    }
    bool::from(found).then_some(matched)
}

/// The 6 ASCII digits of `input` once ASCII spaces are removed, or `None` if
/// anything else is left or there are not exactly 6 of them.
fn normalise_code(input: &str) -> Option<[u8; DIGITS]> {
    let mut digits = [0u8; DIGITS];
    let mut len = 0;
    for byte in input.bytes().filter(|&b| b != b' ') {
        if !byte.is_ascii_digit() {
            return None;
        }
        *digits.get_mut(len)? = byte;
        len += 1;
    }
    (len == DIGITS).then_some(digits)
}

/// The code of `secret` at time step `step` (HOTP of RFC 4226 with the step as
/// counter), as 6 ASCII digits.
fn code_digits(secret: &TotpSecret, step: u64) -> [u8; DIGITS] {
    use hmac::{Hmac, Mac};
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(&step.to_be_bytes());
    let hash: [u8; 20] = mac.finalize().into_bytes().into();
    // Dynamic truncation (RFC 4226 §5.3): the low nibble of the last byte,
    // at most 15, picks 4 bytes of the 20.
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let mut value = binary % MODULUS;
    let mut digits = [b'0'; DIGITS];
    for digit in digits.iter_mut().rev() {
        // `value % 10` is below 10, so the cast keeps it whole.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    digits
}

/// The RFC 4648 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `bytes` in base32 (RFC 4648, uppercase, no padding).
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[usize::from((buffer >> bits) & 0x1f)],
            ));
        }
        // Keep only the bits not written yet.
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[usize::from((buffer << (5 - bits)) & 0x1f)],
        ));
    }
    out
}

/// The bytes of base32 `text` (RFC 4648; lowercase accepted, ASCII spaces and
/// `=` ignored), or `None` on another character, a length no encoding gives
/// (1, 3 or 6 characters past a multiple of 8), or non-zero trailing bits.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for byte in text.bytes() {
        let value = match byte {
            b' ' | b'=' => continue,
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a',
            b'2'..=b'7' => byte - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // The low byte of the shifted buffer is the next whole byte.
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Left over: 0 bits (8k characters), 2 (+2), 4 (+4), 1 (+5) or 3 (+7) are
    // what encoding leaves; 5 (+1), 7 (+3) or 6 (+6) mean a character too many.
    if bits >= 5 || buffer != 0 {
        return None;
    }
    Some(out)
}

/// `text` percent-encoded as UTF-8, keeping only RFC 3986's unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`).
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn rfc_6238_sha1_vectors() {
        let secret = rfc_secret();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(&secret, time), code, "at {time}");
            assert_eq!(verify(&secret, code, time, None), Some(step_of(time)));
        }
    }

    #[test]
    fn steps_are_30_seconds() {
        assert_eq!(step_of(0), 0);
        assert_eq!(step_of(29), 0);
        assert_eq!(step_of(30), 1);
        assert_eq!(step_of(1_111_111_109), 37_037_036);
        let secret = rfc_secret();
        assert_eq!(code_at(&secret, 30), code_at(&secret, 59));
    }

    #[test]
    fn rfc_4648_base32_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
            assert_eq!(
                base32_decode(&encoded.to_lowercase()).unwrap(),
                plain.as_bytes()
            );
        }
        // With the padding RFC 4648 writes.
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MY======").unwrap(), b"f");
    }

    #[test]
    fn base32_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..=bytes.len() {
            let encoded = base32_encode(&bytes[..len]);
            assert_eq!(encoded.len(), (len * 8).div_ceil(5));
            assert_eq!(base32_decode(&encoded).unwrap(), &bytes[..len]);
        }
        for _ in 0..20 {
            let secret = TotpSecret::generate().unwrap();
            let again = TotpSecret::from_base32(&secret.to_base32()).unwrap();
            assert_eq!(again.as_bytes(), secret.as_bytes());
        }
    }

    #[test]
    fn base32_refuses_what_no_encoder_writes() {
        // Characters outside the alphabet (0, 1, 8, 9, punctuation, non-ASCII).
        for bad in [
            "MZXW6YT0", "MZXW6YT1", "MZXW6YT8", "MZ-XW", "MZ\tXW", "MZXé",
        ] {
            assert_eq!(base32_decode(bad), None, "{bad:?}");
        }
        // Impossible lengths: 1, 3 and 6 characters past a multiple of 8.
        for bad in ["M", "MZX", "MZXW6Y", "MZXW6YTBM"] {
            assert_eq!(base32_decode(bad), None, "{bad:?}");
        }
        // Non-zero trailing bits ("MZ" would be "f" plus 2 stray bits).
        assert_eq!(base32_decode("MZ"), None);
    }

    #[test]
    fn secret_from_base32_is_lenient_about_case_spaces_and_padding() {
        let secret = rfc_secret();
        let encoded = secret.to_base32();
        assert_eq!(encoded, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let spaced = "gezd gnbv gy3t qojq GEZD GNBV GY3T QOJQ====";
        let decoded = TotpSecret::from_base32(spaced).unwrap();
        assert_eq!(decoded.as_bytes(), secret.as_bytes());
        // Valid base32 of the wrong length is not a secret.
        assert!(TotpSecret::from_base32("MZXW6YTBOI").is_none());
        assert!(TotpSecret::from_base32("").is_none());
        assert!(TotpSecret::from_bytes(&[0; 16]).is_none());
        assert!(TotpSecret::from_bytes(&[0; 21]).is_none());
    }

    #[test]
    fn generated_secrets_are_160_random_bits() {
        let a = TotpSecret::generate().unwrap();
        let b = TotpSecret::generate().unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
        let encoded = a.to_base32();
        // ≥ 128 bits: 32 characters of 5 bits each.
        assert_eq!(encoded.len(), 32);
        assert!(encoded.len() * 5 >= 128);
        assert!(encoded.bytes().all(|b| BASE32_ALPHABET.contains(&b)));
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = rfc_secret();
        let debug = format!("{secret:?} {secret:#?}");
        assert!(debug.contains("redacted"));
        assert!(!debug.contains("1234567890"));
        assert!(!debug.contains(&secret.to_base32()));
        assert!(!debug.contains("49, 50")); // the bytes as a list
    }

    #[test]
    fn one_step_either_way_is_accepted_two_are_not() {
        let secret = rfc_secret();
        let now = 1_111_111_111; // step 37_037_037
        let step = step_of(now);
        for (delta, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let at = now.checked_add_signed(delta * 30).unwrap();
            let code = code_at(&secret, at);
            let expected = accepted.then(|| step.checked_add_signed(delta).unwrap());
            assert_eq!(verify(&secret, &code, now, None), expected, "delta {delta}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_earlier_ones_never_after() {
        let secret = rfc_secret();
        let now = 2_000_000_000;
        let step = step_of(now);
        let code = code_at(&secret, now);
        assert_eq!(verify(&secret, &code, now, Some(step - 1)), Some(step));
        // The same code again, even 30 s later (still within the window).
        assert_eq!(verify(&secret, &code, now, Some(step)), None);
        assert_eq!(verify(&secret, &code, now + 30, Some(step)), None);
        // The previous step's code, after this one was used.
        let previous = code_at(&secret, now - 30);
        assert_eq!(verify(&secret, &previous, now, Some(step)), None);
        // The next step's code, after this one: still fresh.
        let next = code_at(&secret, now + 30);
        assert_eq!(verify(&secret, &next, now, Some(step)), Some(step + 1));
        assert_eq!(verify(&secret, &next, now, Some(step + 1)), None);
    }

    #[test]
    fn works_at_the_first_step() {
        let secret = rfc_secret();
        let code = code_at(&secret, 0);
        assert_eq!(verify(&secret, &code, 0, None), Some(0));
        assert_eq!(verify(&secret, &code, 0, Some(0)), None);
        let next = code_at(&secret, 30);
        assert_eq!(verify(&secret, &next, 0, None), Some(1));
        assert_eq!(verify(&secret, &next, 0, Some(0)), Some(1));
    }

    #[test]
    fn survives_the_end_of_time() {
        let secret = rfc_secret();
        let code = code_at(&secret, u64::MAX);
        assert_eq!(verify(&secret, &code, u64::MAX, Some(u64::MAX)), None);
        assert_eq!(
            verify(&secret, &code, u64::MAX, None),
            Some(step_of(u64::MAX))
        );
    }

    #[test]
    fn spaces_are_ignored_anything_else_is_refused() {
        let secret = rfc_secret();
        let now = 59;
        assert_eq!(verify(&secret, "287082", now, None), Some(1));
        assert_eq!(verify(&secret, "287 082", now, None), Some(1));
        assert_eq!(verify(&secret, " 2 8 7 0 8 2 ", now, None), Some(1));
        for bad in [
            "",
            "      ",
            "28708",
            "2870820",
            "0287082",
            "28708a",
            "abcdef",
            "287-082",
            "287\t082",
            "287082\n",
            "+287082",
            "２８７０８２",
            "１２３４５６",
            "287082287082",
        ] {
            assert_eq!(verify(&secret, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn another_secrets_code_is_refused() {
        let mine = rfc_secret();
        let theirs = TotpSecret::from_bytes(b"09876543210987654321").unwrap();
        let now = 1_234_567_890;
        let their_code = code_at(&theirs, now);
        assert_ne!(their_code, code_at(&mine, now));
        assert_eq!(verify(&theirs, &their_code, now, None), Some(step_of(now)));
        assert_eq!(verify(&mine, &their_code, now, None), None);
    }

    #[test]
    fn codes_are_zero_padded() {
        // RFC 6238 at 1234567890: 89005924, whose last 6 digits start with zeros.
        assert_eq!(code_at(&rfc_secret(), 1_234_567_890), "005924");
        assert_eq!(
            verify(&rfc_secret(), "005924", 1_234_567_890, None),
            Some(step_of(1_234_567_890))
        );
        assert_eq!(verify(&rfc_secret(), "5924", 1_234_567_890, None), None);
    }

    #[test]
    fn otpauth_url_shape() {
        let secret = rfc_secret();
        let url = otpauth_url(&secret, "ACME: Co", "alice smith@example.com");
        assert_eq!(
            url,
            "otpauth://totp/ACME%3A%20Co:alice%20smith%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%3A%20Co\
             &algorithm=SHA1&digits=6&period=30"
        );
        // One literal colon (the label's separator) past the scheme, no '+'.
        let rest = url.strip_prefix("otpauth://totp/").unwrap();
        assert_eq!(rest.matches(':').count(), 1);
        assert!(!url.contains('+') && !url.contains(' ') && !url.contains('@'));
        // Unreserved characters stay, UTF-8 is encoded byte by byte.
        assert_eq!(percent_encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(percent_encode("é+/?&#"), "%C3%A9%2B%2F%3F%26%23");
        // Without an issuer.
        assert_eq!(
            otpauth_url(&secret, "", "bob"),
            "otpauth://totp/bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &algorithm=SHA1&digits=6&period=30"
        );
    }
}
