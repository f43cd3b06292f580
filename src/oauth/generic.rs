//! [`OAuth2Provider`]: a plain OAuth2 provider with a user-info endpoint.

use async_trait::async_trait;
use reqwest::Url;
use serde_json::Value;

use super::http::{self, Credentials, bool_claim, id_string, string_claim};
use super::{AuthorizationRequest, CodeExchange, OAuthProvider};
use crate::error::{Error, Result};
use crate::manager::OAuthLogin;
use crate::tokens::Secret;

pub use super::http::ClientAuth;

/// Whether the provider vouches for the address it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailVerified {
    /// The user-info field with this name says (a boolean, or `"true"`).
    Field(String),
    /// The provider only ever gives addresses it verified.
    Always,
    /// The provider does not verify addresses: never trust them (they are
    /// never linked by address nor marked verified).
    Never,
}

/// Where the account's id and address are in the user-info answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfoMapping {
    /// The field of the account id (a string or a number).
    pub id: String,
    /// The field of the address.
    pub email: String,
    /// Whether the address is verified.
    pub email_verified: EmailVerified,
}

impl UserInfoMapping {
    /// OpenID Connect's standard claims: `sub`, `email`, `email_verified`.
    pub fn openid() -> Self {
        Self {
            id: "sub".into(),
            email: "email".into(),
            email_verified: EmailVerified::Field("email_verified".into()),
        }
    }

    /// The account that a user-info answer describes: `(id, address, verified)`.
    pub fn read(&self, info: &Value) -> Option<(String, Option<String>, bool)> {
        let id = id_string(info.get(&self.id))?;
        let email = string_claim(info.get(&self.email));
        let verified = match &self.email_verified {
            EmailVerified::Field(field) => bool_claim(info.get(field)),
            EmailVerified::Always => true,
            EmailVerified::Never => false,
        };
        let verified = verified && email.is_some();
        Some((id, email, verified))
    }
}

/// How the account is read once the code is exchanged.
#[derive(Debug, Clone)]
pub(crate) enum Profile {
    /// One user-info endpoint.
    UserInfo {
        url: String,
        mapping: UserInfoMapping,
    },
    /// GitHub: `/user` for the id, `/user/emails` for the verified primary
    /// address (the `/user` address is whatever the user made public).
    GitHub { user_url: String },
}

/// A plain OAuth2 provider: an authorization endpoint, a token endpoint and a
/// user-info endpoint read through a [`UserInfoMapping`]. The presets in
/// [`presets`](super::presets) are built on it.
///
/// ```
/// use axum_users::oauth::{OAuth2Provider, UserInfoMapping, EmailVerified};
/// let provider = OAuth2Provider::new(
///     "acme",
///     "client-id",
///     "client-secret",
///     "https://acme.example/oauth/authorize",
///     "https://acme.example/oauth/token",
///     "https://acme.example/api/me",
///     UserInfoMapping { id: "id".into(), email: "email".into(), email_verified: EmailVerified::Field("verified".into()) },
/// )
/// .unwrap()
/// .scopes(["email"]);
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Provider {
    name: String,
    credentials: Credentials,
    authorize_url: Url,
    token_url: String,
    profile: Profile,
    scopes: Vec<String>,
    extra_params: Vec<(String, String)>,
    client: reqwest::Client,
}

/// A provider endpoint: HTTPS (plain HTTP only to this machine), since codes,
/// tokens and the client secret travel to it.
fn parse_url(what: &str, url: &str) -> Result<Url> {
    let parsed = Url::parse(url).map_err(|e| Error::Config(format!("invalid {what} URL: {e}")))?;
    if !http::is_secure_endpoint(&parsed) {
        return Err(Error::Config(format!(
            "the {what} URL must be https (plain http only to localhost): {url}"
        )));
    }
    Ok(parsed)
}

impl OAuth2Provider {
    /// A provider named `name` (the `oauth_name` of its accounts) with these
    /// client credentials and endpoints. The token endpoint is called with
    /// HTTP Basic client authentication unless [`client_auth`](Self::client_auth)
    /// says otherwise.
    pub fn new(
        name: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl AsRef<[u8]>,
        authorize_url: &str,
        token_url: &str,
        userinfo_url: &str,
        mapping: UserInfoMapping,
    ) -> Result<Self> {
        parse_url("user-info", userinfo_url)?;
        Self::with_profile(
            name,
            client_id,
            client_secret,
            authorize_url,
            token_url,
            Profile::UserInfo {
                url: userinfo_url.to_owned(),
                mapping,
            },
        )
    }

