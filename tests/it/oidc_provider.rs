//! Self-tests of the OpenID Connect provider harness (`tests/oidc/provider.mjs`
//! driven by `tests/it/common/oidc.rs`): the authorization code flow with PKCE as
//! a client would run it, its failures, and the test-control endpoints. Each
//! test starts its own provider. Without node or `tests/oidc/node_modules` the
//! tests print that they were skipped and pass, unless
//! `AXUM_USERS_REQUIRE_SERVICES=1`.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::oidc::{CallbackUrl, OidcProvider, Stats};

const CLIENT_ID: &str = "axum-users-test";
const CLIENT_SECRET: &str = "client-secret-0123456789";
const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/oidc/callback";

async fn provider() -> Option<OidcProvider> {
    OidcProvider::start(CLIENT_ID, CLIENT_SECRET, &[REDIRECT_URI.to_owned()]).await
}

/// What a client keeps between the authorization request and the callback.
struct Request {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn random() -> String {
    axum_users::tokens::random_token(32).expect("random bytes")
}

/// S256: base64url(SHA-256(verifier)), no padding.
fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authorization request of the client for `openid email`, built from the
/// discovery document.
fn authorization_request(idp: &OidcProvider) -> Request {
    let (state, nonce, verifier) = (random(), random(), random());
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid email")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let url = format!("{}?{query}", idp.endpoint("authorization_endpoint"));
    Request {
        url,
        state,
        nonce,
        verifier,
    }
}

/// A successful authorization of `login_hint`: the request and its callback.
async fn authorized(idp: &OidcProvider, login_hint: &str) -> (Request, CallbackUrl) {
    let request = authorization_request(idp);
    let callback = idp.authorize(&request.url, login_hint).await;
    assert!(callback.url.starts_with(REDIRECT_URI), "{callback:?}");
    assert_eq!(callback.error, None, "{callback:?}");
    assert!(callback.code.is_some(), "{callback:?}");
    (request, callback)
}

/// The tokens for a code that must be granted.
async fn tokens(idp: &OidcProvider, code: &str, verifier: &str) -> Value {
    let (status, body) = idp.exchange_raw(code, REDIRECT_URI, verifier).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn jwt_part(token: &str, part: usize) -> Value {
    let segment = token.split('.').nth(part).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn discovery_describes_the_provider() {
    let Some(idp) = provider().await else { return };
    let issuer = idp.issuer();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    assert!(!issuer.ends_with('/'), "{issuer}");
    let discovery = idp.discovery();
    assert_eq!(discovery["issuer"], issuer);
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        assert!(
            idp.endpoint(endpoint).starts_with(issuer),
            "{endpoint}: {discovery}"
        );
    }
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    let scopes = discovery["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&"openid".into()) && scopes.contains(&"email".into()));
    assert!(
        discovery["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&"RS256".into())
    );

    let jwks: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(idp.endpoint("jwks_uri"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert!(keys[0]["kid"].is_string());
    assert!(keys[0].get("d").is_none(), "the JWKS holds no private key");
}

#[tokio::test]
async fn code_flow_with_pkce() {
    let Some(idp) = provider().await else { return };
    idp.set_account("alice", Some("alice@corp.example"), false)
        .await;
    let (request, callback) = authorized(&idp, "alice").await;
    assert_eq!(callback.state.as_deref(), Some(request.state.as_str()));
    assert_eq!(callback.iss.as_deref(), Some(idp.issuer()));
    let code = callback.code.unwrap();

    // A wrong verifier fails PKCE; the code stays usable.
    let (status, body) = idp.exchange_raw(&code, REDIRECT_URI, &random()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    let body = tokens(&idp, &code, &request.verifier).await;
    assert_eq!(body["token_type"], "Bearer", "{body}");
    let access_token = body["access_token"].as_str().expect("access_token");
    let id_token = body["id_token"].as_str().expect("id_token");

    let header = jwt_part(id_token, 0);
    assert_eq!(header["alg"], "RS256", "{header}");
    assert!(header["kid"].is_string(), "{header}");
    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["iss"], idp.issuer(), "{claims}");
    assert_eq!(claims["aud"], CLIENT_ID, "{claims}");
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["nonce"], request.nonce.as_str(), "{claims}");

    let (status, userinfo) = idp.userinfo_raw(access_token).await;
    assert_eq!(status, 200, "{userinfo}");
    assert_eq!(
        userinfo,
        serde_json::json!({
            "sub": "alice",
            "email": "alice@corp.example",
            "email_verified": false,
        })
    );

    // The same code again: refused (and the grant is revoked).
    let (status, body) = idp
        .exchange_raw(&code, REDIRECT_URI, &request.verifier)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = idp.userinfo_raw(access_token).await;
    assert_eq!(status, 401, "the replay revoked the grant's access token");
}

#[tokio::test]
async fn wrong_redirect_uri_or_missing_verifier_is_refused() {
    let Some(idp) = provider().await else { return };
    let (request, callback) = authorized(&idp, "bob").await;
    let code = callback.code.unwrap();
    let (status, body) = idp
        .exchange_raw(&code, "http://127.0.0.1:9/elsewhere", &request.verifier)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = idp.exchange_raw(&code, REDIRECT_URI, "").await;
    assert_eq!(status, 400, "{body}");
    // Still unused: the right request succeeds.
    tokens(&idp, &code, &request.verifier).await;
}

#[tokio::test]
async fn unknown_accounts_have_a_verified_example_address() {
    let Some(idp) = provider().await else { return };
    let (request, callback) = authorized(&idp, "carol").await;
    let body = tokens(&idp, callback.code.as_deref().unwrap(), &request.verifier).await;
    let (status, userinfo) = idp
        .userinfo_raw(body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{userinfo}");
    assert_eq!(
        userinfo,
        serde_json::json!({
            "sub": "carol",
            "email": "carol@example.com",
            "email_verified": true,
        })
    );
}

#[tokio::test]
async fn an_account_without_email_has_no_email_claim() {
    let Some(idp) = provider().await else { return };
    idp.set_account("dave", None, false).await;
    let (request, callback) = authorized(&idp, "dave").await;
    let body = tokens(&idp, callback.code.as_deref().unwrap(), &request.verifier).await;
    let (status, userinfo) = idp
        .userinfo_raw(body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{userinfo}");
    assert_eq!(userinfo["sub"], "dave", "{userinfo}");
    assert!(userinfo.get("email").is_none(), "{userinfo}");
}

#[tokio::test]
async fn accounts_can_change_between_logins() {
    let Some(idp) = provider().await else { return };
    idp.set_account("erin", Some("erin@one.example"), true)
        .await;
    idp.set_account("erin", Some("erin@two.example"), true)
        .await;
    let (request, callback) = authorized(&idp, "erin").await;
    let body = tokens(&idp, callback.code.as_deref().unwrap(), &request.verifier).await;
    let (_, userinfo) = idp
        .userinfo_raw(body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(userinfo["email"], "erin@two.example", "{userinfo}");
}

#[tokio::test]
async fn deny_gives_access_denied() {
    let Some(idp) = provider().await else { return };
    let request = authorization_request(&idp);
    let callback = idp.authorize(&request.url, "deny").await;
    assert!(callback.url.starts_with(REDIRECT_URI), "{callback:?}");
    assert_eq!(
        callback.error.as_deref(),
        Some("access_denied"),
        "{callback:?}"
    );
    assert_eq!(callback.code, None, "{callback:?}");
    assert_eq!(callback.state.as_deref(), Some(request.state.as_str()));
    assert_eq!(callback.iss.as_deref(), Some(idp.issuer()));
}

#[tokio::test]
async fn failing_endpoints_answer_503_and_are_counted() {
    let Some(idp) = provider().await else { return };
    let zero = Stats {
        token_requests: 0,
        userinfo_requests: 0,
    };
    assert_eq!(idp.stats().await, zero);

    let (request, callback) = authorized(&idp, "frank").await;
    let code = callback.code.unwrap();
    assert_eq!(idp.stats().await, zero, "the authorization is not counted");

    idp.fail(true, false).await;
    let (status, body) = idp
        .exchange_raw(&code, REDIRECT_URI, &request.verifier)
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.is_object(), "{body}");
    assert_eq!(idp.stats().await.token_requests, 1);

    idp.fail(false, true).await;
    let body = tokens(&idp, &code, &request.verifier).await;
    let access_token = body["access_token"].as_str().unwrap();
    let (status, _) = idp.userinfo_raw(access_token).await;
    assert_eq!(status, 503);
    assert_eq!(
        idp.stats().await,
        Stats {
            token_requests: 2,
            userinfo_requests: 1,
        }
    );

    idp.fail(false, false).await;
    let (status, userinfo) = idp.userinfo_raw(access_token).await;
    assert_eq!(status, 200, "{userinfo}");
    // A refused token request counts as well.
    let (status, _) = idp
        .exchange_raw(&code, REDIRECT_URI, &request.verifier)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        idp.stats().await,
        Stats {
            token_requests: 3,
            userinfo_requests: 2,
        }
    );

    idp.reset_stats().await;
    assert_eq!(idp.stats().await, zero);
}

#[tokio::test]
async fn authorization_without_pkce_is_refused() {
    let Some(idp) = provider().await else { return };
    let request = authorization_request(&idp);
    let url = reqwest::Url::parse(&request.url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !key.starts_with("code_challenge"))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut without = url.clone();
    without.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = idp.authorize(without.as_str(), "grace").await;
    assert_eq!(
        callback.error.as_deref(),
        Some("invalid_request"),
        "{callback:?}"
    );
    assert_eq!(callback.code, None);
}

#[tokio::test]
async fn providers_are_independent() {
    let (Some(one), Some(two)) = (provider().await, provider().await) else {
        return;
    };
    assert_ne!(one.issuer(), two.issuer());
    let (request, callback) = authorized(&one, "heidi").await;
    let (status, body) = two
        .exchange_raw(
            callback.code.as_deref().unwrap(),
            REDIRECT_URI,
            &request.verifier,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(one.stats().await.token_requests, 0);
    assert_eq!(two.stats().await.token_requests, 1);
}
