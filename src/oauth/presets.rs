//! Ready-made providers: GitHub, Google, Microsoft, Discord and GitLab, each an
//! [`OAuth2Provider`] with the provider's endpoints, scopes, and rule for
//! which addresses count as verified. docs/oauth.md says how to register the
//! application at each.
//!
//! | preset | name | scopes | verified address |
//! | --- | --- | --- | --- |
//! | [`github`] | `github` | `read:user user:email` | the primary address, if verified (`/user/emails`) |
//! | [`google`] | `google` | `openid email` | `email_verified` |
//! | [`microsoft`] | `microsoft` | `openid email profile` | never: Microsoft does not vouch for addresses |
//! | [`discord`] | `discord` | `identify email` | `verified` |
//! | [`gitlab`] | `gitlab` | `openid email` | `email_verified` |
//!
//! Each is called with `client_secret_post` at the token endpoint, which all
//! five accept.

use super::generic::{ClientAuth, EmailVerified, OAuth2Provider, Profile, UserInfoMapping};
use crate::error::{Error, Result};

/// The public GitLab, the default of [`gitlab`].
pub const GITLAB_URL: &str = "https://gitlab.com";

/// The tenant that lets any Microsoft account in (work, school or personal).
pub const MICROSOFT_COMMON_TENANT: &str = "common";

/// GitHub (an OAuth App or a GitHub App's user authorization). Only the
/// account's primary address counts, and only when GitHub verified it: an
/// account without one answers `OAUTH_NOT_AVAILABLE_EMAIL`.
pub fn github(
    client_id: impl Into<String>,
    client_secret: impl AsRef<[u8]>,
) -> Result<OAuth2Provider> {
    Ok(OAuth2Provider::with_profile(
        "github",
        client_id,
        client_secret,
        "https://github.com/login/oauth/authorize",
        "https://github.com/login/oauth/access_token",
        Profile::GitHub {
            user_url: "https://api.github.com/user".into(),
        },
    )?
    .scopes(["read:user", "user:email"])
    .client_auth(ClientAuth::Post))
}

/// Google, through its OpenID Connect user-info endpoint (`sub`, `email`,
/// `email_verified`).
pub fn google(
    client_id: impl Into<String>,
    client_secret: impl AsRef<[u8]>,
) -> Result<OAuth2Provider> {
    Ok(OAuth2Provider::new(
        "google",
        client_id,
        client_secret,
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        "https://openidconnect.googleapis.com/v1/userinfo",
        UserInfoMapping::openid(),
    )?
    .scopes(["openid", "email"])
    .client_auth(ClientAuth::Post))
}

/// Microsoft identity platform (Entra ID and personal accounts) for `tenant`
/// ([`MICROSOFT_COMMON_TENANT`], `organizations`, `consumers`, or a tenant id
/// or domain), through Microsoft Graph's OpenID Connect user-info endpoint.
///
/// Microsoft does not vouch for the address it returns (an account's address
/// can be set to anything in many tenants), so it is never treated as
/// verified: it is never linked to an existing user by address, and users it
/// creates are not marked verified.
pub fn microsoft(
    client_id: impl Into<String>,
    client_secret: impl AsRef<[u8]>,
    tenant: &str,
) -> Result<OAuth2Provider> {
    let valid = !tenant.is_empty()
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return Err(Error::Config(format!(
            "invalid Microsoft tenant {tenant:?}"
        )));
    }
    let base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
    Ok(OAuth2Provider::new(
        "microsoft",
        client_id,
        client_secret,
        &format!("{base}/authorize"),
        &format!("{base}/token"),
        "https://graph.microsoft.com/oidc/userinfo",
        UserInfoMapping {
            id: "sub".into(),
            email: "email".into(),
            email_verified: EmailVerified::Never,
        },
    )?
    .scopes(["openid", "email", "profile"])
    .client_auth(ClientAuth::Post))
}

/// Discord (`/users/@me`: `id`, `email`, `verified`).
pub fn discord(
    client_id: impl Into<String>,
    client_secret: impl AsRef<[u8]>,
) -> Result<OAuth2Provider> {
    Ok(OAuth2Provider::new(
        "discord",
        client_id,
        client_secret,
        "https://discord.com/oauth2/authorize",
        "https://discord.com/api/oauth2/token",
        "https://discord.com/api/users/@me",
        UserInfoMapping {
            id: "id".into(),
            email: "email".into(),
            email_verified: EmailVerified::Field("verified".into()),
        },
    )?
    .scopes(["identify", "email"])
    .client_auth(ClientAuth::Post))
}

/// GitLab at `base_url` ([`GITLAB_URL`] or a self-managed instance), through
/// its OpenID Connect user-info endpoint (`sub`, `email`, `email_verified`).
pub fn gitlab(
    client_id: impl Into<String>,
    client_secret: impl AsRef<[u8]>,
    base_url: &str,
) -> Result<OAuth2Provider> {
    let base = base_url.trim_end_matches('/');
    Ok(OAuth2Provider::new(
        "gitlab",
        client_id,
        client_secret,
        &format!("{base}/oauth/authorize"),
        &format!("{base}/oauth/token"),
        &format!("{base}/oauth/userinfo"),
        UserInfoMapping::openid(),
    )?
    .scopes(["openid", "email"])
    .client_auth(ClientAuth::Post))
}
