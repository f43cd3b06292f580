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
    /// The id of the session the token belongs to, if any.
    pub session: Option<String>,
}

impl<Id> TokenOwner<Id> {
    /// A token of `user_id`, bound by `binding`, of no session.
    pub fn new(user_id: Id, binding: Binding) -> Self {
        Self {
            user_id,
            binding,
            session: None,
        }
    }

    /// The same owner, the token belonging to the session `id`.
    pub fn in_session(mut self, id: impl Into<String>) -> Self {
        self.session = Some(id.into());
        self
    }
}

/// What must still hold for a token's user when the token is used.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The user's token generation *and* password generation
    /// ([`UserData::password_generation`](crate::UserData::password_generation))
    /// must still be those the session was opened under: database and Redis
    /// sessions. Any new password ends them (unless the application turned
    /// [`LogoutEverywhere::on_password_change`](crate::LogoutEverywhere)
    /// off); an upgrade of the hash of the same password does not.
    Credentials {
        /// The token generation.
        generation: u32,
        /// The password generation.
        password_generation: u32,
    },
    /// The token is valid while the session [`TokenOwner::session`] names
    /// lives, and binds as that session does: the access tokens of a
    /// [`RefreshStrategy`](super::RefreshStrategy), and any JWT with a `sid`
    /// claim. The [`Authenticator`](super::Authenticator) resolves it; on
    /// its own it holds for nobody.
    Session,
}

impl Binding {
    /// The binding of a session opened now for `user`.
    pub fn credentials_of<U: UserModel>(user: &U) -> Self {
        let data = user.data();
        Binding::Credentials {
            generation: data.token_generation,
            password_generation: data.password_generation,
        }
    }

    /// The binding of a session opened now for `user`, as sessions store it:
    /// `"<token generation>:<password generation>"` (`"0:0"` for a user whose
    /// tokens were never ended and whose password was never changed, such as
    /// one copied from FastAPI Users). [`Binding::parse`] reads it back.
    ///
    /// ```
    /// use axum_users::auth::Binding;
    /// use axum_users::{NoFields, User, UserData, user::PasswordHash};
    /// let user = User {
    ///     id: uuid::Uuid::nil(),
    ///     data: UserData::new("a@example.com", PasswordHash::new("$argon2id$…"), NoFields {}),
    /// };
    /// let stored = Binding::fingerprint(&user);
    /// assert_eq!(stored, "0:0");
    /// assert!(Binding::parse(&stored).unwrap().holds_for(&user));
    /// ```
    pub fn fingerprint<U: UserModel>(user: &U) -> String {
        let data = user.data();
        format!("{}:{}", data.token_generation, data.password_generation)
    }

    /// Reads a [`fingerprint`](Self::fingerprint) back; `None` for anything
    /// else (an empty or malformed value binds nothing, and must be refused).
    pub fn parse(fingerprint: &str) -> Option<Self> {
        let (generation, password_generation) = fingerprint.split_once(':')?;
        Some(Binding::Credentials {
            generation: parse_generation(generation)?,
            password_generation: parse_generation(password_generation)?,
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
            Binding::Session => false,
            Binding::Generation(generation) => *generation == data.token_generation,
            Binding::Credentials {
                generation,
                password_generation,
            } => {
                *generation == data.token_generation
                    && (!with_password || *password_generation == data.password_generation)
            }
        }
    }
}

/// A generation as stored: decimal digits only (`u32::from_str` would also
/// take a leading `+`).
fn parse_generation(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::{NoFields, PasswordHash, User, UserData};

    fn user(generation: u32, password_generation: u32) -> User {
        let mut data = UserData::new(
            "a@example.com",
            PasswordHash::new("$argon2id$x"),
            NoFields {},
        );
        data.token_generation = generation;
        data.password_generation = password_generation;
        User {
            id: uuid::Uuid::nil(),
            data,
        }
    }

    #[test]
    fn a_session_binding_breaks_with_a_new_password_or_generation() {
        let before = user(0, 0);
        let binding = Binding::credentials_of(&before);
        assert!(binding.holds_for(&before));
        assert!(!binding.holds_for(&user(0, 1)), "a new password");
        assert!(!binding.holds_for(&user(1, 0)), "a raised token generation");
        assert!(binding.holds_for_any_password(&user(0, 1)));
        assert!(!binding.holds_for_any_password(&user(1, 0)));
        // The same password hashed again changes neither generation.
        let mut upgraded = before.clone();
        upgraded.data.hashed_password = PasswordHash::new("$argon2id$upgraded");
        assert!(binding.holds_for(&upgraded));
    }

    #[test]
    fn a_jwt_binding_breaks_with_the_token_generation_only() {
        let binding = Binding::Generation(3);
        assert!(binding.holds_for(&user(3, 0)));
        assert!(
            binding.holds_for(&user(3, 7)),
            "a new password of the user's own"
        );
        assert!(!binding.holds_for(&user(4, 0)));
        assert!(Binding::Unbound.holds_for(&user(9, 9)));
    }

    #[test]
    fn a_fingerprint_reads_back() {
        let stored = Binding::fingerprint(&user(12, 3));
        assert_eq!(stored, "12:3");
        assert_eq!(
            Binding::parse(&stored),
            Some(Binding::credentials_of(&user(12, 3)))
        );
        assert_eq!(
            Binding::parse("0:0"),
            Some(Binding::credentials_of(&user(0, 0)))
        );
    }

    #[test]
    fn malformed_fingerprints_bind_nothing() {
        for bad in [
            "",
            "0",
            ":",
            "0:",
            ":0",
            "+1:0",
            "1:+0",
            "x:0",
            "0:x",
            "1:2:3",
            " 1:2",
            "99999999999:0",
        ] {
            assert_eq!(Binding::parse(bad), None, "{bad:?}");
        }
    }
}
