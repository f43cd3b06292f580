use std::time::Duration;

use async_trait::async_trait;

use crate::auth::{Binding, Strategy, TokenOwner};
use crate::error::{Error, Result};
use crate::store::{AccessTokenRecord, AccessTokenStore};
use crate::tokens::{now_secs, random_token, token_digest};
use crate::user::UserModel;

/// Revocable sessions: opaque random tokens (256 bits, URL-safe) whose SHA-256
/// digests live in an [`AccessTokenStore`] (the provided stores implement it
/// beside their users) with a lifetime (one hour by default).
///
/// Logout deletes the token; [`Strategy::destroy_all_tokens`] ends every session
/// of a user, which the [`UserManager`](crate::UserManager) does when the
/// password changes or the user is deactivated or deleted. Each session is also
/// bound to the credentials it was opened under ([`Binding::Credentials`]), so
/// one stored by a login that raced a password change is refused when used. A
/// stolen table of digests gives no usable token.
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

#[async_trait]
impl<U, T> Strategy<U> for DatabaseStrategy<T>
where
    U: UserModel,
    T: AccessTokenStore<U::Id>,
{
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>> {
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
        // A session without a valid binding is no session.
        Ok(Binding::parse(&record.binding).map(|binding| TokenOwner::new(record.user_id, binding)))
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
                binding: Binding::fingerprint(user),
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
