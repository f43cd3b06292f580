//! The provider presets against recorded provider answers: each preset is
//! pointed at a local stand-in that replays what the real provider answers
//! (from the providers' API documentation), and must read the right account
//! id, address and verification out of it, authenticate as the provider
//! expects, and send PKCE.

use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_users::oauth::{
    AuthorizationRequest, CodeExchange, OAuth2Provider, OAuthProvider, presets,
};
use axum_users::{Error, ErrorCode};
use serde_json::{Value, json};

/// What the stand-in saw and what it answers.
#[derive(Default)]
struct Recorded {
    token_forms: Vec<Vec<(String, String)>>,
    token_auth_headers: Vec<Option<String>>,
    userinfo_auth: Vec<Option<String>>,
}

#[derive(Clone)]
struct Stand {
    recorded: Arc<Mutex<Recorded>>,
    token_answer: Arc<(StatusCode, Value)>,
    /// Path → answer of the user-info endpoints.
    info: Arc<Vec<(&'static str, Value)>>,
}

async fn token(
    State(stand): State<Stand>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> impl IntoResponse {
    let mut recorded = stand.recorded.lock().unwrap();
    recorded.token_forms.push(form);
    recorded.token_auth_headers.push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let (status, body) = &*stand.token_answer;
    (*status, Json(body.clone()))
}

async fn info(
    State(stand): State<Stand>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> impl IntoResponse {
    stand.recorded.lock().unwrap().userinfo_auth.push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    match stand.info.iter().find(|(path, _)| *path == uri.path()) {
        Some((_, body)) => (StatusCode::OK, Json(body.clone())),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))),
    }
}

/// Starts the stand-in; returns its base URL and recordings.
async fn stand(
    token_answer: (StatusCode, Value),
    info_answers: Vec<(&'static str, Value)>,
) -> (String, Arc<Mutex<Recorded>>) {
    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let stand = Stand {
        recorded: recorded.clone(),
        token_answer: Arc::new(token_answer),
        info: Arc::new(info_answers),
    };
    let app = Router::new()
        .route("/token", post(token))
        .route("/userinfo", get(info))
        .route("/userinfo/emails", get(info))
        .with_state(stand);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, recorded)
}

fn point_at(provider: OAuth2Provider, base: &str) -> OAuth2Provider {
    provider
        .endpoints(
            &format!("{base}/authorize"),
            &format!("{base}/token"),
            &format!("{base}/userinfo"),
        )
        .unwrap()
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

async fn sign_in(provider: &OAuth2Provider) -> Result<axum_users::manager::OAuthLogin, Error> {
    provider
        .sign_in(CodeExchange::new(
            "the-code",
            "https://app.example/auth/x/callback",
            VERIFIER,
            "nonce",
        ))
        .await
}

fn bearer_token(access_token: &str) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"access_token": access_token, "token_type": "bearer", "scope": "x"}),
    )
}

/// The token request carried the code, the PKCE verifier and the client
/// credentials in the body (`client_secret_post`), and no Basic header.
fn assert_post_client_auth(recorded: &Recorded) {
    let form = &recorded.token_forms[0];
    let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("grant_type"), Some("authorization_code"));
    assert_eq!(get("code"), Some("the-code"));
    assert_eq!(get("code_verifier"), Some(VERIFIER));
    assert_eq!(
        get("redirect_uri"),
        Some("https://app.example/auth/x/callback")
    );
    assert_eq!(get("client_id"), Some("id"));
    assert_eq!(get("client_secret"), Some("s3cret"));
    assert_eq!(recorded.token_auth_headers[0], None);
}

