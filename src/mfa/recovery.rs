//! Recovery codes: the way into an account whose second factor is lost. A user
//! is shown [`RecoveryCodes::COUNT`] (10) codes once, such as `7gk2m-x9qra`;
//! the database keeps only their keyed digests, each deleted when its code is
//! used, and the whole set is replaced when the user generates new ones.
//!
//! A code is 10 characters of Crockford's base32 (lowercase digits and letters
//! without `i`, `l`, `o`, `u`): 50 random bits. Its stored form is an
//! HMAC-SHA-256 under a key derived (HKDF-SHA-256) from the application's
//! secret, so what a database dump yields is nothing usable without the
//! application's secret: not the codes, and no means of searching for them
//! offline.

use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::secret_box::derive_key;
use crate::error::{Error, Result};
use crate::tokens::{hex, hmac_sha256};

/// The HKDF `info` of the [`RecoveryKey`].
const INFO: &[u8] = b"axum-users recovery codes v1";

/// Crockford's base32 alphabet, lowercase.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The characters of a code, separator excluded.
const CODE_LEN: usize = 10;

/// A code's characters, normalised: each one of [`ALPHABET`].
type Code = [u8; CODE_LEN];

/// The key of the recovery codes' stored digests, derived from the
/// application's secret: it turns a code into what the database keeps
/// ([`digest`](Self::digest)) and finds the digest a code entered at login
/// matches ([`find`](Self::find)). `Debug` shows nothing of it.
#[derive(Clone)]
pub struct RecoveryKey {
    key: [u8; 32],
}

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey([redacted])")
    }
}

impl RecoveryKey {
    /// The key derived from the application's `secret`, which must have at
    /// least [`MIN_SECRET_BYTES`](crate::tokens::MIN_SECRET_BYTES) (32) bytes:
    /// a shorter one is an [`Error::Config`].
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self> {
        Ok(Self {
            key: derive_key(secret.as_ref(), INFO, "recovery-code secret")?,
        })
    }

    /// The stored form of the code a user typed, 64 lowercase hex digits;
    /// `None` when `input` is not a code. The input is normalised first:
    /// case is ignored, so are ASCII white space and hyphens, and the
    /// confusable letters are read as Crockford's base32 reads them (`i` and
    /// `l` as `1`, `o` as `0`); what remains must be exactly 10 characters of
    /// the alphabet.
    pub fn digest(&self, input: &str) -> Option<String> {
        normalise(input).map(|code| self.digest_code(&code))
    }

    /// The index in `stored` of the digest the code a user typed matches
    /// (the caller deletes it: each code works once); `None` when `input` is
    /// not a code or matches none. Every stored digest is compared, in
    /// constant time, whether or not an earlier one matched.
    pub fn find(&self, input: &str, stored: &[String]) -> Option<usize> {
        let digest = self.digest(input)?;
        let mut found = subtle::Choice::from(0);
        let mut index = 0u64;
        for (i, candidate) in stored.iter().enumerate() {
            let equal = digest.as_bytes().ct_eq(candidate.as_bytes());
            // The first match is kept.
            let take = equal & !found;
            index = u64::conditional_select(&index, &(i as u64), take);
            found |= equal;
        }
        if bool::from(found) {
            usize::try_from(index).ok()
        } else {
            None
        }
    }

    fn digest_code(&self, code: &Code) -> String {
        hex(&hmac_sha256(&self.key, code))
    }
}

/// The characters of the code in `input`, normalised as
/// [`RecoveryKey::digest`] says; `None` when it is not a code.
fn normalise(input: &str) -> Option<Code> {
    let mut code = [0u8; CODE_LEN];
    let mut len = 0;
    for byte in input.bytes() {
        let c = match byte.to_ascii_lowercase() {
            b'-' => continue,
            c if c.is_ascii_whitespace() => continue,
            b'i' | b'l' => b'1',
            b'o' => b'0',
            c if ALPHABET.contains(&c) => c,
            // `u`, any other ASCII character, any byte of a non-ASCII one.
            _ => return None,
        };
        *code.get_mut(len)? = c;
        len += 1;
    }
    (len == CODE_LEN).then_some(code)
}

/// Generates sets of recovery codes.
#[derive(Debug)]
pub struct RecoveryCodes(());

impl RecoveryCodes {
    /// How many codes a set has.
    pub const COUNT: usize = 10;

