//! E-mail addresses, validated and normalised the way FastAPI Users' `EmailStr` does.

use std::fmt;

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

/// Top-level domains reserved for special use (RFC 6761 and friends); addresses
/// there cannot receive mail, as email-validator (pydantic's `EmailStr`) says.
const SPECIAL_USE_DOMAINS: &[&str] = &["arpa", "invalid", "local", "localhost", "onion", "test"];

/// The longest address accepted (RFC 5321 path limit less the angle brackets).
const MAX_LEN: usize = 254;

/// A syntactically valid e-mail address in its stored form.
///
/// Parsing strips surrounding whitespace, accepts `Name <addr>` as `addr`,
/// normalises to Unicode NFC and lowercases the domain; the local part is kept as
/// given. Internationalised addresses (`jürgen@bücher.example.com`) are accepted
/// and kept in Unicode. Single-label domains (`user@localhost`), special-use
/// domains (`.test`, `.local`, …), quoted local parts and domain literals are
/// rejected.
///
/// ```
/// use axum_users::Email;
/// let email: Email = " Arthur <King.Arthur@Camelot.BT> ".parse().unwrap();
/// assert_eq!(email.as_str(), "King.Arthur@camelot.bt");
/// assert!("user@localhost".parse::<Email>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an acceptable e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("value is not a valid email address: {0}")]
pub struct InvalidEmail(&'static str);

impl Email {
    /// Validates and normalises `input`.
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let mut s = input.trim();
        // `Name <addr>` → `addr`
        if let Some(stripped) = s.strip_suffix('>') {
            let Some(open) = stripped.rfind('<') else {
                return Err(InvalidEmail("unbalanced angle brackets"));
            };
            s = stripped[open + 1..].trim();
        }
        if s.is_empty() {
            return Err(InvalidEmail("empty"));
        }
        if s.len() > MAX_LEN * 4 {
            return Err(InvalidEmail("too long"));
        }
        let normalised: String = s.nfc().collect();
        let Some(at) = normalised.rfind('@') else {
            return Err(InvalidEmail("missing @"));
        };
        let (local, domain) = (&normalised[..at], &normalised[at + 1..]);
        if local.starts_with('"') {
            return Err(InvalidEmail("quoted local parts are not accepted"));
        }
        if domain.starts_with('[') {
            return Err(InvalidEmail("domain literals are not accepted"));
        }
        if local.chars().any(invisible_or_unsafe) {
            return Err(InvalidEmail("invisible or control characters"));
        }
        let mut domain = domain.to_lowercase();
        // An IDN domain sent in its ASCII (punycode) form is stored in Unicode,
        // as email-validator does: one address, one form.
        if domain.split('.').any(|label| label.starts_with("xn--")) {
            let (unicode, result) = idna::domain_to_unicode(&domain);
            if result.is_err() {
                return Err(InvalidEmail("invalid internationalised domain"));
            }
            domain = unicode;
        }
        if domain.contains('_') || domain.chars().any(invisible_or_unsafe) {
            return Err(InvalidEmail("invalid domain"));
        }
        if domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| !tld.is_empty() && tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(InvalidEmail("numeric top-level domain"));
        }
        let address = format!("{local}@{domain}");
        if address.chars().count() > MAX_LEN {
            return Err(InvalidEmail("too long"));
        }
        let options = Options::default()
            .with_required_tld()
            .without_display_text()
            .without_domain_literal();
        if EmailAddress::parse_with_options(&address, options).is_err() {
            return Err(InvalidEmail("invalid syntax"));
        }
        let tld = domain.rsplit('.').next().unwrap_or_default();
        if SPECIAL_USE_DOMAINS.contains(&tld) {
            return Err(InvalidEmail("special-use or reserved domain"));
        }
        if domain
            .split('.')
            .any(|label| label.is_empty() || label.starts_with('-') || label.ends_with('-'))
        {
            return Err(InvalidEmail("invalid domain"));
        }
        Ok(Email(address))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as stored, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Characters that make look-alike addresses or break mail: controls, white space,
/// format characters (zero-width spaces and joiners, bidirectional controls, the
/// soft hyphen, the BOM) and private-use characters, as email-validator refuses.
fn invisible_or_unsafe(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c,
            '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{F0000}'..='\u{10FFFF}')
}

impl std::str::FromStr for Email {
    type Err = InvalidEmail;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn contract_rejections() {
        for bad in [
            "not-an-email",
            "missing-at.example.com",
            "@example.com",
            "user@",
            "two@@example.com",
            "",
            "user@localhost",
            "user@x.test",
            "a@b.local",
            "a@b.invalid",
            "a@in-addr.arpa",
            "a@x.onion",
            "\"quoted\"@example.com",
            "a@[127.0.0.1]",
            "\u{200b}admin@example.com",
            "ad\u{202e}min@example.com",
            "x@1.2.3.4",
            "x@example.123",
            "x@ex_ample.com",
            "a\u{0007}b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn contract_acceptances_keep_their_form() {
        for good in [
            "jürgen-1@example.com",
            "user@bücher.example.com",
            "δοκιμή-1@παράδειγμα.δοκιμή",
            "o'brien+tag@example.com",
            "King.Arthur@camelot.bt",
        ] {
            assert_eq!(Email::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn domain_lowercased_local_part_kept() {
        assert_eq!(
            Email::parse("  Name <Mixed.Case@EXAMPLE.Com>")
                .unwrap()
                .as_str(),
            "Mixed.Case@example.com"
        );
    }

    #[test]
    fn punycode_domains_are_stored_in_unicode() {
        assert_eq!(
            Email::parse("user@xn--bcher-kva.example.com")
                .unwrap()
                .as_str(),
            "user@bücher.example.com"
        );
        assert!(Email::parse("user@xn--.example.com").is_err());
    }

    #[test]
    fn very_long_address_rejected() {
        let long = format!("{}@example.com", "a".repeat(100_000));
        assert!(Email::parse(&long).is_err());
    }
}
