use std::time::Duration;

use axum::http::HeaderValue;
use http::header::COOKIE;
use http::request::Parts;

use crate::auth::{Transport, TransportAnswer, TransportKind};
use crate::error::{Error, Result};

/// The `SameSite` attribute of the auth cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites (the default).
    Lax,
    /// Never sent from other sites.
    Strict,
    /// Always sent (requires `Secure`); protect state-changing routes against CSRF.
    None,
}

/// The cookie transport: login sets the token in a cookie (204), logout clears it
/// (204), and requests carry it back.
///
/// Defaults are the safe ones, with FastAPI Users' name: `fastapiusersauth`,
/// `Max-Age=3600` (FastAPI Users' default is a session cookie, without
/// `Max-Age`; `max_age(None)` gives that), `Path=/`, no `Domain`, `Secure`,
/// `HttpOnly`, `SameSite=Lax`.
/// Keep `Secure` in production (it needs HTTPS); with `SameSite=None` protect your
/// state-changing routes against CSRF.
///
/// ```
/// use axum_users::auth::{CookieTransport, SameSite};
/// use std::time::Duration;
/// let transport = CookieTransport::new()
///     .name("session")
///     .max_age(Some(Duration::from_secs(7 * 24 * 3600)))
///     .same_site(SameSite::Strict);
/// ```
#[derive(Debug, Clone)]
pub struct CookieTransport {
    name: String,
    max_age: Option<Duration>,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
}

impl Default for CookieTransport {
    fn default() -> Self {
        Self {
            name: "fastapiusersauth".into(),
            max_age: Some(Duration::from_secs(3600)),
            path: "/".into(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
        }
    }
}

impl CookieTransport {
    /// The defaults (see above).
    pub fn new() -> Self {
        Self::default()
    }
    /// The cookie's name (default `fastapiusersauth`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// `Max-Age` (default one hour); `None` makes a session cookie.
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }
    /// `Path` (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    /// `Domain` (default none: the host that set it).
    pub fn domain(mut self, domain: Option<String>) -> Self {
        self.domain = domain;
        self
    }
    /// `Secure` (default true).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }
    /// `HttpOnly` (default true).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }
    /// `SameSite` (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }
    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The `Set-Cookie` value that sets this cookie to `value`, built by the
    /// `cookie` crate with every configured attribute and `Max-Age` (none: a
    /// session cookie).
    pub(crate) fn set_cookie(&self, value: &str, max_age: Option<u64>) -> Result<HeaderValue> {
        let mut cookie = cookie::Cookie::build((self.name.as_str(), value))
            .path(self.path.as_str())
            .secure(self.secure)
            .http_only(self.http_only)
            .same_site(match self.same_site {
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::None => cookie::SameSite::None,
            });
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.as_str());
        }
        if let Some(max_age) = max_age {
            let seconds = i64::try_from(max_age).unwrap_or(i64::MAX);
            cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
        }
        // Only a misconfigured name, path or domain can fail: the token and
        // the numbers are always header-safe.
        HeaderValue::from_str(&cookie.build().to_string())
            .map_err(|e| Error::internal("the cookie transport's Set-Cookie", e))
    }

    /// The `Set-Cookie` value that sets the cookie to `value` for its
    /// `Max-Age`.
    pub(crate) fn set(&self, value: &str) -> Result<HeaderValue> {
        self.set_cookie(value, self.max_age.map(|d| d.as_secs()))
    }

    /// The `Set-Cookie` value that clears the cookie: an empty value,
    /// `Max-Age=0`, the same attributes.
    pub(crate) fn clear(&self) -> Result<HeaderValue> {
        self.set_cookie("\"\"", Some(0))
    }
}

impl Transport for CookieTransport {
    fn token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(|cookie| cookie.ok())
            .filter_map(|cookie| Some((cookie.name_raw()?, cookie.value_raw()?)))
            // Like Starlette (FastAPI Users), the last cookie of the name wins.
            .filter(|(name, _)| *name == self.name)
            .last()
            .map(|(_, value)| value.trim_matches('"'))
            .filter(|value| !value.is_empty())
    }

    fn login(&self, token: &str) -> Result<TransportAnswer> {
        Ok(TransportAnswer::no_content(Some(self.set(token)?)))
    }

    fn logout(&self) -> Result<TransportAnswer> {
        Ok(TransportAnswer::no_content(Some(self.clear()?)))
    }

    fn kind(&self) -> TransportKind {
        TransportKind::Cookie {
            name: self.name.clone(),
        }
    }
}