    pub(crate) fn with_profile(
        name: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl AsRef<[u8]>,
        authorize_url: &str,
        token_url: &str,
        profile: Profile,
    ) -> Result<Self> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::Config("an OAuth provider needs a name".into()));
        }
        parse_url("token", token_url)?;
        Ok(Self {
            name,
            credentials: Credentials {
                client_id: client_id.into(),
                client_secret: Secret::new(client_secret),
                auth: ClientAuth::Basic,
            },
            authorize_url: parse_url("authorization", authorize_url)?,
            token_url: token_url.to_owned(),
            profile,
            scopes: Vec::new(),
            extra_params: Vec::new(),
            client: http::client()?,
        })
    }

    /// The default scopes, used when the authorize request names none.
    pub fn scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How the client authenticates to the token endpoint (default Basic).
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.credentials.auth = auth;
        self
    }

    /// An extra parameter for the authorization URL (`prompt=consent`, …).
    pub fn authorization_param(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// Replaces the endpoints (for a self-hosted instance, or a test double).
    /// For GitHub, `userinfo_url` is the `/user` endpoint and the addresses are
    /// read from `<userinfo_url>/emails`.
    pub fn endpoints(
        mut self,
        authorize_url: &str,
        token_url: &str,
        userinfo_url: &str,
    ) -> Result<Self> {
        self.authorize_url = parse_url("authorization", authorize_url)?;
        parse_url("token", token_url)?;
        parse_url("user-info", userinfo_url)?;
        self.token_url = token_url.to_owned();
        match &mut self.profile {
            Profile::UserInfo { url, .. } => *url = userinfo_url.to_owned(),
            Profile::GitHub { user_url } => *user_url = userinfo_url.to_owned(),
        }
        Ok(self)
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }

    async fn read_account(
        &self,
        access_token: &crate::store::ProviderToken,
    ) -> Result<(String, Option<String>, bool)> {
        match &self.profile {
            Profile::UserInfo { url, mapping } => {
                let info = http::get_json(
                    &self.client,
                    &self.name,
                    "user-info endpoint",
                    url,
                    Some(access_token),
                )
                .await?;
                mapping.read(&info).ok_or_else(|| {
                    Error::provider(format!("{}: user info without an account id", self.name))
                })
            }
            Profile::GitHub { user_url } => {
                let user = http::get_json(
                    &self.client,
                    &self.name,
                    "user endpoint",
                    user_url,
                    Some(access_token),
                )
                .await?;
                let id = id_string(user.get("id"))
                    .ok_or_else(|| Error::provider(format!("{}: user without an id", self.name)))?;
                let emails_url = format!("{}/emails", user_url.trim_end_matches('/'));
                let emails = http::get_json(
                    &self.client,
                    &self.name,
                    "emails endpoint",
                    &emails_url,
                    Some(access_token),
                )
                .await?;
                let email = github_verified_primary(&emails);
                let verified = email.is_some();
                Ok((id, email, verified))
            }
        }
    }
}

/// GitHub's verified primary address from `/user/emails`: only it counts;
/// unverified and secondary addresses are ignored.
pub(crate) fn github_verified_primary(emails: &Value) -> Option<String> {
    emails.as_array()?.iter().find_map(|entry| {
        let primary = entry.get("primary").and_then(Value::as_bool) == Some(true);
        let verified = entry.get("verified").and_then(Value::as_bool) == Some(true);
        (primary && verified)
            .then(|| string_claim(entry.get("email")))
            .flatten()
    })
}

/// The authorization URL shared by the OAuth2 and OpenID Connect providers.
pub(crate) fn authorization_url(
    endpoint: &Url,
    client_id: &str,
    default_scopes: &[String],
    required_scopes: &[&str],
    extra_params: &[(String, String)],
    request: &AuthorizationRequest<'_>,
    with_nonce: bool,
) -> String {
    let mut scopes: Vec<&str> = if request.scopes.is_empty() {
        default_scopes.iter().map(String::as_str).collect()
    } else {
        request.scopes.iter().map(String::as_str).collect()
    };
    for required in required_scopes {
        if !scopes.contains(required) {
            scopes.insert(0, required);
        }
    }
    let mut url = endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("state", request.state)
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if !scopes.is_empty() {
            query.append_pair("scope", &scopes.join(" "));
        }
        if with_nonce {
            query.append_pair("nonce", request.nonce);
        }
        for (name, value) in extra_params {
            query.append_pair(name, value);
        }
    }
    url.into()
}

#[async_trait]
impl OAuthProvider for OAuth2Provider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn authorization_url(&self, request: AuthorizationRequest<'_>) -> Result<String> {
        let with_nonce = self.scopes.iter().any(|s| s == "openid");
        Ok(authorization_url(
            &self.authorize_url,
            &self.credentials.client_id,
            &self.scopes,
            &[],
            &self.extra_params,
            &request,
            with_nonce,
        ))
    }

    async fn sign_in(&self, exchange: CodeExchange<'_>) -> Result<OAuthLogin> {
        let tokens = http::exchange_code(
            &self.client,
            &self.name,
            &self.token_url,
            &self.credentials,
            exchange.code,
            exchange.redirect_uri,
            exchange.code_verifier,
        )
        .await?;
        let (account_id, email, email_verified) = self.read_account(&tokens.access_token).await?;
        Ok(OAuthLogin {
            oauth_name: self.name.clone(),
            account_id,
            email,
            email_verified,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at: tokens.expires_at,
        })
    }
}
