use std::time::Duration;

use axum::http::HeaderValue;
use http::header::COOKIE;
use http::request::Parts;

use crate::auth::{IssuedTokens, Transport, TransportAnswer, TransportKind};
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
    refresh_name: String,
    refresh_path: Option<String>,
    refresh_max_age: Duration,
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
            refresh_name: "fastapiusersrefresh".into(),
            refresh_path: None,
            refresh_max_age: Duration::from_secs(30 * 24 * 3600),
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
    /// The refresh cookie's name, for a refresh-token backend (default
    /// `fastapiusersrefresh`). The refresh cookie is always `HttpOnly`, with
    /// the access cookie's `Secure`, `SameSite` and `Domain`.
    pub fn refresh_name(mut self, name: impl Into<String>) -> Self {
        self.refresh_name = name.into();
        self
    }
    /// The refresh cookie's `Path`: the refresh route, so that the browser
    /// sends the refresh token there and nowhere else. By default the path
    /// of the route that logged in, with `/refresh` in place of its last
    /// segment (`/auth/cookie/login` → `/auth/cookie/refresh`).
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = Some(path.into());
        self
    }
    /// The refresh cookie's `Max-Age` (default 30 days: set it to the
    /// strategy's absolute lifetime).
    pub fn refresh_max_age(mut self, max_age: Duration) -> Self {
        self.refresh_max_age = max_age;
        self
    }
    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The refresh cookie: `HttpOnly`, scoped to `path`.
    fn refresh_cookie(&self, value: &str, path: &str, max_age: u64) -> Result<HeaderValue> {
        let scoped = Self {
            name: self.refresh_name.clone(),
            path: path.to_owned(),
            http_only: true,
            ..self.clone()
        };
        scoped.set_cookie(value, Some(max_age))
    }

    /// Where the refresh cookie goes: the configured path, else the one the
    /// router derived, else the access cookie's.
    fn refresh_path_or<'a>(&'a self, derived: Option<&'a str>) -> &'a str {
        self.refresh_path
            .as_deref()
            .or(derived)
            .unwrap_or(self.path.as_str())
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
        cookie_value(parts, &self.name)
    }

    fn refresh_token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        cookie_value(parts, &self.refresh_name)
    }

    fn sent_by_browser(&self) -> bool {
        true
    }

    fn login(&self, tokens: &IssuedTokens) -> Result<TransportAnswer> {
        let mut cookies = vec![self.set(&tokens.access_token)?];
        if let Some(refresh_token) = &tokens.refresh_token {
            let path = self.refresh_path_or(tokens.refresh_path.as_deref());
            cookies.push(self.refresh_cookie(
                refresh_token,
                path,
                self.refresh_max_age.as_secs(),
            )?);
        }
        Ok(TransportAnswer::no_content(cookies))
    }

    fn logout(&self) -> Result<TransportAnswer> {
        Ok(TransportAnswer::no_content(vec![self.clear()?]))
    }

    fn logout_refreshing(&self, refresh_path: Option<&str>) -> Result<TransportAnswer> {
        let path = self.refresh_path_or(refresh_path);
        Ok(TransportAnswer::no_content(vec![
            self.clear()?,
            self.refresh_cookie("\"\"", path, 0)?,
        ]))
    }

    fn kind(&self) -> TransportKind {
        TransportKind::Cookie {
            name: self.name.clone(),
        }
    }
}

/// The value of the cookie `name` in the request, if any and not empty.
fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(|cookie| cookie.ok())
        .filter_map(|cookie| Some((cookie.name_raw()?, cookie.value_raw()?)))
        // Like Starlette (FastAPI Users), the last cookie of the name wins.
        .filter(|(cookie, _)| *cookie == name)
        .last()
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}
