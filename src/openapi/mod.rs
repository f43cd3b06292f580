//! OpenAPI 3.1 documents of the mounted routers, and an interactive
//! documentation page (feature `openapi`).
//!
//! The document comes from [`Routes::openapi`](crate::Routes::openapi): the
//! same records that built the router (each router's route specs, prefix,
//! backend, body limit and verification rule), the authenticator's backends
//! (one security scheme each: OAuth2 password flow for a bearer transport, an
//! API key in a cookie for a cookie transport) and the user type's schemas
//! ([`UserId::json_schema`](crate::UserId::json_schema) and the
//! [`UserFields`](crate::UserFields) schema methods). Nothing is kept by hand,
//! so the document cannot drift from the routes.
//!
//! It is built with [utoipa](https://docs.rs/utoipa)'s OpenAPI model
//! ([`utoipa::openapi::OpenApi`], re-exported here as [`utoipa`]), the crate
//! axum applications document their own routes with. [`json_router`] serves
//! the document and [`docs_router`] serves Swagger UI on it, entirely from
//! this server (the assets are vendored in the crate; the page loads nothing
//! from another host and never calls an online validator).
//!
//! ```
//! use axum::Router;
//! use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
//! use axum_users::openapi::{self, Info};
//! use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
//!
//! let jwt = AuthBackend::new(
//!     "jwt",
//!     BearerTransport::new("auth/jwt/login"),
//!     JwtStrategy::hs256("a random secret of 32 bytes or more").unwrap(),
//! );
//! let users = AxumUsers::new(UserManager::new(MemoryStore::<User>::new()), vec![jwt.clone()]);
//! let api = users
//!     .routes()
//!     .auth("/auth/jwt", &jwt)
//!     .register("/auth")
//!     .users("/users");
//! let document = api.openapi(&Info::new("My app", "1.0.0"));
//! assert!(document.paths.paths.contains_key("/auth/register"));
//! let app: Router = api
//!     .into_router()
//!     .merge(openapi::json_router("/openapi.json", &document))
//!     .merge(openapi::docs_router("/openapi.json"))
//!     .layer(users.layer());
//! ```
//!
//! # With the application's own utoipa document
//!
//! An application that documents its own handlers with utoipa merges ours
//! into its document in one call: [`OpenApi::merge`](utoipa::openapi::OpenApi::merge)
//! (or `merge_from`) adds our paths, schemas, responses, security schemes and
//! tags, and keeps the application's `info` and whatever it already has of
//! the same name.
//!
//! ```
//! use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
//! use axum_users::openapi::Info;
//! use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
//! use utoipa::OpenApi;
//!
//! /// The application's own route.
//! #[utoipa::path(get, path = "/health", responses((status = 200, description = "Up")))]
//! async fn health() {}
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(health), info(title = "My app", version = "1.0.0"))]
//! struct ApiDoc;
//!
//! let jwt = AuthBackend::new(
//!     "jwt",
//!     BearerTransport::new("auth/jwt/login"),
//!     JwtStrategy::hs256("a random secret of 32 bytes or more").unwrap(),
//! );
//! let users = AxumUsers::new(UserManager::new(MemoryStore::<User>::new()), vec![jwt.clone()]);
//! let api = users.routes::<()>().auth("/auth/jwt", &jwt).users("/users");
//!
//! let document = ApiDoc::openapi().merge_from(api.openapi(&Info::new("unused", "0")));
//! assert!(document.paths.paths.contains_key("/health"));
//! assert!(document.paths.paths.contains_key("/users/me"));
//! assert_eq!(document.info.title, "My app");
//! ```
//!
//! The application's [`UserFields`](crate::UserFields) and
//! [`UserId`](crate::UserId) schemas are JSON Schemas: the document carries
//! them exactly, in utoipa's typed schema model where it has a field for each
//! keyword, otherwise as schema objects whose keys are the application's own
//! (utoipa's model has no field for `const`, `not`, `$defs`, …).

mod document;
mod operation;
mod responses;
mod schemas;
mod schemes;
mod ui;

pub use document::OPENAPI_VERSION;
pub(crate) use document::document;
pub use ui::{SWAGGER_UI_VERSION, docs_router, json_router};
/// utoipa, whose OpenAPI model the documents are built with (the version this
/// crate uses, for applications that do not depend on it themselves).
pub use utoipa;

/// The media type of JSON bodies.
const JSON: &str = "application/json";

/// The document's `info`: title, version and an optional description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Info {
    /// The API's title.
    pub title: String,
    /// The API's version (the application's, not OpenAPI's).
    pub version: String,
    /// A longer description (CommonMark).
    pub description: Option<String>,
}

impl Info {
    /// An `info` with this title and version.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: version.into(),
            description: None,
        }
    }

    /// Adds a description (CommonMark).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

impl From<&Info> for utoipa::openapi::Info {
    /// utoipa's `info` object with the same title, version and description.
    fn from(info: &Info) -> Self {
        utoipa::openapi::InfoBuilder::new()
            .title(info.title.clone())
            .version(info.version.clone())
            .description(info.description.clone())
            .build()
    }
}

impl From<Info> for utoipa::openapi::Info {
    /// utoipa's `info` object with the same title, version and description.
    fn from(info: Info) -> Self {
        Self::from(&info)
    }
}
