//! Cross-site request forgery protection for cookie authentication: the
//! origin check ([`CsrfProtection`]).
//!
//! A browser sends cookies with requests that other sites make it send (an
//! auto-submitted form, a `fetch` with credentials). Every request that a
//! cookie authenticates, and every login through a cookie backend, with a
//! method other than `GET`, `HEAD` or `OPTIONS`, is refused with 403
//! `CSRF_ORIGIN_MISMATCH` when:
//!
//! - it has more than one `Origin` header;
//! - its `Origin` names neither the server's own origin (scheme, `Host`,
//!   port) nor a trusted one (`Origin: null`, sent by sandboxed documents and
//!   some redirects, is never trusted);
//! - it has no `Origin` and says `Sec-Fetch-Site: cross-site`.
//!
//! A trusted `Origin` passes whatever `Sec-Fetch-Site` says. Requests with
//! neither header (non-browser clients: every browser of the last years sends
//! at least one of them on such requests) pass, and so do bearer-authenticated
//! requests, which a browser never authenticates by itself. The check is on
//! by default; it closes login CSRF, where another site logs a victim's
//! browser into the attacker's account.
//!
//! The server's own origin is the request's `Host` with `http` or `https`
//! (behind a proxy that terminates TLS the application sees its own requests
//! as `http`); [`CsrfProtection::scheme`] pins one.

use http::request::Parts;
use http::{HeaderMap, Method};

use crate::error::{Error, Result};

/// The origin check of cookie-authenticated requests: on by default, with
/// no trusted origin besides the server's own.
///
/// ```
/// use axum_users::csrf::CsrfProtection;
/// let csrf = CsrfProtection::new()
///     .trusted_origins(["https://app.example.com"])
///     .unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfProtection {
    enabled: bool,
    trusted: Vec<String>,
    scheme: Option<&'static str>,
}

impl Default for CsrfProtection {
    fn default() -> Self {
        Self {
            enabled: true,
            trusted: Vec::new(),
            scheme: None,
        }
    }
}

