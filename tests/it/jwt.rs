//! Access tokens as JWTs: tokens minted outside the crate with the shared secret
//! are accepted, every kind of forged, expired or misdirected token is refused,
//! and the strategy's algorithm, leeway and lifetime settings hold.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
use axum_users::store::{MemoryStore, UserStore};
use axum_users::tokens::JwtCodec;
use axum_users::{AxumUsers, Error, User, UserManager};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::*;

// Test-only key pairs, generated with openssl for this file:
// `openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt`, `openssl rsa -pubout`,
// `openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt`,
// `openssl ec -pubout`.

const RSA_PRIVATE_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC5WxvaRSMHVtZy
4OT1yb6JYM8Qqo2V5u5eyScXVhmx6vvBxfexbyU3wIXAysW9tmIggJPPETdRFNo9
heyz/9nTA20z8QVZ5MWrAtKxR8CNxU9oYWlheysZqKr5wPKM9tYL1RtVLsJ2tZ1O
hhtzhLnte/Jpn79g1mVckdXnnmLKUIzc+MZGSMgLsLkhKKbHkjPoTtm5evshFa8I
VHp3gCXBQgIp4OvyfOdebFzZLESGjA9+qUSZDkqwBs707598uOmif14xypk7CSyw
oWEIfgdnMUgvT3E2RknycqAdbf6z3ND71tDeA/p16UbbcW4XRdimi5xCC3/sbGtD
ouvoDDIpAgMBAAECggEAAKSuUS5Dc1U2EETmcMfiRV0yJdo8jQUOUpndu5iT6h+O
0cmjMM13puuJMd0va/avA8F6YQaBLkvr/JgIqd9qJg1K02kugus3LAxEMOb77+2C
XShcxkCrCbcHSF2dyx0drikdUdltPx4yoD6JplbRhTGKr6sUr5tw7cUFmJPlT3DR
t2j0mpXsMq8tuSjVb5jEQzZfL14ey1dqZ+vFFxK2E62fDtE90UTAF4FboILJ+5gh
Lix2EH+qib2mFjiXqmAz9xcGqkuT7p3stvs4rwdjY0ZzwHNactVYhfaZHRW8XFr3
y0ypJNenttxNqVciYtjrIkSW1uB+zGiWXtI8UdCejwKBgQDaXlhmDK83Uuhzk4xc
pmY/m4SBMP9b5aphRvjfRvgr4N4SVVg+R1F952pPD7XtNx+Ua6cOa9w65M4YmMeu
3kNsAIFBYwx8U4ZQHsHdeuOfkGlv6HFxjOr8CRCx0viv3IGGAc+ARi5OJdUG6XAM
KXlt3Q0vacWfYiVpe6zzTu7VvwKBgQDZTFyC2oj4HwbfFNczQ60k93IBnMJvQKqL
pCfroAmpWj5te3QQrMvE83Mt5ZCuwbYnTKtzefZpHkkymmvNIOEvwc5OzmHo9/MD
JUYRlCGMZLg68TG/YgQbek8oWkULJjTfAAn2JK4DhgqSR23XlOoBTAyj9i89w6J3
hB9IsvSCFwKBgAywLrK/Se8NAjS0/hLkGEzZ3HklP7E3Rw8f8JYIqaLjDgRCsT3t
Ju8J40N0xj1iVpNpLevImKNTaCZFulSO1ZwQ63HBL5iJweQl5V3ZJiC/Y2D9QJo4
de7vF+k9OPX++gevUz9A1K/1wssEBV6vij63+Wwn2TPJoCLg7Mu2ampBAoGBALJm
I+l2W09BwdVyeb9nx4X69Qln1qWZ9KqSigfDq0rzgR9HZKGwC9dVe/FpcKBY/yBC
rNwwfGIO8E9wQiL15Ird1XATtoSa1FN3zY/vCqAFrM8PaCVU5kRc5RIfEmI16uBO
Wt9Pe+H+sT0pEYAVjQylkBcord5KeF8hBMId0enfAoGBAI1SSu6Pc9lD7levCzaw
ARFJcwCCHETnWDXMBKUifgbEYHJFBwPVfoHbXDeFezMaR9NJ7MARXpnEUVoWCO/p
TNCZK/tq4dOAGCiMGGTv9P2wwzhNVXKMCI3pI7gkXT1lRhP/RSeIrT6RjDkDA1tz
1ecxAM76nuYotr+iJplfy8p5
-----END PRIVATE KEY-----
";