#[tokio::test]
async fn github_takes_only_the_verified_primary_address() {
    let (base, recorded) = stand(
        bearer_token("gho_16C7e42F292c6912E7710c838347Ae178B4a"),
        vec![
            (
                "/userinfo",
                json!({
                    "login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
                    "type": "User", "name": "monalisa octocat",
                    "email": "octocat@public.example"
                }),
            ),
            (
                "/userinfo/emails",
                json!([
                    {"email": "octocat@unverified.example", "verified": false, "primary": false, "visibility": null},
                    {"email": "octocat@secondary.example", "verified": true, "primary": false, "visibility": null},
                    {"email": "octocat@github.com", "verified": true, "primary": true, "visibility": "public"}
                ]),
            ),
        ],
    )
    .await;
    let github = point_at(presets::github("id", "s3cret").unwrap(), &base);
    let login = sign_in(&github).await.unwrap();
    assert_eq!(login.oauth_name, "github");
    assert_eq!(login.account_id, "583231", "the numeric id, as a string");
    assert_eq!(login.email.as_deref(), Some("octocat@github.com"));
    assert!(login.email_verified);
    assert_eq!(
        login.access_token.expose(),
        "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    );
    let recorded = recorded.lock().unwrap();
    assert_post_client_auth(&recorded);
    assert_eq!(
        recorded.userinfo_auth,
        vec![Some("Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a".to_owned()); 2]
    );
}

#[tokio::test]
async fn github_without_a_verified_primary_address_gives_none() {
    let (base, _) = stand(
        bearer_token("gho_x"),
        vec![
            (
                "/userinfo",
                json!({"login": "octocat", "id": 583231, "email": "octocat@public.example"}),
            ),
            (
                "/userinfo/emails",
                json!([
                    {"email": "octocat@unverified.example", "verified": false, "primary": true, "visibility": "public"},
                    {"email": "octocat@secondary.example", "verified": true, "primary": false, "visibility": null}
                ]),
            ),
        ],
    )
    .await;
    let github = point_at(presets::github("id", "s3cret").unwrap(), &base);
    let login = sign_in(&github).await.unwrap();
    assert_eq!(
        login.email, None,
        "neither the public /user address, an unverified primary nor a verified secondary counts"
    );
    assert!(!login.email_verified);
}

#[tokio::test]
async fn github_refusing_the_code_with_a_200_is_an_invalid_code() {
    // GitHub answers a bad code with 200 and an error object.
    let (base, _) = stand(
        (
            StatusCode::OK,
            json!({
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"
            }),
        ),
        vec![],
    )
    .await;
    let github = point_at(presets::github("id", "s3cret").unwrap(), &base);
    let error = sign_in(&github).await.unwrap_err();
    assert!(
        matches!(error, Error::Code(ErrorCode::OAuthInvalidCode)),
        "{error:?}"
    );
}

#[tokio::test]
async fn google_reads_the_openid_userinfo() {
    let (base, recorded) = stand(
        (
            StatusCode::OK,
            json!({
                "access_token": "ya29.a0AfH6SMC", "expires_in": 3599,
                "scope": "openid https://www.googleapis.com/auth/userinfo.email",
                "token_type": "Bearer", "refresh_token": "1//0g-refresh",
                "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.sig"
            }),
        ),
        vec![(
            "/userinfo",
            json!({
                "sub": "110169484474386276334", "name": "Jane Doe",
                "picture": "https://lh3.googleusercontent.com/a/photo.jpg",
                "email": "jane.doe@gmail.com", "email_verified": true
            }),
        )],
    )
    .await;
    let google = point_at(presets::google("id", "s3cret").unwrap(), &base);
    let login = sign_in(&google).await.unwrap();
    assert_eq!(login.oauth_name, "google");
    assert_eq!(login.account_id, "110169484474386276334");
    assert_eq!(login.email.as_deref(), Some("jane.doe@gmail.com"));
    assert!(login.email_verified);
    assert_eq!(
        login.refresh_token.as_ref().map(|t| t.expose()),
        Some("1//0g-refresh")
    );
    let expires_at = login.expires_at.expect("expires_in becomes expires_at");
    let now = crate::common::unix_now();
    assert!((now + 3590..=now + 3610).contains(&expires_at));
    assert_post_client_auth(&recorded.lock().unwrap());
}

#[tokio::test]
async fn google_unverified_address_is_not_verified() {
    let (base, _) = stand(
        bearer_token("ya29.x"),
        vec![(
            "/userinfo",
            json!({"sub": "1101", "email": "jane@example.com", "email_verified": false}),
        )],
    )
    .await;
    let google = point_at(presets::google("id", "s3cret").unwrap(), &base);
    let login = sign_in(&google).await.unwrap();
    assert_eq!(login.email.as_deref(), Some("jane@example.com"));
    assert!(!login.email_verified);
}

#[tokio::test]
async fn microsoft_addresses_are_never_trusted_as_verified() {
    let (base, _) = stand(
        bearer_token("eyJ0eXAiOiJKV1Qi"),
        vec![(
            "/userinfo",
            json!({
                "sub": "OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA",
                "name": "Mikah Ollenburg", "family_name": "Ollenburg", "given_name": "Mikah",
                "picture": "https://graph.microsoft.com/v1.0/me/photo/$value",
                "email": "mikoll@contoso.com", "email_verified": true
            }),
        )],
    )
    .await;
    let microsoft = point_at(
        presets::microsoft("id", "s3cret", presets::MICROSOFT_COMMON_TENANT).unwrap(),
        &base,
    );
    let login = sign_in(&microsoft).await.unwrap();
    assert_eq!(
        login.account_id,
        "OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA"
    );
    assert_eq!(login.email.as_deref(), Some("mikoll@contoso.com"));
    assert!(
        !login.email_verified,
        "Microsoft does not vouch for addresses, whatever a claim says"
    );
}

#[tokio::test]
async fn microsoft_tenant_is_validated() {
    assert!(presets::microsoft("id", "s", "contoso.onmicrosoft.com").is_ok());
    assert!(presets::microsoft("id", "s", "9188040d-6c67-4c5b-b112-36a304b66dad").is_ok());
    assert!(presets::microsoft("id", "s", "common/../evil").is_err());
    assert!(presets::microsoft("id", "s", "").is_err());
}

#[tokio::test]
async fn discord_reads_users_me() {
    let (base, _) = stand(
        (
            StatusCode::OK,
            json!({
                "access_token": "6qrZcUqja7812RVdnEKjpzOL4CvHBFG", "token_type": "Bearer",
                "expires_in": 604800, "refresh_token": "D43f5y0ahjqew82jZ4NViEr2YafMKhue",
                "scope": "identify email"
            }),
        ),
        vec![(
            "/userinfo",
            json!({
                "id": "80351110224678912", "username": "Nelly", "discriminator": "1337",
                "avatar": "8342729096ea3675442027381ff50dfe", "verified": true,
                "email": "nelly@discord.com", "flags": 64, "banner": null,
                "accent_color": 16711680, "premium_type": 1, "public_flags": 64
            }),
        )],
    )
    .await;
    let discord = point_at(presets::discord("id", "s3cret").unwrap(), &base);
    let login = sign_in(&discord).await.unwrap();
    assert_eq!(login.oauth_name, "discord");
    assert_eq!(login.account_id, "80351110224678912");
    assert_eq!(login.email.as_deref(), Some("nelly@discord.com"));
    assert!(login.email_verified);
}

#[tokio::test]
async fn discord_unverified_account_is_not_verified() {
    let (base, _) = stand(
        bearer_token("t"),
        vec![(
            "/userinfo",
            json!({"id": "80351110224678912", "username": "Nelly", "verified": false, "email": "nelly@discord.com"}),
        )],
    )
    .await;
    let discord = point_at(presets::discord("id", "s3cret").unwrap(), &base);
    assert!(!sign_in(&discord).await.unwrap().email_verified);
}

#[tokio::test]
async fn gitlab_reads_the_openid_userinfo() {
    let (base, _) = stand(
        (
            StatusCode::OK,
            json!({
                "access_token": "de6780bc506a0446309bd9362820ba8aed28aa506c71eedbe1c5c4f9dd350e54",
                "token_type": "Bearer", "expires_in": 7200,
                "refresh_token": "8257e65c97202ed1726cf9571600918f3bffb2544b26e00a61df9897668c33a1",
                "created_at": 1607635748
            }),
        ),
        vec![(
            "/userinfo",
            json!({
                "sub": "1", "sub_legacy": "2ab1e1a3b4e5d1a6f2a8f1c0e1b2c3d4",
                "name": "Administrator", "nickname": "root", "preferred_username": "root",
                "email": "admin@example.com", "email_verified": true,
                "website": "", "profile": "https://gitlab.example.com/root",
                "picture": "https://gitlab.example.com/uploads/avatar.png", "groups": []
            }),
        )],
    )
    .await;
    let gitlab = point_at(
        presets::gitlab("id", "s3cret", presets::GITLAB_URL).unwrap(),
        &base,
    );
    let login = sign_in(&gitlab).await.unwrap();
    assert_eq!(login.oauth_name, "gitlab");
    assert_eq!(login.account_id, "1");
    assert_eq!(login.email.as_deref(), Some("admin@example.com"));
    assert!(login.email_verified);
}

#[tokio::test]
async fn a_provider_failing_is_a_provider_error_without_its_url() {
    for (status, body) in [
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "temporarily_unavailable"}),
        ),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!("<html>oops</html>"),
        ),
        (StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"})),
        (StatusCode::OK, json!({"token_type": "bearer"})),
    ] {
        let (base, _) = stand((status, body.clone()), vec![]).await;
        let discord = point_at(presets::discord("id", "s3cret").unwrap(), &base);
        let error = sign_in(&discord).await.unwrap_err();
        assert!(
            matches!(error, Error::OAuthProvider(_)),
            "{status} {body}: {error:?}"
        );
        assert!(!error.to_string().contains(&base), "{error}");
        let response = axum::response::IntoResponse::into_response(error);
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    }
    // A user-info endpoint that fails.
    let (base, _) = stand(bearer_token("t"), vec![]).await;
    let discord = point_at(presets::discord("id", "s3cret").unwrap(), &base);
    assert!(matches!(
        sign_in(&discord).await.unwrap_err(),
        Error::OAuthProvider(_)
    ));
    // A provider that is not there at all.
    let gone = point_at(
        presets::discord("id", "s3cret").unwrap(),
        "http://127.0.0.1:9",
    );
    assert!(matches!(
        sign_in(&gone).await.unwrap_err(),
        Error::OAuthProvider(_)
    ));
}

