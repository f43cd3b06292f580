//! Serving the document and the vendored Swagger UI.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderName;
use axum::http::StatusCode;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

/// The version of Swagger UI (npm `swagger-ui-dist`) that [`docs_router`]
/// serves, vendored in the crate.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

const BUNDLE: &[u8] = include_bytes!("swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("swagger-ui/swagger-ui.css");
const FAVICON: &[u8] = include_bytes!("swagger-ui/favicon-32x32.png");
const INIT: &[u8] = include_bytes!("ui/init.js");
const PAGE: &str = include_str!("ui/index.html");

/// Only this server's own resources: scripts from files (no inline script),
/// Swagger UI's inline styles, `data:` images of its stylesheet, requests to
/// this origin (no validator, no other host).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                        form-action 'self'; frame-ancestors 'self'";

/// The assets' folder, relative to the page's: it changes with Swagger UI's and
/// this crate's versions, so the assets can be cached for good.
fn assets_dir() -> String {
    format!(
        "docs/assets/{SWAGGER_UI_VERSION}-{}",
        env!("CARGO_PKG_VERSION")
    )
}

fn headers(content_type: &'static str, cache: &'static str) -> [(HeaderName, &'static str); 3] {
    [
        (CONTENT_TYPE, content_type),
        (CACHE_CONTROL, cache),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ]
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        headers(content_type, "public, max-age=31536000, immutable"),
        body,
    )
        .into_response()
}

/// Escapes text for a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `path` with a leading slash.
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// `GET {path}`: the document as `application/json`, serialised once.
///
/// `document` is anything serde serialises: the [`OpenApi`](utoipa::openapi::OpenApi)
/// of [`Routes::openapi`](crate::Routes::openapi) (or the application's own
/// utoipa document with ours merged in), or a [`serde_json::Value`]. Should
/// it fail to serialise (a map with keys that are not strings, say), the route
/// answers 500 and the error is logged.
///
/// ```
/// # let document = utoipa::openapi::OpenApi::default();
/// let router: axum::Router = axum_users::openapi::json_router("/openapi.json", &document);
/// ```
pub fn json_router<St, D>(path: &str, document: &D) -> Router<St>
where
    St: Clone + Send + Sync + 'static,
    D: Serialize + ?Sized,
{
    let body = serde_json::to_vec(document)
        .map(Bytes::from)
        .map_err(|error| {
            tracing::error!(%error, "the OpenAPI document cannot be serialised to JSON");
        });
    Router::new().route(
        &absolute(path),
        get(move || {
            let body = body.clone();
            async move {
                match body {
                    Ok(body) => (headers("application/json", "no-cache"), body).into_response(),
                    Err(()) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        headers("application/json", "no-cache"),
                        r#"{"detail":"Internal Server Error"}"#,
                    )
                        .into_response(),
                }
            }
        }),
    )
}

/// `GET /docs`: Swagger UI on the document at `openapi_json_url` (the path
/// [`json_router`] serves it at, e.g. `"/openapi.json"`), with its assets under
/// `GET /docs/assets/…`.
///
/// Everything is served from the crate: Swagger UI 5 ([`SWAGGER_UI_VERSION`],
/// Apache-2.0) is vendored, and the page's `Content-Security-Policy` lets it
/// load and call nothing but its own origin (so `openapi_json_url` must be on
/// it). The assets' URLs carry the versions and are cached for a year; the page
/// is revalidated. Nest the router to move it (`/api/docs`): the page refers to
/// its assets relatively.
pub fn docs_router<St: Clone + Send + Sync + 'static>(openapi_json_url: &str) -> Router<St> {
    let dir = assets_dir();
    let page = Bytes::from(
        PAGE.replace("{assets}", &dir)
            .replace("{openapi_url}", &escape_attribute(openapi_json_url)),
    );
    Router::new()
        .route(
            "/docs",
            get(move || {
                let page = page.clone();
                async move {
                    (
                        headers("text/html; charset=utf-8", "no-cache"),
                        [(CONTENT_SECURITY_POLICY, PAGE_CSP)],
                        page,
                    )
                }
            }),
        )
        .route(
            &format!("/{dir}/swagger-ui-bundle.js"),
            get(|| async { asset("text/javascript; charset=utf-8", BUNDLE) }),
        )
        .route(
            &format!("/{dir}/init.js"),
            get(|| async { asset("text/javascript; charset=utf-8", INIT) }),
        )
        .route(
            &format!("/{dir}/swagger-ui.css"),
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            &format!("/{dir}/favicon-32x32.png"),
            get(|| async { asset("image/png", FAVICON) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_document_that_does_not_serialise_answers_500() {
        use std::collections::HashMap;
        use tower::ServiceExt;

        // JSON object keys are strings: a map keyed by tuples has no JSON form.
        let document: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
        let router: Router = json_router("openapi.json", &document);
        let request = axum::http::Request::get("/openapi.json")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(
            escape_attribute("/a?b=1&c=\"x\"<'>"),
            "/a?b=1&amp;c=&quot;x&quot;&lt;&#39;&gt;"
        );
    }

    #[test]
    fn the_page_names_only_its_own_assets() {
        assert!(!PAGE.contains("http"), "{PAGE}");
        for asset in [BUNDLE, CSS, INIT] {
            let text = String::from_utf8_lossy(asset);
            assert!(!text.contains("validator.swagger.io"));
            assert!(!text.contains("sourceMappingURL"));
            assert!(!text.contains("petstore"));
        }
        let css = String::from_utf8_lossy(CSS);
        assert!(!css.contains("@import"));
        assert!(
            css.match_indices("url(").all(|(i, _)| css[i + 4..]
                .trim_start_matches(['"', '\''])
                .starts_with("data:")),
            "a CSS url() that is not a data: URL"
        );
    }
}
