//! The provider's published keys: which of them may check a token's
//! signature, and under which algorithm.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use serde_json::Value;

pub(super) fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        // Only the asymmetric algorithms above are ever asked about.
        _ => "",
    }
}

/// The keys of a JWKS document that can verify signatures; symmetric keys and
/// keys of unknown types are left out.
pub(super) fn parse_jwks(document: &Value) -> Vec<Jwk> {
    document
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
                .filter(|jwk| {
                    !matches!(
                        jwk.algorithm,
                        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a key's type can verify `alg` (RSA for RS*/PS*, EC for ES*, OKP
/// for EdDSA): a header cannot make us use a key with another algorithm.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let family_fits = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => matches!(alg, Algorithm::ES256 | Algorithm::ES384),
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        _ => false,
    };
    let usable = !matches!(
        jwk.common.public_key_use,
        Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
    );
    // A key that names its algorithm is used for that one only.
    let declared_fits = jwk
        .common
        .key_algorithm
        .is_none_or(|declared| declared == jsonwebtoken::jwk::KeyAlgorithm::from(alg));
    family_fits && usable && declared_fits
}

/// The key with this id (or, without one, the only key that fits).
pub(super) fn select_key<'k>(
    keys: &'k [Jwk],
    kid: Option<&str>,
    alg: Algorithm,
) -> Option<&'k Jwk> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid) && key_fits(jwk, alg)),
        None => {
            let mut fitting = keys.iter().filter(|jwk| key_fits(jwk, alg));
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}
