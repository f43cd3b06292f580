use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::auth::{Binding, Strategy, TokenOwner};
use crate::error::Result;
use crate::tokens::{AUTH_AUDIENCE, JwtCodec, now_secs};
use crate::user::UserModel;

/// Stateless access tokens: JWTs with `sub` = the user id, `aud` = the audience
/// list (`["fastapi-users:auth"]`) and `exp` = issue time + lifetime (one hour by
/// default), the format of FastAPI Users' `JWTStrategy`, plus `gen`, the user's
/// token generation.
///
/// A token without `exp`, with another algorithm than the configured one, another
/// key or audience, or expired (no leeway by default) is rejected. A single JWT
/// cannot be revoked: logout is a no-op and a token stays valid until it
/// expires. But a password reset, a superuser's password change or a
/// deactivation raises the user's token generation, which ends every JWT
/// carrying an older `gen` ([`Binding::Generation`]); a user changing their own
/// password keeps their tokens. Tokens without `gen` (minted by FastAPI Users,
/// or anyone holding the secret) are accepted as the HTTP contract requires,
/// and are not ended that way.
///
/// ```
/// use axum_users::auth::JwtStrategy;
/// use std::time::Duration;
/// let strategy = JwtStrategy::hs256("a random secret of 32 bytes or more")
///     .unwrap()
///     .lifetime(Duration::from_secs(15 * 60));
/// ```
#[derive(Debug, Clone)]
pub struct JwtStrategy {
    codec: JwtCodec,
    audience: Vec<String>,
    lifetime: Duration,
    /// Built from `codec` and `audience` whenever they change, not per request.
    validation: jsonwebtoken::Validation,
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    sub: String,
    aud: &'a [String],
    exp: u64,
    /// The user's token generation (see [`Binding::Generation`]).
    #[serde(rename = "gen")]
    generation: u32,
}

#[derive(Deserialize)]
struct ReadClaims {
    sub: String,
    /// Absent from tokens minted by FastAPI Users.
    #[serde(rename = "gen", default)]
    generation: Option<u32>,
}

impl JwtStrategy {
    /// A strategy over this codec (HS256, RS256 or ES256).
    pub fn new(codec: JwtCodec) -> Self {
        let audience = vec![AUTH_AUDIENCE.to_owned()];
        Self {
            validation: codec.validation(&audience),
            codec,
            audience,
            lifetime: Duration::from_secs(3600),
        }
    }

    /// HS256 with this secret, as FastAPI Users. The secret must have at
    /// least [`MIN_SECRET_BYTES`](crate::tokens::MIN_SECRET_BYTES) (32) bytes;
    /// a shorter one is an [`Error::Config`](crate::Error::Config).
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self> {
        Ok(Self::new(JwtCodec::hs256(secret)?))
    }

    /// HS256 with a secret shorter than 32 bytes (never empty), for a
    /// deployment migrated from FastAPI Users with such a `SECRET`, whose
    /// tokens must stay valid: see [`JwtCodec::hs256_allow_short`].
    pub fn hs256_allow_short(secret: impl AsRef<[u8]>) -> Result<Self> {
        Ok(Self::new(JwtCodec::hs256_allow_short(secret)?))
    }

    /// The token lifetime (default 3600 s).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The audiences written into tokens; a token is accepted when its `aud`
    /// holds one of them (default `["fastapi-users:auth"]`).
    pub fn audience(mut self, audience: Vec<String>) -> Self {
        self.audience = audience;
        self.validation = self.codec.validation(&self.audience);
        self
    }

    /// Tolerance on `exp` (default none).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.codec = self.codec.with_leeway(leeway);
        self.validation = self.codec.validation(&self.audience);
        self
    }
}

#[async_trait]
impl<U: UserModel> Strategy<U> for JwtStrategy {
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>> {
        let Some(claims) = self
            .codec
            .decode_with::<ReadClaims>(token, &self.validation)
        else {
            return Ok(None);
        };
        let Ok(id) = claims.sub.parse() else {
            return Ok(None);
        };
        let binding = match claims.generation {
            Some(generation) => Binding::Generation(generation),
            None => Binding::Unbound,
        };
        Ok(Some(TokenOwner::new(id, binding)))
    }

    async fn write_token(&self, user: &U) -> Result<String> {
        self.codec.encode(&AccessClaims {
            sub: user.id().to_string(),
            aud: &self.audience,
            exp: now_secs() + self.lifetime.as_secs(),
            generation: user.data().token_generation,
        })
    }

    async fn destroy_token(&self, _token: &str, _user: &U) -> Result<()> {
        Ok(())
    }
}