const RSA_PUBLIC_PEM: &str = "\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuVsb2kUjB1bWcuDk9cm+
iWDPEKqNlebuXsknF1YZser7wcX3sW8lN8CFwMrFvbZiIICTzxE3URTaPYXss//Z
0wNtM/EFWeTFqwLSsUfAjcVPaGFpYXsrGaiq+cDyjPbWC9UbVS7CdrWdToYbc4S5
7XvyaZ+/YNZlXJHV555iylCM3PjGRkjIC7C5ISimx5Iz6E7ZuXr7IRWvCFR6d4Al
wUICKeDr8nznXmxc2SxEhowPfqlEmQ5KsAbO9O+ffLjpon9eMcqZOwkssKFhCH4H
ZzFIL09xNkZJ8nKgHW3+s9zQ+9bQ3gP6delG23FuF0XYpoucQgt/7GxrQ6Lr6Awy
KQIDAQAB
-----END PUBLIC KEY-----
";

const EC_PRIVATE_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5Fbr2M5znbzqnvb1
wPWvE+THdAtiR9UycKF/HeuHLuqhRANCAAR+o33/azQOtPOHVCkFXgXOq+PC4REB
G/ybOvjc91ZiKpPZ4Y5k61Pj6sgp2nN/MluccjsjfeONfmclRTPpDSyj
-----END PRIVATE KEY-----
";

const EC_PUBLIC_PEM: &str = "\
-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfqN9/2s0DrTzh1QpBV4FzqvjwuER
ARv8mzr43PdWYiqT2eGOZOtT4+rIKdpzfzJbnHI7I33jjX5nJUUz6Q0sow==
-----END PUBLIC KEY-----
";

/// The public half of another P-256 key pair (not matching [`EC_PRIVATE_PEM`]).
const EC_OTHER_PUBLIC_PEM: &str = "\
-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2k7mZ0WXKDn/EBafD7Se9u9D33rp
n6YFRaETg50meMBasNmXLKuc35szFdFOyYvptyGwSwISGPwUjl/aGoCnXg==
-----END PUBLIC KEY-----
";

/// A token signed with `key` under `alg`, with these claims.
fn mint(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn secret_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET.as_bytes())
}

/// An HS256 token over [`SECRET`] with these claims, as any holder of the secret
/// (FastAPI Users, say) would mint it.
fn hs256(claims: &Value) -> String {
    mint(Algorithm::HS256, &secret_key(), claims)
}

/// FastAPI Users' access-token claims for this user id.
fn claims_for(sub: &str) -> Value {
    json!({"sub": sub, "aud": ["fastapi-users:auth"], "exp": unix_now() + 3600})
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Asserts `/users/me` answers `expected` for this token.
async fn assert_me<S: UserStore<User = User>, H: axum_users::UserHooks<User>>(
    app: &TestApp<S, H>,
    token: &str,
    expected: StatusCode,
    what: &str,
) {
    let (status, body) = app.call(get("/users/me", Some(token))).await;
    assert_eq!(status, expected, "{what}: {body}");
}

/// A bearer-only app over `strategy`.
fn app_with_strategy(strategy: JwtStrategy) -> TestApp<MemoryStore<User>> {
    let manager = UserManager::builder(MemoryStore::new())
        .hasher(fast_hasher())
        .build();
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), strategy);
    let users = AxumUsers::new(manager, vec![bearer.clone()]);
    let router = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/users", users.users_router())
        .layer(users.layer());
    TestApp { router, users }
}

// ---- accepted --------------------------------------------------------------

