//! What ties a token to the state of its user's credentials, so that a token
//! issued before a password change, a reset or a deactivation can never be used
//! after it, whatever the interleaving of the requests.
//!
//! A strategy reads a token into a [`TokenOwner`]: the user's id and a
//! [`Binding`]. The [`Authenticator`](super::Authenticator) loads the user and
//! accepts the token only if the binding still holds for the user as stored.
//! Because the check happens when the token is *used*, a login that read the
//! old password hash and stores its session after "log out everywhere" ran
//! stores a dead session.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::user::UserModel;

/// Who a token stands for, as its strategy read it: the user's id and what
/// binds the token to the user's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenOwner<Id> {
    /// The user's id.
    pub user_id: Id,
    /// What must still hold for the user when the token is used.
    pub binding: Binding,
}

impl<Id> TokenOwner<Id> {
    /// A token of `user_id`, bound by `binding`.
    pub fn new(user_id: Id, binding: Binding) -> Self {
        Self { user_id, binding }
    }
}

/// What must still hold for a token's user when the token is used.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Binding {
    /// Nothing: the token is valid until it expires. JWTs without a `gen`
    /// claim (minted by FastAPI Users, or by anyone else holding the secret)
    /// are read so, as the HTTP contract requires.
    Unbound,
    /// The user's token generation must still be this one
    /// ([`UserData::token_generation`](crate::UserData::token_generation)):
    /// JWTs. A password reset, a superuser's password change and a
    /// deactivation raise it; a user changing their own password does not, so
    /// the token of the request that did it keeps working.
    Generation(u32),
    /// The user's token generation *and* password must still be those the
    /// session was opened under: database and Redis sessions. Any password
    /// change ends them (unless the application turned
    /// [`LogoutEverywhere::on_password_change`](crate::LogoutEverywhere)
    /// off).
    Credentials {
        /// The token generation.
        generation: u32,
        /// The SHA-256 (lowercase hex) of the password hash.
        password: String,
    },
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Binding::Unbound => f.write_str("Unbound"),
            Binding::Generation(generation) => write!(f, "Generation({generation})"),
            // Not secret, but of no use in a log either.
            Binding::Credentials { generation, .. } => f
                .debug_struct("Credentials")
                .field("generation", generation)
                .finish_non_exhaustive(),
        }
    }
}

impl Binding {
    /// The binding of a session opened now for `user`.
    pub fn credentials_of<U: UserModel>(user: &U) -> Self {
        let data = user.data();
        Binding::Credentials {
            generation: data.token_generation,
            password: password_fingerprint(data.hashed_password.as_str()),
        }
    }

    /// The fingerprint of `user`'s credentials that sessions store:
    /// `"<token generation>:<SHA-256 of the password hash, lowercase hex>"`.
    ///
    /// It changes with every password change and every raise of the token
    /// generation. It is not keyed: the hash it is computed from holds a random
    /// salt, so it tells nothing about the password, and a migration can
    /// compute it in SQL (`'0:' || encode(sha256(convert_to(hashed_password,
    /// 'UTF8')), 'hex')` on PostgreSQL). [`Binding::parse`] reads it back.
    ///
    /// ```
    /// use axum_users::auth::Binding;
    /// use axum_users::{NoFields, User, UserData, user::PasswordHash};
    /// let user = User {
    ///     id: uuid::Uuid::nil(),
    ///     data: UserData::new("a@example.com", PasswordHash::new("$argon2id$…"), NoFields {}),
    /// };
    /// let stored = Binding::fingerprint(&user);
    /// assert!(stored.starts_with("0:") && stored.len() == 66);
    /// let binding = Binding::parse(&stored).unwrap();
    /// assert!(binding.holds_for(&user));
    /// ```
    pub fn fingerprint<U: UserModel>(user: &U) -> String {
        let data = user.data();
        credentials_fingerprint(data.token_generation, data.hashed_password.as_str())
    }