#[tokio::test]
async fn each_preset_sends_pkce_and_its_scopes_to_its_real_endpoint() {
    let cases: Vec<(OAuth2Provider, &str, &str)> = vec![
        (
            presets::github("id", "s").unwrap(),
            "https://github.com/login/oauth/authorize",
            "read:user user:email",
        ),
        (
            presets::google("id", "s").unwrap(),
            "https://accounts.google.com/o/oauth2/v2/auth",
            "openid email",
        ),
        (
            presets::microsoft("id", "s", "common").unwrap(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "openid email profile",
        ),
        (
            presets::discord("id", "s").unwrap(),
            "https://discord.com/oauth2/authorize",
            "identify email",
        ),
        (
            presets::gitlab("id", "s", "https://gitlab.example.com/").unwrap(),
            "https://gitlab.example.com/oauth/authorize",
            "openid email",
        ),
    ];
    for (provider, endpoint, scope) in cases {
        let url = provider
            .authorization_url(AuthorizationRequest::new(
                "https://app.example/cb",
                "the-state",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "the-nonce",
            ))
            .await
            .unwrap();
        let parsed = reqwest::Url::parse(&url).unwrap();
        assert_eq!(
            format!(
                "{}://{}{}",
                parsed.scheme(),
                parsed.host_str().unwrap(),
                parsed.path()
            ),
            endpoint
        );
        let query: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        let get = |key: &str| {
            query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("response_type"), Some("code"), "{url}");
        assert_eq!(get("client_id"), Some("id"));
        assert_eq!(get("redirect_uri"), Some("https://app.example/cb"));
        assert_eq!(get("state"), Some("the-state"));
        assert_eq!(get("scope"), Some(scope), "{url}");
        assert_eq!(
            get("code_challenge"),
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        );
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(
            get("client_secret"),
            None,
            "the secret never goes to the browser"
        );
    }
}

#[tokio::test]
async fn a_provider_debug_output_hides_the_client_secret() {
    let github = presets::github("id", "super-secret-value").unwrap();
    let debug = format!("{github:?}");
    assert!(!debug.contains("super-secret-value"), "{debug}");
}

#[tokio::test]
async fn provider_endpoints_must_be_https_except_on_this_machine() {
    use axum_users::oauth::{OidcProvider, UserInfoMapping};
    // Codes, tokens and the client secret travel to these endpoints.
    assert!(OidcProvider::new("x", "http://id.example.com", "id", "s").is_err());
    assert!(OidcProvider::new("x", "https://id.example.com", "id", "s").is_ok());
    assert!(OidcProvider::new("x", "http://127.0.0.1:8080", "id", "s").is_ok());
    assert!(OidcProvider::new("x", "http://[::1]:8080", "id", "s").is_ok());
    assert!(OidcProvider::new("x", "http://localhost:8080", "id", "s").is_ok());
    let generic = |token: &str| {
        OAuth2Provider::new(
            "x",
            "id",
            "s",
            "https://acme.example/authorize",
            token,
            "https://acme.example/me",
            UserInfoMapping::openid(),
        )
    };
    assert!(generic("http://acme.example/token").is_err());
    assert!(generic("https://acme.example/token").is_ok());
    assert!(
        presets::github("id", "s")
            .unwrap()
            .endpoints(
                "https://github.com/login/oauth/authorize",
                "http://10.0.0.1/token",
                "https://api.github.com/user"
            )
            .is_err()
    );
}
