//! [`PasswordPolicy`]: what a new password must be, configurable and
//! callable from an application's own `validate_password` hook.

use crate::error::PasswordRejection;

/// The default password policy, configurable, callable from an application's own
/// [`UserHooks::validate_password`](crate::UserHooks::validate_password) and
/// extendable there with rules of its own.
///
/// By default a password must have at least 8 characters (Unicode code points), at
/// most 1024 bytes, must not contain the user's e-mail address (case-insensitively)
/// and must not be one of the most common passwords (`12345678`, `password`, …,
/// compared case-insensitively).
///
/// ```
/// use axum_users::password::PasswordPolicy;
/// let policy = PasswordPolicy::default();
/// assert!(policy.check("correct horse battery", "king@camelot.bt").is_ok());
/// let rejection = policy.check("short", "king@camelot.bt").unwrap_err();
/// assert_eq!(rejection.reason(), "Password should be at least 8 characters");
/// assert!(PasswordPolicy::default().min_chars(12).check("eleven-char", "a@b.cd").is_err());
/// assert!(policy.check("12345678", "king@camelot.bt").is_err());
/// assert!(policy.check(&"x".repeat(1025), "king@camelot.bt").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_bytes: usize,
    forbid_email: bool,
    forbid_common: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_bytes: 1024,
            forbid_email: true,
            forbid_common: true,
        }
    }
}

/// The 10,000 most common passwords, lowercased (from Django's
/// `CommonPasswordValidator` list, BSD-3-Clause; origin and licence in
/// `data/README.md`).
const COMMON_PASSWORDS_TXT: &str = include_str!("../../data/common-passwords.txt");

/// Whether `password` is in the embedded list (compared lowercased and trimmed,
/// as Django does). The set is built once, at first use.
pub fn is_common_password(password: &str) -> bool {
    static SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
        std::sync::LazyLock::new(|| COMMON_PASSWORDS_TXT.lines().collect());
    SET.contains(password.trim().to_lowercase().as_str())
}

impl PasswordPolicy {
    /// The minimum length in Unicode characters (default 8).
    pub fn min_chars(mut self, n: usize) -> Self {
        self.min_chars = n;
        self
    }

    /// Whether a password containing the user's e-mail is rejected (default true).
    pub fn forbid_email(mut self, forbid: bool) -> Self {
        self.forbid_email = forbid;
        self
    }

    /// The maximum length in bytes of UTF-8 (default 1024).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// Whether one of the 10,000 most common passwords (see [`is_common_password`])
    /// is rejected (default true).
    pub fn forbid_common(mut self, forbid: bool) -> Self {
        self.forbid_common = forbid;
        self
    }

    /// Checks a password for a user with this e-mail address (for an update, the
    /// address stored before it).
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordRejection> {
        if password.len() > self.max_bytes {
            return Err(PasswordRejection::new(format!(
                "Password should be at most {} bytes",
                self.max_bytes
            )));
        }
        if password.chars().count() < self.min_chars {
            return Err(PasswordRejection::new(format!(
                "Password should be at least {} characters",
                self.min_chars
            )));
        }
        if self.forbid_email && !email.is_empty() && contains_caseless(password, email) {
            return Err(PasswordRejection::new("Password should not contain e-mail"));
        }
        if self.forbid_common && is_common_password(password) {
            return Err(PasswordRejection::new("Password is too common"));
        }
        Ok(())
    }
}

fn contains_caseless(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_code_points() {
        let p = PasswordPolicy::default();
        assert!(p.check(&"ä".repeat(7), "a@b.cd").is_err());
        assert!(p.check(&"ä".repeat(8), "a@b.cd").is_ok());
    }

    #[test]
    fn policy_rejects_email_caselessly() {
        let p = PasswordPolicy::default();
        let r = p
            .check("xxKing@Camelot.btxx", "king@camelot.bt")
            .unwrap_err();
        assert_eq!(r.reason(), "Password should not contain e-mail");
    }
}
