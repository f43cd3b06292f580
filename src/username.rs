//! Usernames: an optional second login name beside the e-mail address
//! ([`UserManagerBuilder::usernames`](crate::UserManagerBuilder::usernames)).
//!
//! A username is 3 to 32 characters of `a`–`z`, `A`–`Z`, `0`–`9`, `.`, `_`
//! and `-`, compared ASCII-case-insensitively (`Arthur` and `arthur` are one
//! name) and stored as written. The raw input is checked, with no Unicode
//! normalisation first: a Kelvin sign (U+212A) or a fullwidth letter is
//! refused, not folded into the ASCII letter it looks like, so that two
//! names that look alike cannot both exist. Without `@` a username is never
//! shaped like an e-mail address, so the login form's `username` field can
//! take either: with an `@` it is an address, without one a username.

use std::fmt;

/// The fewest characters of a username.
pub const MIN_LEN: usize = 3;
/// The most characters of a username.
pub const MAX_LEN: usize = 32;

/// A username that passed the rules of the [module](self): build one with
/// [`Username::parse`].
///
/// ```
/// use axum_users::username::Username;
/// let name = Username::parse("King.Arthur").unwrap();
/// assert_eq!(name.as_str(), "King.Arthur");
/// assert_eq!(name.folded(), "king.arthur");
/// assert!(Username::parse("arthur@camelot.bt").is_err());
/// assert!(Username::parse("\u{212A}ing").is_err()); // a Kelvin sign, not a K
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

/// Why a username was refused: the `reason` of 400 `INVALID_USERNAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUsername(&'static str);

impl InvalidUsername {
    /// The reason, in English, for the client.
    pub fn reason(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for InvalidUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidUsername {}

impl Username {
    /// Checks `input` as it is (no trimming, no normalisation).
    pub fn parse(input: &str) -> Result<Self, InvalidUsername> {
        if input.contains('@') {
            return Err(InvalidUsername(
                "A username cannot contain '@' (it would look like an e-mail address).",
            ));
        }
        if !input
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(InvalidUsername(
                "A username may only contain the letters a-z, digits, '.', '_' and '-'.",
            ));
        }
        // ASCII only from here: bytes are characters.
        if input.len() < MIN_LEN {
            return Err(InvalidUsername(
                "A username should be at least 3 characters.",
            ));
        }
        if input.len() > MAX_LEN {
            return Err(InvalidUsername(
                "A username should be at most 32 characters.",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name with `A`–`Z` folded to `a`–`z`: what names are compared by.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The name as written, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `username` as a request body sent it, before the manager looks at it.
///
/// The key is read whatever its JSON type, so that an application without
/// usernames ignores it as it ignores any unknown key; with usernames on,
/// the manager checks a string, takes `null` as no username (no change, for
/// an update), and answers 422 for any other type.
///
/// ```
/// use axum_users::username::UsernameInput;
/// let input: UsernameInput = serde_json::from_str("\"arthur\"").unwrap();
/// assert_eq!(input, UsernameInput::from("arthur"));
/// let input: UsernameInput = serde_json::from_str("5").unwrap();
/// assert_eq!(input, UsernameInput::NotAString);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsernameInput {
    /// The key was absent.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A string, as sent.
    Text(String),
    /// A number, a boolean, an array or an object.
    NotAString,
}

impl From<&str> for UsernameInput {
    fn from(name: &str) -> Self {
        UsernameInput::Text(name.to_owned())
    }
}

impl From<Option<String>> for UsernameInput {
    fn from(name: Option<String>) -> Self {
        name.map_or(UsernameInput::Absent, UsernameInput::Text)
    }
}

impl<'de> serde::Deserialize<'de> for UsernameInput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match <serde_json::Value as serde::Deserialize>::deserialize(deserializer)? {
                serde_json::Value::Null => UsernameInput::Null,
                serde_json::Value::String(name) => UsernameInput::Text(name),
                _ => UsernameInput::NotAString,
            },
        )
    }
}

/// Whether the login form's `username` field holds a username rather than
/// an e-mail address (it has no `@`).
pub(crate) fn is_username_login(input: &str) -> bool {
    !input.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_hold_on_the_raw_input() {
        for good in ["abc", "King.Arthur", "a_b-c.9", &"x".repeat(32)] {
            assert!(Username::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "ab",
            &"x".repeat(33),
            &"x".repeat(200),
            "a b",
            " abc",
            "abc ",
            "a@b.c",
            "arthur@camelot.bt",
            "\u{212A}ing", // Kelvin sign
            "\u{FF41}bc",  // fullwidth a
            "caf\u{e9}",   // é
            "abc\u{0}",    // NUL
            "abc\u{200B}", // zero-width space
            "\u{0430}bc",  // Cyrillic a
            "a/b",
            "a+b",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_compare_by_their_ascii_folded_form() {
        let a = Username::parse("Arthur").unwrap();
        let b = Username::parse("aRTHUR").unwrap();
        assert_eq!(a.folded(), b.folded());
        assert_eq!(a.as_str(), "Arthur");
    }
}