#[tokio::test]
async fn externally_minted_hs256_token_is_accepted() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&claims_for(&user.id.to_string()));
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], user.id.to_string());
    assert_eq!(body["email"], "a@example.com");
}

#[tokio::test]
async fn externally_minted_token_with_string_audience_is_accepted() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&json!({
        "sub": user.id.to_string(),
        "aud": "fastapi-users:auth",
        "exp": unix_now() + 3600,
    }));
    assert_me(&app, &token, StatusCode::OK, "aud as a string").await;
}

#[tokio::test]
async fn token_whose_audience_list_contains_auth_is_accepted() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&json!({
        "sub": user.id.to_string(),
        "aud": ["some-other-audience", "fastapi-users:auth"],
        "exp": unix_now() + 3600,
    }));
    assert_me(
        &app,
        &token,
        StatusCode::OK,
        "aud list holding the auth audience",
    )
    .await;
}

#[tokio::test]
async fn token_with_extra_claims_is_accepted() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let mut claims = claims_for(&user.id.to_string());
    claims["iat"] = json!(unix_now());
    claims["jti"] = json!("some-id");
    claims["role"] = json!("admin");
    assert_me(&app, &hs256(&claims), StatusCode::OK, "extra claims").await;
}

#[tokio::test]
async fn crate_issued_token_verifies_with_the_shared_secret_outside_the_crate() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_audience(&["fastapi-users:auth"]);
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("the crate's token verifies with SECRET under HS256");
    assert_eq!(data.claims["sub"], user.id.to_string());
}

// ---- refused ---------------------------------------------------------------

#[tokio::test]
async fn unsigned_alg_none_token_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let payload = b64(&claims_for(&user.id.to_string()));
    for alg in ["none", "None", "NONE"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        let token = format!("{header}.{payload}.");
        assert_me(
            &app,
            &token,
            StatusCode::UNAUTHORIZED,
            &format!("alg {alg}"),
        )
        .await;
    }
}

#[tokio::test]
async fn hs256_token_without_signature_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&claims_for(&user.id.to_string()));
    let unsigned = token.rsplit_once('.').unwrap().0.to_owned() + ".";
    assert_me(
        &app,
        &unsigned,
        StatusCode::UNAUTHORIZED,
        "signature stripped",
    )
    .await;
}

#[tokio::test]
async fn hs512_token_with_the_same_secret_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = mint(
        Algorithm::HS512,
        &secret_key(),
        &claims_for(&user.id.to_string()),
    );
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "HS512").await;
}

#[tokio::test]
async fn hs384_token_with_the_same_secret_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = mint(
        Algorithm::HS384,
        &secret_key(),
        &claims_for(&user.id.to_string()),
    );
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "HS384").await;
}

#[tokio::test]
async fn token_signed_with_another_secret_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let claims = claims_for(&user.id.to_string());
    for secret in [
        "another-secret-0123456789abcdef0123456789abcdef0123456789abcdef",
        // A prefix of the real secret.
        &SECRET[..SECRET.len() - 1],
    ] {
        let token = mint(
            Algorithm::HS256,
            &EncodingKey::from_secret(secret.as_bytes()),
            &claims,
        );
        assert_me(&app, &token, StatusCode::UNAUTHORIZED, "another secret").await;
    }
}

#[tokio::test]
async fn token_expired_one_second_ago_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let mut claims = claims_for(&user.id.to_string());
    claims["exp"] = json!(unix_now() - 1);
    assert_me(
        &app,
        &hs256(&claims),
        StatusCode::UNAUTHORIZED,
        "exp = now - 1",
    )
    .await;
}

#[tokio::test]
async fn token_expired_ten_seconds_ago_is_refused_without_leeway() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let mut claims = claims_for(&user.id.to_string());
    claims["exp"] = json!(unix_now() - 10);
    assert_me(
        &app,
        &hs256(&claims),
        StatusCode::UNAUTHORIZED,
        "exp = now - 10",
    )
    .await;
}

#[tokio::test]
async fn token_without_exp_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"]}));
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "no exp").await;
}