    /// Reads a [`fingerprint`](Self::fingerprint) back; `None` for anything
    /// else (an empty or malformed value binds nothing, and must be refused).
    pub fn parse(fingerprint: &str) -> Option<Self> {
        let (generation, password) = fingerprint.split_once(':')?;
        if password.len() != 64 || !password.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // Digits only: `u32::from_str` would also take a leading `+`.
        if generation.is_empty() || !generation.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Binding::Credentials {
            generation: generation.parse().ok()?,
            password: password.to_ascii_lowercase(),
        })
    }

    /// Whether a token with this binding is still valid for `user` as stored.
    pub fn holds_for<U: UserModel>(&self, user: &U) -> bool {
        self.check(user, true)
    }

    /// Like [`holds_for`](Self::holds_for), but a session survives a new
    /// password (the token generation must still match): for applications
    /// that turned [`LogoutEverywhere::on_password_change`](crate::LogoutEverywhere)
    /// off.
    pub fn holds_for_any_password<U: UserModel>(&self, user: &U) -> bool {
        self.check(user, false)
    }

    fn check<U: UserModel>(&self, user: &U, with_password: bool) -> bool {
        let data = user.data();
        match self {
            Binding::Unbound => true,
            Binding::Generation(generation) => *generation == data.token_generation,
            Binding::Credentials {
                generation,
                password,
            } => {
                *generation == data.token_generation
                    && (!with_password
                        || bool::from(
                            password_fingerprint(data.hashed_password.as_str())
                                .as_bytes()
                                .ct_eq(password.as_bytes()),
                        ))
            }
        }
    }
}

/// The SHA-256 of a password hash, lowercase hex.
fn password_fingerprint(hashed_password: &str) -> String {
    crate::tokens::hex(&Sha256::digest(hashed_password.as_bytes()))
}

/// [`Binding::fingerprint`] of a token generation and a password hash.
pub(crate) fn credentials_fingerprint(generation: u32, hashed_password: &str) -> String {
    format!("{generation}:{}", password_fingerprint(hashed_password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::{NoFields, PasswordHash, User, UserData};

    fn user(hash: &str, generation: u32) -> User {
        let mut data = UserData::new("a@example.com", PasswordHash::new(hash), NoFields {});
        data.token_generation = generation;
        User {
            id: uuid::Uuid::nil(),
            data,
        }
    }

    #[test]
    fn a_session_binding_breaks_with_the_password_or_the_generation() {
        let before = user("$argon2id$old", 0);
        let binding = Binding::credentials_of(&before);
        assert!(binding.holds_for(&before));
        assert!(!binding.holds_for(&user("$argon2id$new", 0)));
        assert!(!binding.holds_for(&user("$argon2id$old", 1)));
        assert!(binding.holds_for_any_password(&user("$argon2id$new", 0)));
        assert!(!binding.holds_for_any_password(&user("$argon2id$old", 1)));
    }

    #[test]
    fn a_jwt_binding_breaks_with_the_generation_only() {
        let binding = Binding::Generation(3);
        assert!(binding.holds_for(&user("$argon2id$old", 3)));
        assert!(binding.holds_for(&user("$argon2id$new", 3)));
        assert!(!binding.holds_for(&user("$argon2id$old", 4)));
        assert!(Binding::Unbound.holds_for(&user("$argon2id$x", 9)));
    }

    #[test]
    fn the_fingerprint_is_what_the_migration_guide_computes() {
        // '0:' || sha256 hex of the hash, as the guide's SQL computes it.
        let expected = format!("0:{}", crate::tokens::hex(&Sha256::digest(b"$argon2id$x")));
        let stored = Binding::fingerprint(&user("$argon2id$x", 0));
        assert_eq!(stored, expected);
        assert_eq!(
            Binding::parse(&stored),
            Some(Binding::credentials_of(&user("$argon2id$x", 0)))
        );
        assert_eq!(
            format!("{:?}", Binding::credentials_of(&user("$argon2id$x", 0))),
            "Credentials { generation: 0, .. }"
        );
    }

    #[test]
    fn malformed_fingerprints_bind_nothing() {
        let hex = "a".repeat(64);
        for bad in [
            String::new(),
            hex.clone(),
            format!(":{hex}"),
            format!("+1:{hex}"),
            format!("x:{hex}"),
            format!("1:{}", &hex[1..]),
            format!("1:{}g", &hex[1..]),
            format!("99999999999:{hex}"),
        ] {
            assert_eq!(Binding::parse(&bad), None, "{bad:?}");
        }
        assert!(Binding::parse(&format!("12:{hex}")).is_some());
    }
}
