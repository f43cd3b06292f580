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
//! [`json_router`] serves the document and [`docs_router`] serves Swagger UI
//! on it, entirely from this server (the assets are vendored in the crate; the
//! page loads nothing from another host and never calls an online validator).
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
//! assert_eq!(document["openapi"], "3.1.0");
//! let app: Router = api
//!     .into_router()
//!     .merge(openapi::json_router("/openapi.json", &document))
//!     .merge(openapi::docs_router("/openapi.json"))
//!     .layer(users.layer());
//! ```
//!
//! The document is a [`serde_json::Value`]: an application that documents its
//! own routes adds them to it (or deserialises it into the OpenAPI types of
//! its own toolkit and merges there).

mod document;
mod ui;

pub use document::OPENAPI_VERSION;
pub(crate) use document::document;
pub use ui::{SWAGGER_UI_VERSION, docs_router, json_router};

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