#[tokio::test]
async fn token_without_audience_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&json!({"sub": user.id.to_string(), "exp": unix_now() + 3600}));
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "no aud").await;
}

#[tokio::test]
async fn token_without_sub_is_refused() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&json!({"aud": ["fastapi-users:auth"], "exp": unix_now() + 3600}));
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "no sub").await;
}

#[tokio::test]
async fn token_for_verify_or_reset_audience_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    for aud in [
        json!(["fastapi-users:verify"]),
        json!("fastapi-users:verify"),
        json!(["fastapi-users:reset"]),
        json!("fastapi-users:reset"),
    ] {
        let token = hs256(&json!({
            "sub": user.id.to_string(),
            "aud": aud,
            "email": "a@example.com",
            "exp": unix_now() + 3600,
        }));
        assert_me(
            &app,
            &token,
            StatusCode::UNAUTHORIZED,
            &format!("aud {aud}"),
        )
        .await;
    }
}

#[tokio::test]
async fn token_with_non_uuid_sub_is_refused() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    for sub in ["1", "not-a-uuid", "", "a@example.com"] {
        let token = hs256(&claims_for(sub));
        assert_me(
            &app,
            &token,
            StatusCode::UNAUTHORIZED,
            &format!("sub {sub:?}"),
        )
        .await;
    }
    // A numeric sub, not even a string.
    let token = hs256(&json!({"sub": 1, "aud": ["fastapi-users:auth"], "exp": unix_now() + 3600}));
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "numeric sub").await;
}

#[tokio::test]
async fn token_for_unknown_user_is_refused() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let token = hs256(&claims_for(&Uuid::new_v4().to_string()));
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "unknown sub").await;
}

#[tokio::test]
async fn token_with_tampered_payload_is_refused() {
    let app = app();
    app.create_user("alice@example.com", true, false, false)
        .await;
    let admin = app.create_user("admin@example.com", true, true, true).await;
    let token = app.login("alice@example.com").await;
    assert_me(&app, &token, StatusCode::OK, "the untampered token").await;

    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut claims = jwt_payload(&token);
    claims["sub"] = json!(admin.id.to_string());
    let forged = format!("{header}.{}.{signature}", b64(&claims));
    assert_me(
        &app,
        &forged,
        StatusCode::UNAUTHORIZED,
        "sub swapped to the admin",
    )
    .await;

    let mut claims = jwt_payload(&token);
    claims["exp"] = json!(unix_now() + 365 * 24 * 3600);
    let forged = format!("{header}.{}.{signature}", b64(&claims));
    assert_me(&app, &forged, StatusCode::UNAUTHORIZED, "exp extended").await;
}

#[tokio::test]
async fn token_of_deleted_user_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    assert_me(&app, &token, StatusCode::OK, "before deletion").await;
    app.users.manager().store().delete(&user.id).await.unwrap();
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "after deletion").await;
}

#[tokio::test]
async fn token_of_deactivated_user_is_refused() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    assert_me(&app, &token, StatusCode::OK, "while active").await;
    let deactivate = axum_users::store::UserChanges {
        is_active: Some(false),
        ..Default::default()
    };
    app.users
        .manager()
        .store()
        .update(&user.id, deactivate)
        .await
        .unwrap();
    assert_me(&app, &token, StatusCode::UNAUTHORIZED, "after deactivation").await;
}

#[tokio::test]
async fn garbage_tokens_are_refused() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    for token in ["garbage", "a.b.c", "..", "e30.e30.", "eyJhbGciOiJIUzI1NiJ9"] {
        assert_me(&app, token, StatusCode::UNAUTHORIZED, &format!("{token:?}")).await;
    }
}

// ---- RS256 and ES256 --------------------------------------------------------

fn rs256_app() -> TestApp<MemoryStore<User>> {
    let codec = JwtCodec::rs256(RSA_PRIVATE_PEM.as_bytes(), RSA_PUBLIC_PEM.as_bytes()).unwrap();
    app_with_strategy(JwtStrategy::new(codec))
}

