use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::auth::{Binding, IssuedTokens, Strategy, TokenOwner};
use crate::error::Result;
use crate::session::LoginContext;
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
    /// The session the token belongs to (refresh-token backends).
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
}

#[derive(Deserialize)]
struct ReadClaims {
    sub: String,
    /// Absent from tokens minted by FastAPI Users.
    #[serde(rename = "gen", default)]
    generation: Option<u32>,
    /// Present in the access tokens of refresh-token backends.
    #[serde(default)]
    sid: Option<String>,
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

impl JwtStrategy {
    /// An access token for `user`, naming the session `sid` when given.
    pub(crate) fn encode_access<U: UserModel>(
        &self,
        user: &U,
        sid: Option<&str>,
    ) -> Result<String> {
        self.codec.encode(&AccessClaims {
            sub: user.id().to_string(),
            aud: &self.audience,
            exp: now_secs() + self.lifetime.as_secs(),
            generation: user.data().token_generation,
            sid,
        })
    }

    /// The owner of an access token, as [`Strategy::read_token`] reads it.
    pub(crate) fn read_owner<Id: std::str::FromStr>(&self, token: &str) -> Option<TokenOwner<Id>> {
        let claims = self
            .codec
            .decode_with::<ReadClaims>(token, &self.validation)?;
        let id = claims.sub.parse().ok()?;
        Some(match claims.sid {
            Some(sid) => TokenOwner::new(id, Binding::Session).in_session(sid),
            None => TokenOwner::new(
                id,
                claims
                    .generation
                    .map_or(Binding::Unbound, Binding::Generation),
            ),
        })
    }

    /// The configured lifetime of a token.
    pub(crate) fn token_lifetime(&self) -> Duration {
        self.lifetime
    }
}

#[async_trait]
impl<U: UserModel> Strategy<U> for JwtStrategy {
    async fn read_token(&self, token: &str) -> Result<Option<TokenOwner<U::Id>>> {
        // A token naming its session (`sid`) is valid while the session
        // lives, whichever backend reads it: the authenticator checks it.
        Ok(self.read_owner(token))
    }

    async fn write_token(&self, user: &U, _login: &LoginContext) -> Result<IssuedTokens> {
        Ok(IssuedTokens::access(self.encode_access(user, None)?))
    }

    async fn destroy_token(&self, _token: &str, _user: &U) -> Result<()> {
        Ok(())
    }
}
