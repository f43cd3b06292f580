//! The checks of an ID token (OpenID Connect Core §3.1.3.7): the algorithm,
//! the signature, `iss`, `aud` and `azp`, `exp`, and the `nonce`.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// How much clock difference with the provider an ID token's `exp`, `iat`
/// and `nbf` tolerate.
const ID_TOKEN_LEEWAY: u64 = 60;

/// The asymmetric algorithms accepted for ID tokens. HMAC (keyed with the
/// client secret) and `none` are refused.
pub(super) const ID_TOKEN_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The claims of an ID token that sign-in reads.
#[derive(Debug, Deserialize)]
pub(crate) struct IdClaims {
    pub(crate) sub: String,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
    #[serde(default)]
    pub(crate) azp: Option<String>,
    #[serde(default)]
    pub(crate) aud: Option<Value>,
    #[serde(default)]
    pub(crate) email: Option<Value>,
    #[serde(default)]
    pub(crate) email_verified: Option<Value>,
}

/// Why an ID token was refused (logged, never sent).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IdTokenError {
    Header,
    Algorithm,
    Invalid(String),
    Nonce,
    AuthorizedParty,
}

impl std::fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdTokenError::Header => f.write_str("ID token header unreadable"),
            IdTokenError::Algorithm => {
                f.write_str("ID token signed with an algorithm not accepted")
            }
            IdTokenError::Invalid(reason) => write!(f, "ID token invalid: {reason}"),
            IdTokenError::Nonce => f.write_str("ID token nonce does not match"),
            IdTokenError::AuthorizedParty => f.write_str("ID token issued to another party"),
        }
    }
}

/// The header fields needed to pick the key: `(kid, alg)`, with `alg` one of
/// `accepted`.
pub(crate) fn id_token_header(
    token: &str,
    accepted: &[Algorithm],
) -> Result<(Option<String>, Algorithm), IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Header)?;
    if !accepted.contains(&header.alg) || !ID_TOKEN_ALGORITHMS.contains(&header.alg) {
        return Err(IdTokenError::Algorithm);
    }
    Ok((header.kid, header.alg))
}