fn es256_app() -> TestApp<MemoryStore<User>> {
    let codec = JwtCodec::es256(EC_PRIVATE_PEM.as_bytes(), EC_PUBLIC_PEM.as_bytes()).unwrap();
    app_with_strategy(JwtStrategy::new(codec))
}

#[tokio::test]
async fn rs256_strategy_round_trips_through_the_router() {
    let app = rs256_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    assert_eq!(jwt_header(&token)["alg"], "RS256");
    let claims = jwt_payload(&token);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["aud"], json!(["fastapi-users:auth"]));
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "a@example.com");
}

#[tokio::test]
async fn es256_strategy_round_trips_through_the_router() {
    let app = es256_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    assert_eq!(jwt_header(&token)["alg"], "ES256");
    assert_eq!(jwt_payload(&token)["sub"], user.id.to_string());
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "a@example.com");
}

#[tokio::test]
async fn rs256_app_accepts_token_minted_with_the_private_key() {
    let app = rs256_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    let token = mint(Algorithm::RS256, &key, &claims_for(&user.id.to_string()));
    assert_me(&app, &token, StatusCode::OK, "RS256 minted outside").await;
}

#[tokio::test]
async fn hs256_token_is_refused_by_rs256_app() {
    let app = rs256_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let claims = claims_for(&user.id.to_string());
    assert_me(
        &app,
        &hs256(&claims),
        StatusCode::UNAUTHORIZED,
        "HS256 over SECRET",
    )
    .await;
    // Algorithm confusion: HMAC keyed with the public key the app verifies with.
    let confused = mint(
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_PUBLIC_PEM.as_bytes()),
        &claims,
    );
    assert_me(
        &app,
        &confused,
        StatusCode::UNAUTHORIZED,
        "HS256 keyed with the public key",
    )
    .await;
}

#[tokio::test]
async fn es256_token_is_refused_by_rs256_app_and_vice_versa() {
    let rs = rs256_app();
    let es = es256_app();
    let rs_user = rs.create_user("a@example.com", true, false, false).await;
    let es_user = es.create_user("a@example.com", true, false, false).await;
    let es_key = EncodingKey::from_ec_pem(EC_PRIVATE_PEM.as_bytes()).unwrap();
    let rs_key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    let es_token = mint(
        Algorithm::ES256,
        &es_key,
        &claims_for(&rs_user.id.to_string()),
    );
    assert_me(
        &rs,
        &es_token,
        StatusCode::UNAUTHORIZED,
        "ES256 token on the RS256 app",
    )
    .await;
    let rs_token = mint(
        Algorithm::RS256,
        &rs_key,
        &claims_for(&es_user.id.to_string()),
    );
    assert_me(
        &es,
        &rs_token,
        StatusCode::UNAUTHORIZED,
        "RS256 token on the ES256 app",
    )
    .await;
}

#[tokio::test]
async fn hs256_app_refuses_rs256_token() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    let token = mint(Algorithm::RS256, &key, &claims_for(&user.id.to_string()));
    assert_me(
        &app,
        &token,
        StatusCode::UNAUTHORIZED,
        "RS256 on the HS256 app",
    )
    .await;
}

// ---- leeway and lifetime ------------------------------------------------------

#[tokio::test]
async fn leeway_accepts_recently_expired_token() {
    let lenient = app_with_strategy(
        JwtStrategy::hs256(SECRET)
            .unwrap()
            .leeway(Duration::from_secs(30)),
    );
    let strict = app_with_strategy(JwtStrategy::hs256(SECRET).unwrap());
    for app in [&lenient, &strict] {
        app.create_user("a@example.com", true, false, false).await;
    }
    let lenient_id = lenient
        .users
        .manager()
        .get_by_email("a@example.com")
        .await
        .unwrap()
        .id;
    let strict_id = strict
        .users
        .manager()
        .get_by_email("a@example.com")
        .await
        .unwrap()
        .id;

    let mut claims = claims_for(&lenient_id.to_string());
    claims["exp"] = json!(unix_now() - 10);
    assert_me(
        &lenient,
        &hs256(&claims),
        StatusCode::OK,
        "10 s late, 30 s leeway",
    )
    .await;
    claims["exp"] = json!(unix_now() - 120);
    assert_me(
        &lenient,
        &hs256(&claims),
        StatusCode::UNAUTHORIZED,
        "120 s late, 30 s leeway",
    )
    .await;

    let mut claims = claims_for(&strict_id.to_string());
    claims["exp"] = json!(unix_now() - 10);
    assert_me(
        &strict,
        &hs256(&claims),
        StatusCode::UNAUTHORIZED,
        "10 s late, no leeway",
    )
    .await;
}