    /// A new set of [`COUNT`](Self::COUNT) distinct random codes: the codes
    /// to show the user once, as `xxxxx-xxxxx`, and, in the same order, their
    /// stored forms under `key` (what [`RecoveryKey::find`] compares a typed
    /// code with). A new set replaces the old one entirely.
    pub fn generate(key: &RecoveryKey) -> Result<(Vec<String>, Vec<String>)> {
        let mut codes: Vec<Code> = Vec::with_capacity(Self::COUNT);
        while codes.len() < Self::COUNT {
            let code = random_code()?;
            // Two equal codes out of 2^50 are unlikely, yet a set has none.
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        let stored = codes.iter().map(|code| key.digest_code(code)).collect();
        let shown = codes.iter().map(display).collect();
        Ok((shown, stored))
    }
}

/// A random code: each character from 5 random bits (no bias: 256 is a
/// multiple of 32).
fn random_code() -> Result<Code> {
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal("the operating system's random source", e.to_string()))?;
    // `byte & 0x1f` is below 32, the alphabet's length: the index is in bounds.
    Ok(bytes.map(|byte| ALPHABET[usize::from(byte & 0x1f)]))
}

/// A code as shown: `xxxxx-xxxxx`.
fn display(code: &Code) -> String {
    let mut shown = String::with_capacity(CODE_LEN + 1);
    for (i, &c) in code.iter().enumerate() {
        if i == CODE_LEN / 2 {
            shown.push('-');
        }
        shown.push(char::from(c));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::MIN_SECRET_BYTES;

    const SECRET: &str = "an application secret of 32 bytes or more";

    fn key() -> RecoveryKey {
        RecoveryKey::new(SECRET).unwrap()
    }

    fn is_code(shown: &str) -> bool {
        let bytes = shown.as_bytes();
        bytes.len() == 11
            && bytes[5] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, c)| i == 5 || ALPHABET.contains(c))
    }

    #[test]
    fn a_set_has_ten_distinct_codes_of_the_right_shape() {
        let key = key();
        let (shown, stored) = RecoveryCodes::generate(&key).unwrap();
        assert_eq!(shown.len(), 10);
        assert_eq!(stored.len(), 10);
        for (code, digest) in shown.iter().zip(&stored) {
            assert!(is_code(code), "{code}");
            assert_eq!(digest.len(), 64);
            assert!(
                digest
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert_eq!(key.digest(code).as_ref(), Some(digest));
        }
        let mut distinct = shown.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
        let mut distinct = stored.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
        // Another set shares no code with this one.
        let (again, _) = RecoveryCodes::generate(&key).unwrap();
        assert!(again.iter().all(|code| !shown.contains(code)));
    }

    #[test]
    fn every_character_of_the_alphabet_is_drawn() {
        let mut seen = [false; 32];
        for _ in 0..40 {
            for code in RecoveryCodes::generate(&key()).unwrap().0 {
                for c in code.bytes().filter(|&c| c != b'-') {
                    let at = ALPHABET.iter().position(|&a| a == c).unwrap();
                    seen[at] = true;
                }
            }
        }
        // 4,000 draws: a character missing has a probability of about 1e-54.
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn a_code_matches_however_it_is_typed() {
        let key = key();
        let (shown, stored) = RecoveryCodes::generate(&key).unwrap();
        for (i, code) in shown.iter().enumerate() {
            let bare = code.replace('-', "");
            let spaced = format!(" {} {} ", &bare[..5], &bare[5..]);
            let confused = code.replace('1', "l").replace('0', "O");
            for typed in [
                code.clone(),
                code.to_uppercase(),
                bare.clone(),
                bare.to_uppercase(),
                spaced,
                format!("{code}\n"),
                format!("{}-{}", &bare[..3], &bare[3..]),
                confused,
            ] {
                assert_eq!(key.find(&typed, &stored), Some(i), "{typed:?}");
            }
        }
    }

    #[test]
    fn confusable_letters_read_as_digits() {
        let key = key();
        let digest = key.digest("10abc-def01").unwrap();
        for typed in [
            "i0abc-def0l",
            "LOABC-DEFOI",
            "loabcdefoi",
            "I O A B C D E F o 1",
        ] {
            assert_eq!(key.digest(typed).as_ref(), Some(&digest), "{typed}");
        }
        // `u` is not in the alphabet and maps to nothing.
        assert_eq!(key.digest("u0abc-def01"), None);
    }

    #[test]
    fn a_stored_digest_keeps_matching() {
        // Computed once with `SECRET`: the key derivation and the digest must
        // not change under stored data.
        assert_eq!(
            key().digest("7gk2m-x9qra").as_deref(),
            Some("2802a582529ea23d5e360b764e91989bfbf446343e61293e5ddfefc4a489a026")
        );
    }

    #[test]
    fn each_code_is_found_once_removed() {
        let key = key();
        let (shown, mut stored) = RecoveryCodes::generate(&key).unwrap();
        let used = key.find(&shown[3], &stored).unwrap();
        assert_eq!(used, 3);
        stored.remove(used);
        assert_eq!(key.find(&shown[3], &stored), None);
        assert_eq!(key.find(&shown[4], &stored), Some(3));
        assert_eq!(key.find(&shown[0], &[]), None);
        // A duplicated digest: the first is found.
        let doubled = vec![stored[0].clone(), stored[1].clone(), stored[1].clone()];
        assert_eq!(key.find(&shown[1], &doubled), Some(1));
    }

    #[test]
    fn another_key_or_another_code_does_not_match() {
        let key = key();
        let (shown, stored) = RecoveryCodes::generate(&key).unwrap();
        let other = RecoveryKey::new("another application secret, 32 bytes+").unwrap();
        for code in &shown {
            assert_eq!(other.find(code, &stored), None);
            assert_ne!(other.digest(code), key.digest(code));
        }
        let code = shown[0].replace('-', "");
        for at in 0..code.len() {
            for &c in ALPHABET.iter().filter(|&&c| c != code.as_bytes()[at]) {
                let mut altered = code.clone().into_bytes();
                altered[at] = c;
                let altered = String::from_utf8(altered).unwrap();
                assert_eq!(key.find(&altered, &stored[..1]), None, "{altered}");
            }
        }
    }

    #[test]
    fn garbage_is_not_a_code() {
        let key = key();
        let (_, stored) = RecoveryCodes::generate(&key).unwrap();
        let long = "a".repeat(10_000);
        let hyphens = "-".repeat(10_000);
        let mixed = "é".repeat(5_000);
        for garbage in [
            "",
            " ",
            "-",
            "abcde-fghj",
            "abcdefghj",
            "abcde-fghjkm",
            "abcdefghjkm",
            "abcde_fghjk",
            "abcde.fghjk",
            "abcde-fghjé",
            "ébcde-fghjk",
            "abcde-fghj\u{0301}",
            "０１２３４５６７８９",
            "abcde-fghju",
            "abcde\0fghjk",
            &long,
            &hyphens,
            &mixed,
        ] {
            assert_eq!(key.digest(garbage), None, "{garbage:.40}");
            assert_eq!(key.find(garbage, &stored), None, "{garbage:.40}");
        }
    }

    #[test]
    fn digests_do_not_carry_the_codes() {
        let key = key();
        let (shown, stored) = RecoveryCodes::generate(&key).unwrap();
        for code in &shown {
            let bare = code.replace('-', "");
            for digest in &stored {
                assert!(!digest.contains(code.as_str()));
                assert!(!digest.contains(&bare));
                assert!(!digest.contains(&crate::tokens::hex(bare.as_bytes())));
            }
        }
    }

    #[test]
    fn a_short_secret_is_refused() {
        let short = "x".repeat(MIN_SECRET_BYTES - 1);
        assert!(matches!(RecoveryKey::new(&short), Err(Error::Config(_))));
        assert!(matches!(RecoveryKey::new(""), Err(Error::Config(_))));
        assert!(RecoveryKey::new("x".repeat(MIN_SECRET_BYTES)).is_ok());
    }

    #[test]
    fn the_recovery_key_differs_from_the_secret_box_key() {
        // The same secret gives unrelated keys to the two uses.
        let recovery = RecoveryKey::new(SECRET).unwrap();
        let sealing = derive_key(SECRET.as_bytes(), b"axum-users mfa secret box v1", "x").unwrap();
        assert_ne!(recovery.key, sealing);
        assert_ne!(&recovery.key[..], &SECRET.as_bytes()[..32]);
    }

    #[test]
    fn debug_shows_no_key() {
        assert_eq!(format!("{:?}", key()), "RecoveryKey([redacted])");
    }
}
