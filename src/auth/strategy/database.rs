use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::auth::Strategy;
use crate::error::{Error, Result};
use crate::store::{AccessTokenRecord, AccessTokenStore};
use crate::tokens::{now_secs, random_token};
use crate::user::UserModel;

/// Revocable sessions: opaque random tokens (256 bits, URL-safe) whose SHA-256
/// digests live in an [`AccessTokenStore`] (the provided stores implement it
/// beside their users) with a lifetime (one hour by default).
///
/// Logout deletes the token; [`Strategy::destroy_all_tokens`] ends every session
/// of a user, which the [`UserManager`](crate::UserManager) does when the
/// password changes or the user is deactivated or deleted. A stolen table of
/// digests gives no usable token.
///
/// ```
/// use axum_users::auth::{AuthBackend, CookieTransport, DatabaseStrategy};
/// use axum_users::{User, store::MemoryStore};
/// let store = MemoryStore::<User>::new();
/// let sessions: AuthBackend<User> = AuthBackend::new(
///     "session",
///     CookieTransport::new().name("fastapiuserssession"),
///     DatabaseStrategy::new(store.clone()),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseStrategy<T> {
    tokens: T,
    lifetime: Duration,
}

/// Bytes of randomness in a token: 256 bits.
const TOKEN_BYTES: usize = 32;

impl<T> DatabaseStrategy<T> {
    /// Sessions stored in `tokens`, valid for one hour.
    pub fn new(tokens: T) -> Self {
        Self {
            tokens,
            lifetime: Duration::from_secs(3600),
        }
    }

    /// The session lifetime (default 3600 s).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }
}

/// The SHA-256 digest of a token, lowercase hex: what is stored.
pub(crate) fn token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0x0f)]));
    }
    hex
}

#[async_trait]
impl<U, T> Strategy<U> for DatabaseStrategy<T>
where
    U: UserModel,
    T: AccessTokenStore<U::Id>,
{
    async fn read_token(&self, token: &str) -> Result<Option<U::Id>> {
        // A token of another strategy (a JWT) is not ours; don't look it up.
        if token.len() > 64 || token.contains('.') {
            return Ok(None);
        }
        let digest = token_digest(token);
        let Some(record) = self.tokens.get_token(&digest).await? else {
            return Ok(None);
        };
        if record.expires_at <= now_secs() {
            // Expired: forget it (best effort; a failure changes nothing here).
            let _ = self.tokens.delete_token(&digest).await;
            return Ok(None);
        }
        Ok(Some(record.user_id))
    }

    async fn write_token(&self, user: &U) -> Result<String> {
        let token = random_token(TOKEN_BYTES)?;
        let now = now_secs();
        self.tokens
            .create_token(AccessTokenRecord {
                digest: token_digest(&token),
                user_id: user.id().clone(),
                created_at: now,
                expires_at: now + self.lifetime.as_secs(),
            })
            .await
            .map_err(Error::Store)?;
        Ok(token)
    }

    async fn destroy_token(&self, token: &str, _user: &U) -> Result<()> {
        Ok(self.tokens.delete_token(&token_digest(token)).await?)
    }

    fn is_revocable(&self) -> bool {
        true
    }

    async fn destroy_all_tokens(&self, user: &U) -> Result<()> {
        Ok(self.tokens.delete_user_tokens(user.id()).await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            super::token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