#[tokio::test]
async fn lifetime_sets_exp_of_issued_tokens() {
    let app = app_with_strategy(
        JwtStrategy::hs256(SECRET)
            .unwrap()
            .lifetime(Duration::from_secs(900)),
    );
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let exp = jwt_payload(&token)["exp"].as_i64().unwrap();
    let expected = unix_now() + 900;
    assert!(
        (exp - expected).abs() <= 5,
        "exp {exp}, expected about {expected}"
    );
    assert_me(
        &app,
        &token,
        StatusCode::OK,
        "a token with a 900 s lifetime",
    )
    .await;
}

#[tokio::test]
async fn default_lifetime_is_one_hour() {
    let app = app_with_strategy(JwtStrategy::hs256(SECRET).unwrap());
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let exp = jwt_payload(&token)["exp"].as_i64().unwrap();
    let expected = unix_now() + 3600;
    assert!(
        (exp - expected).abs() <= 5,
        "exp {exp}, expected about {expected}"
    );
}

// ---- configuration errors --------------------------------------------------------

#[test]
fn empty_secret_is_a_config_error() {
    assert!(
        matches!(JwtCodec::hs256(""), Err(Error::Config(_))),
        "JwtCodec::hs256(\"\")"
    );
    assert!(
        matches!(JwtCodec::hs256(b""), Err(Error::Config(_))),
        "JwtCodec::hs256(b\"\")"
    );
    assert!(
        matches!(JwtStrategy::hs256(""), Err(Error::Config(_))),
        "JwtStrategy::hs256(\"\")"
    );
    assert!(
        matches!(JwtCodec::hs256_allow_short(""), Err(Error::Config(_))),
        "not even when short secrets are allowed"
    );
    assert!(JwtCodec::hs256("x".repeat(32)).is_ok(), "32 bytes are fine");
}

#[test]
fn a_secret_shorter_than_32_bytes_is_a_config_error_naming_the_minimum() {
    for short in ["x", "fastapi-users-secret", &"x".repeat(31)] {
        for result in [
            JwtCodec::hs256(short).map(|_| ()),
            JwtStrategy::hs256(short).map(|_| ()),
        ] {
            match result {
                Err(Error::Config(message)) => {
                    assert!(message.contains("at least 32"), "{message}");
                    assert!(
                        short.len() < 8 || !message.contains(short),
                        "the secret is not echoed: {message}"
                    );
                }
                other => panic!("{short:?}: {other:?}"),
            }
        }
        let manager = UserManager::builder(MemoryStore::<User>::new())
            .token_secret(short)
            .try_build();
        assert!(
            matches!(manager, Err(Error::Config(_))),
            "manager, {short:?}"
        );
        // The documented opt-in, for migrated deployments.
        assert!(JwtStrategy::hs256_allow_short(short).is_ok());
        assert!(
            UserManager::builder(MemoryStore::<User>::new())
                .token_secret(short)
                .allow_short_secrets(true)
                .try_build()
                .is_ok()
        );
    }
}

#[tokio::test]
async fn tokens_signed_with_an_allowed_short_secret_round_trip() {
    let short = "fastapi-users-secret";
    let app = app_with_strategy(JwtStrategy::hs256_allow_short(short).unwrap());
    let user = app.create_user("a@example.com", true, false, false).await;
    let minted = mint(
        Algorithm::HS256,
        &EncodingKey::from_secret(short.as_bytes()),
        &claims_for(&user.id.to_string()),
    );
    assert_me(
        &app,
        &minted,
        StatusCode::OK,
        "minted with the short secret",
    )
    .await;
}