/// Checks an ID token (OpenID Connect Core §3.1.3.7): signature with `key`
/// under `alg`, `iss` = `issuer`, `aud` containing `client_id` (and `azp` =
/// `client_id` when present), `exp` in the future, and `nonce` = `nonce`.
pub(crate) fn validate_id_token(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<IdClaims, IdTokenError> {
    let mut validation = Validation::new(alg);
    validation.leeway = ID_TOKEN_LEEWAY;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    let claims = jsonwebtoken::decode::<IdClaims>(token, key, &validation)
        .map_err(|e| IdTokenError::Invalid(e.to_string()))?
        .claims;
    use subtle::ConstantTimeEq;
    let nonce_matches = claims
        .nonce
        .as_deref()
        .is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(nonce.as_bytes())));
    if !nonce_matches {
        return Err(IdTokenError::Nonce);
    }
    let several_audiences = matches!(&claims.aud, Some(Value::Array(list)) if list.len() > 1);
    match &claims.azp {
        Some(azp) if azp != client_id => return Err(IdTokenError::AuthorizedParty),
        None if several_audiences => return Err(IdTokenError::AuthorizedParty),
        _ => {}
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::oauth::oidc::keys::{parse_jwks, select_key};
    use jsonwebtoken::jwk::Jwk;

    const ISSUER: &str = "https://id.example.com";
    const CLIENT: &str = "client-1";
    const NONCE: &str = "nonce-1";

    fn jwk(name: &str) -> Jwk {
        let text = match name {
            "a" => include_str!("../testdata/jwk_a.json"),
            _ => include_str!("../testdata/jwk_b.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn sign(private: &str, kid: &str, claims: Value) -> String {
        let pem = match private {
            "a" => include_bytes!("../testdata/rsa_a.pem").as_slice(),
            _ => include_bytes!("../testdata/rsa_b.pem").as_slice(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": CLIENT,
            "sub": "alice",
            "nonce": NONCE,
            "iat": crate::tokens::now_secs(),
            "exp": crate::tokens::now_secs() + 300,
        })
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    /// Header → key → validation, as sign-in does it.
    fn check(token: &str) -> Result<IdClaims, IdTokenError> {
        let keys = vec![jwk("a")];
        let (kid, alg) = id_token_header(token, &[Algorithm::RS256])?;
        let key = select_key(&keys, kid.as_deref(), alg).ok_or(IdTokenError::Header)?;
        validate_id_token(
            token,
            &DecodingKey::from_jwk(key).unwrap(),
            alg,
            ISSUER,
            CLIENT,
            NONCE,
        )
    }

    #[test]
    fn a_genuine_id_token_is_accepted() {
        let claims = check(&sign("a", "key-a", claims())).unwrap();
        assert_eq!(claims.sub, "alice");
    }

    #[test]
    fn an_id_token_with_a_bad_signature_is_rejected() {
        // Signed with another key under the published key's id.
        let forged = sign("b", "key-a", claims());
        assert!(matches!(check(&forged), Err(IdTokenError::Invalid(_))));
        // A flipped signature byte.
        let genuine = sign("a", "key-a", claims());
        let (head, signature) = genuine.rsplit_once('.').unwrap();
        let mut bytes = signature.as_bytes().to_vec();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{head}.{}", String::from_utf8(bytes).unwrap());
        assert!(matches!(check(&tampered), Err(IdTokenError::Invalid(_))));
    }

    #[test]
    fn an_id_token_from_another_issuer_is_rejected() {
        let token = sign(
            "a",
            "key-a",
            with(claims(), "iss", json!("https://evil.example")),
        );
        assert!(matches!(check(&token), Err(IdTokenError::Invalid(_))));
    }

    #[test]
    fn an_id_token_for_another_audience_is_rejected() {
        let token = sign("a", "key-a", with(claims(), "aud", json!("other-client")));
        assert!(matches!(check(&token), Err(IdTokenError::Invalid(_))));
        // Several audiences but issued to (azp) another party.
        let token = sign(
            "a",
            "key-a",
            with(
                with(claims(), "aud", json!([CLIENT, "other-client"])),
                "azp",
                json!("other-client"),
            ),
        );
        assert_eq!(check(&token).unwrap_err(), IdTokenError::AuthorizedParty);
    }

    #[test]
    fn an_id_token_with_a_stale_or_missing_nonce_is_rejected() {
        let stale = sign(
            "a",
            "key-a",
            with(claims(), "nonce", json!("nonce-of-another-login")),
        );
        assert_eq!(check(&stale).unwrap_err(), IdTokenError::Nonce);
        let mut without = claims();
        without.as_object_mut().unwrap().remove("nonce");
        assert_eq!(
            check(&sign("a", "key-a", without)).unwrap_err(),
            IdTokenError::Nonce
        );
    }

    #[test]
    fn an_expired_id_token_is_rejected() {
        let expired = with(claims(), "exp", json!(crate::tokens::now_secs() - 3600));
        assert!(matches!(
            check(&sign("a", "key-a", expired)),
            Err(IdTokenError::Invalid(_))
        ));
    }

    #[test]
    fn symmetric_and_none_algorithms_are_refused() {
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"client-secret"),
        )
        .unwrap();
        assert_eq!(check(&hs).unwrap_err(), IdTokenError::Algorithm);
        // alg "none": header {"alg":"none"} and no signature.
        let none = format!(
            "{}.{}.",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                br#"{"alg":"none"}"#
            ),
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                claims().to_string()
            )
        );
        assert!(check(&none).is_err());
    }

    #[test]
    fn keys_are_picked_by_id_and_type() {
        let keys = vec![jwk("a"), jwk("b")];
        assert!(select_key(&keys, Some("key-b"), Algorithm::RS256).is_some());
        assert!(select_key(&keys, Some("key-c"), Algorithm::RS256).is_none());
        assert!(
            select_key(&keys, Some("key-a"), Algorithm::ES256).is_none(),
            "RSA key for ES256"
        );
        assert!(
            select_key(&keys, Some("key-a"), Algorithm::PS256).is_none(),
            "a key declared RS256 is not used for PS256"
        );
        assert!(
            select_key(&keys, None, Algorithm::RS256).is_none(),
            "ambiguous without a kid"
        );
        assert!(select_key(&keys[..1], None, Algorithm::RS256).is_some());
        let jwks = parse_jwks(&json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"},
            {"kty": "weird"},
            serde_json::from_str::<Value>(include_str!("../testdata/jwk_a.json")).unwrap(),
        ]}));
        assert_eq!(jwks.len(), 1, "symmetric and unknown keys are dropped");
    }
}
