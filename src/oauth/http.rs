//! The HTTP side of OAuth2 shared by every provider: the client, the token
//! request, and JSON GETs, with their failures sorted into "the provider
//! refused the code" (400) and "the provider failed" (502). No URL, code or
//! token ever goes into an error message.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::store::ProviderToken;
use crate::tokens::{Secret, now_secs};

/// How long one request to a provider may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Provider answers larger than this are refused.
const MAX_ANSWER: usize = 1024 * 1024;

/// The HTTP client of the providers: timeouts, no redirects followed (a
/// token or user-info endpoint that redirects is misconfigured).
pub(crate) fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("axum-users/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config(format!("cannot build the OAuth HTTP client: {e}")))
}

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`,
    /// OAuth2's default).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    Post,
}

/// A confidential client's credentials; `Debug` hides the secret.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) auth: ClientAuth,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("auth", &self.auth)
            .finish()
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Credentials {
    fn secret(&self) -> String {
        String::from_utf8_lossy(self.client_secret.expose()).into_owned()
    }
}

/// The token endpoint's answer; its `Debug` hides the tokens.
#[derive(Clone)]
pub(crate) struct Tokens {
    pub(crate) access_token: ProviderToken,
    pub(crate) refresh_token: Option<ProviderToken>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    id_token: Option<String>,
}

/// Codes with which a token endpoint refuses the authorization code itself
/// (unknown, used, expired, or not matching the PKCE verifier or redirect URI):
/// the client's fault, a 400. GitHub says `bad_verification_code`.
const REFUSED_CODE: &[&str] = &["invalid_grant", "bad_verification_code"];

fn provider_error(provider: &str, what: impl std::fmt::Display) -> Error {
    Error::provider(format!("{provider}: {what}"))
}

/// Exchanges an authorization code with PKCE at `token_url`.
pub(crate) async fn exchange_code(
    client: &reqwest::Client,
    provider: &str,
    token_url: &str,
    credentials: &Credentials,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<Tokens> {
    let mut form: Vec<(&str, String)> = vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.into()),
        ("redirect_uri", redirect_uri.into()),
        ("code_verifier", code_verifier.into()),
    ];
    let mut request = client.post(token_url).header(ACCEPT, "application/json");
    match credentials.auth {
        ClientAuth::Basic => {
            // RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
            let id: String =
                form_urlencoded::byte_serialize(credentials.client_id.as_bytes()).collect();
            let secret: String =
                form_urlencoded::byte_serialize(credentials.secret().as_bytes()).collect();
            let basic = STANDARD.encode(format!("{id}:{secret}"));
            request = request.header(AUTHORIZATION, format!("Basic {basic}"));
        }
        ClientAuth::Post => {
            form.push(("client_id", credentials.client_id.clone()));
            form.push(("client_secret", credentials.secret()));
        }
    }
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let response = request
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            provider_error(
                provider,
                format!("token request failed: {}", e.without_url()),
            )
        })?;
    let status = response.status();
    let answer = read_json(provider, "token endpoint", response).await;
    // An OAuth2 error, whatever the status (GitHub answers 200 with one).
    if let Ok(Value::Object(object)) = &answer
        && let Some(error) = object.get("error").and_then(Value::as_str)
    {
        if REFUSED_CODE.contains(&error) && (status.is_success() || status.is_client_error()) {
            tracing::info!(
                provider,
                error,
                "the provider refused the authorization code"
            );
            return Err(Error::Code(ErrorCode::OAuthInvalidCode));
        }
        return Err(provider_error(
            provider,
            format!("token endpoint answered {status} with error {error:?}"),
        ));
    }
    if !status.is_success() {
        return Err(provider_error(
            provider,
            format!("token endpoint answered {status}"),
        ));
    }
    let answer: TokenAnswer = serde_json::from_value(answer?)
        .map_err(|e| provider_error(provider, format!("invalid token answer: {e}")))?;
    if answer.access_token.is_empty() {
        return Err(provider_error(provider, "empty access token"));
    }
    let expires_in = answer.expires_in.as_ref().and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    Ok(Tokens {
        access_token: ProviderToken::new(answer.access_token),
        refresh_token: answer.refresh_token.map(ProviderToken::new),
        // An absurd `expires_in` is dropped rather than overflowing.
        expires_at: expires_in.and_then(|secs| (now_secs() as i64).checked_add(secs)),
        id_token: answer.id_token,
    })
}

/// GETs a JSON document, with the access token when given; any status but
/// 2xx, or a body that is not JSON, is a provider failure.
pub(crate) async fn get_json(
    client: &reqwest::Client,
    provider: &str,
    what: &str,
    url: &str,
    access_token: Option<&ProviderToken>,
) -> Result<Value> {
    let mut request = client.get(url).header(ACCEPT, "application/json");
    if let Some(token) = access_token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await.map_err(|e| {
        provider_error(
            provider,
            format!("{what} request failed: {}", e.without_url()),
        )
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(provider_error(
            provider,
            format!("{what} answered {status}"),
        ));
    }
    read_json(provider, what, response).await
}

async fn read_json(provider: &str, what: &str, response: reqwest::Response) -> Result<Value> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER as u64)
    {
        return Err(provider_error(provider, format!("{what} answer too large")));
    }
    // Read chunk by chunk and stop past the limit: a provider streaming an
    // endless (chunked) answer costs at most MAX_ANSWER of memory.
    let mut response = response;
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        provider_error(
            provider,
            format!("{what} answer unreadable: {}", e.without_url()),
        )
    })? {
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err(provider_error(provider, format!("{what} answer too large")));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|_| {
        provider_error(
            provider,
            format!("{what} answered something that is not JSON"),
        )
    })
}

/// Whether a provider endpoint may carry secrets: HTTPS, or plain HTTP to
/// this machine (a provider on loopback, in development and tests).
pub(crate) fn is_secure_endpoint(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(|host| {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

/// A string or number claim as a string (GitHub and GitLab ids are numbers).
pub(crate) fn id_string(value: Option<&Value>) -> Option<String> {
    match value? {
        // An empty id would make every such account one; a NUL cannot be stored.
        Value::String(s) if !s.is_empty() && !s.contains('\0') => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean claim, also when sent as the string `"true"` (some providers do).
pub(crate) fn bool_claim(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A non-empty string claim.
pub(crate) fn string_claim(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}