#[test]
fn malformed_or_mismatched_pem_keys_are_config_errors() {
    assert!(matches!(
        JwtCodec::rs256(b"not a pem", RSA_PUBLIC_PEM.as_bytes()),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        JwtCodec::rs256(RSA_PRIVATE_PEM.as_bytes(), b"not a pem"),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        JwtCodec::es256(RSA_PRIVATE_PEM.as_bytes(), RSA_PUBLIC_PEM.as_bytes()),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        JwtCodec::es256(
            EC_PRIVATE_PEM.as_bytes(),
            b"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"
        ),
        Err(Error::Config(_))
    ));
    // A private key that does not match the public one fails the self-test.
    assert!(matches!(
        JwtCodec::es256(EC_PRIVATE_PEM.as_bytes(), EC_OTHER_PUBLIC_PEM.as_bytes()),
        Err(Error::Config(_))
    ));
    // The matching pairs are fine.
    assert!(JwtCodec::es256(EC_PRIVATE_PEM.as_bytes(), EC_PUBLIC_PEM.as_bytes()).is_ok());
    assert!(JwtCodec::rs256(RSA_PRIVATE_PEM.as_bytes(), RSA_PUBLIC_PEM.as_bytes()).is_ok());
}

#[test]
fn codec_debug_never_shows_the_secret() {
    let codec = JwtCodec::hs256(SECRET).unwrap();
    let debug = format!("{codec:?} {:?}", JwtStrategy::new(codec.clone()));
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(!debug.contains(&SECRET[..16]), "{debug}");
}

// ---- the token generation: resets, deactivations and a superuser's password
// change end a user's JWTs ---------------------------------------------------