impl CsrfProtection {
    /// On, trusting the server's own origin only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Off: no request is refused (for an application that protects itself
    /// otherwise, with `SameSite=Strict` cookies or tokens of its own).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Whether the check is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Origins trusted besides the server's own (`https://app.example.com`,
    /// with a port when not the scheme's default): [`Error::Config`] for
    /// anything that is not `scheme://host[:port]`.
    pub fn trusted_origins<I, T>(mut self, origins: I) -> Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for origin in origins {
            let origin = origin.as_ref().trim();
            if origin.is_empty() {
                continue;
            }
            let parsed = Origin::parse(origin).ok_or_else(|| {
                Error::Config(format!("not an origin (scheme://host[:port]): {origin:?}"))
            })?;
            self.trusted.push(parsed.canonical());
        }
        Ok(self)
    }

    /// Reads a comma-separated list of trusted origins (`TRUSTED_ORIGINS`).
    pub fn trusted_origins_list(self, list: &str) -> Result<Self> {
        self.trusted_origins(list.split(','))
    }

    /// The scheme of the server's own origin: `"https"` or `"http"` (by
    /// default both are taken with the request's `Host`).
    pub fn scheme(mut self, scheme: &'static str) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// Checks a request that a cookie authenticates (or a cookie login):
    /// [`Error::CsrfOriginMismatch`] (403) when it comes from another site.
    pub fn check(&self, parts: &Parts) -> Result<()> {
        if !self.enabled || is_safe(&parts.method) {
            return Ok(());
        }
        if self.allows(&parts.headers) {
            Ok(())
        } else {
            Err(Error::CsrfOriginMismatch)
        }
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let mut origins = headers.get_all(http::header::ORIGIN).iter();
        let origin = origins.next();
        if origins.next().is_some() {
            return false;
        }
        match origin {
            Some(origin) => {
                let Some(origin) = origin.to_str().ok().and_then(Origin::parse) else {
                    // `null`, or anything that is not an origin.
                    return false;
                };
                let canonical = origin.canonical();
                self.trusted.contains(&canonical) || self.is_own(&origin, headers)
            }
            None => !headers
                .get_all("sec-fetch-site")
                .iter()
                .any(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site")),
        }
    }

    fn is_own(&self, origin: &Origin, headers: &HeaderMap) -> bool {
        let Some(host) = headers
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
        else {
            return false;
        };
        if self.scheme.is_some_and(|scheme| scheme != origin.scheme) {
            return false;
        }
        let Some(own) = Origin::parse(&format!("{}://{}", origin.scheme, host.trim())) else {
            return false;
        };
        own.canonical() == origin.canonical()
    }
}

/// `GET`, `HEAD` and `OPTIONS` change nothing and are never refused.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A serialized origin: `http` or `https`, a host, a port (the scheme's
/// default when absent).
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: &'static str,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.split_once("://")?;
        let (scheme, default_port): (&'static str, u16) = if scheme.eq_ignore_ascii_case("https") {
            ("https", 443)
        } else if scheme.eq_ignore_ascii_case("http") {
            ("http", 80)
        } else {
            return None;
        };
        // An origin has no path, query, fragment or user info.
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (address, after) = v6.split_once(']')?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            (format!("[{}]", address.to_ascii_lowercase()), port)
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
                None => (rest.to_ascii_lowercase(), None),
            }
        };
        if host.is_empty() || host.contains(':') && !host.starts_with('[') {
            return None;
        }
        let port = match port {
            None => default_port,
            Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                port.parse().ok()?
            }
            Some(_) => return None,
        };
        Some(Origin { scheme, host, port })
    }

    /// `scheme://host:port`, the port always written.
    fn canonical(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder()
            .method(method)
            .uri("/auth/cookie/login");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn refused(csrf: &CsrfProtection, headers: &[(&str, &str)]) -> bool {
        csrf.check(&parts(Method::POST, headers)).is_err()
    }

    #[test]
    fn a_cross_site_origin_is_refused_and_the_own_one_passes() {
        let csrf = CsrfProtection::new();
        let host = ("host", "localhost:8000");
        assert!(!refused(
            &csrf,
            &[host, ("origin", "http://localhost:8000")]
        ));
        assert!(!refused(
            &csrf,
            &[host, ("origin", "HTTP://LOCALHOST:8000")]
        ));
        assert!(refused(&csrf, &[host, ("origin", "http://evil.example")]));
        assert!(refused(&csrf, &[host, ("origin", "http://localhost:8001")]));
        assert!(refused(&csrf, &[host, ("origin", "http://localhost")]));
        assert!(refused(&csrf, &[host, ("origin", "null")]));
        assert!(refused(&csrf, &[host, ("origin", "ftp://localhost:8000")]));
        assert!(refused(
            &csrf,
            &[host, ("origin", "http://localhost:8000/path")]
        ));
        assert!(refused(
            &csrf,
            &[host, ("origin", "http://user@localhost:8000")]
        ));
        assert!(
            refused(&csrf, &[("origin", "http://localhost:8000")]),
            "no Host"
        );
    }

    #[test]
    fn default_ports_are_the_same_origin() {
        let csrf = CsrfProtection::new();
        assert!(!refused(
            &csrf,
            &[
                ("host", "example.com"),
                ("origin", "https://example.com:443")
            ]
        ));
        assert!(!refused(
            &csrf,
            &[("host", "example.com:80"), ("origin", "http://example.com")]
        ));
        assert!(!refused(
            &csrf,
            &[("host", "[::1]:8000"), ("origin", "http://[::1]:8000")]
        ));
        let https_only = CsrfProtection::new().scheme("https");
        assert!(refused(
            &https_only,
            &[("host", "example.com"), ("origin", "http://example.com")]
        ));
    }

    #[test]
    fn several_origin_headers_are_refused() {
        let csrf = CsrfProtection::new();
        let host = ("host", "localhost:8000");
        let own = ("origin", "http://localhost:8000");
        assert!(refused(&csrf, &[host, own, own]));
    }

    #[test]
    fn without_origin_only_a_cross_site_fetch_is_refused() {
        let csrf = CsrfProtection::new();
        assert!(!refused(&csrf, &[]), "a non-browser client");
        assert!(!refused(&csrf, &[("sec-fetch-site", "same-origin")]));
        assert!(!refused(&csrf, &[("sec-fetch-site", "none")]));
        assert!(refused(&csrf, &[("sec-fetch-site", "cross-site")]));
    }

    #[test]
    fn a_trusted_origin_passes_whatever_sec_fetch_site_says() {
        let csrf = CsrfProtection::new()
            .trusted_origins_list("https://app.example.com, http://localhost:3000")
            .unwrap();
        let headers = [
            ("host", "api.example.com"),
            ("origin", "https://app.example.com"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert!(!refused(&csrf, &headers));
        assert!(!refused(&csrf, &[("origin", "http://localhost:3000")]));
        assert!(refused(
            &csrf,
            &[("origin", "https://app.example.com:8443")]
        ));
        assert!(
            CsrfProtection::new()
                .trusted_origins(["app.example.com"])
                .is_err()
        );
        assert!(CsrfProtection::new().trusted_origins(["null"]).is_err());
    }

    #[test]
    fn safe_methods_and_a_disabled_check_pass() {
        let csrf = CsrfProtection::new();
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(
                csrf.check(&parts(method, &[("origin", "http://evil.example")]))
                    .is_ok()
            );
        }
        let off = CsrfProtection::disabled();
        assert!(!refused(&off, &[("origin", "http://evil.example")]));
    }
}
