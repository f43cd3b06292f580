use http::header::AUTHORIZATION;
use http::request::Parts;
use serde_json::json;

use crate::auth::{IssuedTokens, Transport, TransportAnswer, TransportKind};
use crate::error::Result;

/// The bearer transport: the token travels in `Authorization: Bearer <token>`
/// (scheme case-insensitive); login answers 200
/// `{"access_token": "<token>", "token_type": "bearer"}` and logout 204.
#[derive(Debug, Clone)]
pub struct BearerTransport {
    token_url: String,
}

impl BearerTransport {
    /// A bearer transport whose login route is `token_url` (relative, as in
    /// FastAPI Users' `tokenUrl`, e.g. `"auth/jwt/login"`; used in documentation).
    pub fn new(token_url: impl Into<String>) -> Self {
        Self {
            token_url: token_url.into(),
        }
    }
}

impl Transport for BearerTransport {
    fn token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        bearer_token(parts)
    }

    fn login(&self, tokens: &IssuedTokens) -> Result<TransportAnswer> {
        let mut body = json!({"access_token": tokens.access_token, "token_type": "bearer"});
        if let Some(refresh_token) = &tokens.refresh_token {
            body["refresh_token"] = json!(refresh_token);
        }
        if let Some(expires_in) = tokens.expires_in {
            body["expires_in"] = json!(expires_in);
        }
        Ok(TransportAnswer::json(body))
    }

    fn logout(&self) -> Result<TransportAnswer> {
        Ok(TransportAnswer::no_content(Vec::new()))
    }

    fn kind(&self) -> TransportKind {
        TransportKind::Bearer {
            token_url: self.token_url.clone(),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}