/// The reset token the mail would bring `user`, used over HTTP.
async fn reset_over_http<S: UserStore<User = User>, H: axum_users::UserHooks<User>>(
    app: &TestApp<S, H>,
    user: &User,
) {
    let token = app.users.manager().reset_password_token(user).unwrap();
    let (status, body) = app
        .call(json_request(
            "POST",
            "/auth/reset-password",
            None,
            &json!({"token": token, "password": "a brand new password"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A cookie-transport login of `email`: the cookie's value.
async fn cookie_login<S: UserStore<User = User>, H: axum_users::UserHooks<User>>(
    app: &TestApp<S, H>,
    email: &str,
) -> String {
    let response = app
        .send(login_request("/auth/cookie/login", email, PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let set_cookie = response.headers()[axum::http::header::SET_COOKIE]
        .to_str()
        .unwrap();
    let cookie = cookie::Cookie::parse(set_cookie.to_owned()).unwrap();
    cookie.value().to_owned()
}

async fn me_with_cookie<S: UserStore<User = User>, H: axum_users::UserHooks<User>>(
    app: &TestApp<S, H>,
    cookie: &str,
) -> StatusCode {
    let request = axum::http::Request::builder()
        .uri("/users/me")
        .header(
            axum::http::header::COOKIE,
            format!("fastapiusersauth={cookie}"),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    app.call(request).await.0
}

#[tokio::test]
async fn jwts_carry_the_users_token_generation() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    assert_eq!(jwt_payload(&token)["gen"], 0);
    reset_over_http(&app, &user).await;
    let token = app.login_as("a@example.com", "a brand new password").await;
    assert_eq!(jwt_payload(&token)["gen"], 1);
    assert_me(
        &app,
        &token,
        StatusCode::OK,
        "a token of the new generation",
    )
    .await;
}

#[tokio::test]
async fn a_password_reset_ends_the_users_older_jwts_bearer_and_cookie() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let other = app.create_user("b@example.com", true, false, false).await;
    let bearer = app.login("a@example.com").await;
    let cookie = cookie_login(&app, "a@example.com").await;
    let others = app.login("b@example.com").await;
    assert_me(&app, &bearer, StatusCode::OK, "before the reset").await;
    assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::OK);
    reset_over_http(&app, &user).await;
    assert_me(
        &app,
        &bearer,
        StatusCode::UNAUTHORIZED,
        "bearer JWT after the reset",
    )
    .await;
    assert_eq!(
        me_with_cookie(&app, &cookie).await,
        StatusCode::UNAUTHORIZED,
        "cookie JWT after the reset"
    );
    assert_me(&app, &others, StatusCode::OK, "another user's token").await;
    let _ = other;
}

#[tokio::test]
async fn a_superuser_password_change_ends_the_users_jwts() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    app.create_user("admin@example.com", true, true, true).await;
    let token = app.login("a@example.com").await;
    let admin = app.login("admin@example.com").await;
    let (status, body) = app
        .call(json_request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            &json!({"password": "set by the admin"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_me(
        &app,
        &token,
        StatusCode::UNAUTHORIZED,
        "after the admin's change",
    )
    .await;
    assert_me(&app, &admin, StatusCode::OK, "the admin's own token").await;
    // A change of another field by the admin ends nothing.
    let token = app.login_as("a@example.com", "set by the admin").await;
    let (status, _) = app
        .call(json_request(
            "PATCH",
            &format!("/users/{}", user.id),
            Some(&admin),
            &json!({"is_verified": true}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_me(&app, &token, StatusCode::OK, "after a change of a flag").await;
}

#[tokio::test]
async fn changing_ones_own_password_keeps_the_requests_jwt() {
    let app = app();
    app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    let (status, body) = app
        .call(json_request(
            "PATCH",
            "/users/me",
            Some(&token),
            &json!({"password": "my own new password"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_me(&app, &token, StatusCode::OK, "the request's own token").await;
}

#[tokio::test]
async fn a_deactivation_ends_the_users_jwts_for_good() {
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    app.create_user("admin@example.com", true, true, true).await;
    let token = app.login("a@example.com").await;
    let admin = app.login("admin@example.com").await;
    for active in [false, true] {
        let (status, _) = app
            .call(json_request(
                "PATCH",
                &format!("/users/{}", user.id),
                Some(&admin),
                &json!({ "is_active": active }),
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_me(
        &app,
        &token,
        StatusCode::UNAUTHORIZED,
        "reactivated, the old token stays dead",
    )
    .await;
    assert_me(
        &app,
        &app.login("a@example.com").await,
        StatusCode::OK,
        "a new login",
    )
    .await;
}

#[tokio::test]
async fn with_logout_everywhere_off_a_reset_keeps_the_jwts() {
    let manager = UserManager::builder(MemoryStore::<User>::new())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .logout_everywhere(axum_users::LogoutEverywhere {
            on_password_change: false,
            on_deactivation: false,
            on_deletion: true,
        })
        .build();
    let app = app_from_manager(manager, Options::default());
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.login("a@example.com").await;
    reset_over_http(&app, &user).await;
    assert_me(&app, &token, StatusCode::OK, "the policy keeps tokens").await;
}

#[tokio::test]
async fn a_token_without_gen_stays_accepted_as_the_contract_requires() {
    // FastAPI Users mints no `gen`; such tokens are read as unbound.
    let app = app();
    let user = app.create_user("a@example.com", true, false, false).await;
    reset_over_http(&app, &user).await;
    let minted = hs256(&claims_for(&user.id.to_string()));
    assert_me(&app, &minted, StatusCode::OK, "a token without gen").await;
    // One with an older `gen` is refused; a malformed `gen` is no token.
    let mut claims = claims_for(&user.id.to_string());
    claims["gen"] = json!(0);
    assert_me(
        &app,
        &hs256(&claims),
        StatusCode::UNAUTHORIZED,
        "gen 0 after a reset",
    )
    .await;
    claims["gen"] = json!(1);
    assert_me(&app, &hs256(&claims), StatusCode::OK, "the current gen").await;
    for bad in [json!("1"), json!(-1), json!(1.5)] {
        claims["gen"] = bad.clone();
        assert_me(
            &app,
            &hs256(&claims),
            StatusCode::UNAUTHORIZED,
            &format!("gen {bad}"),
        )
        .await;
    }
}
