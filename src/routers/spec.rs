//! The routes of every router described as data: method, path, body, auth,
//! success status and the error codes each can answer. The routers are built
//! from these descriptions, and documentation (OpenAPI) is generated from them,
//! so the two cannot drift apart.

use http::Method;

use crate::error::ErrorCode;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// An active user (verified too when the router requires verification).
    User,
    /// An active superuser.
    Superuser,
}

/// What a route's request body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// The login form (`username`, `password`).
    LoginForm,
    /// A JSON object: the user-create schema.
    UserCreate,
    /// A JSON object: the user-update schema (safe or not per `Access`).
    UserUpdate,
    /// A JSON object `{"email"}`.
    Email,
    /// A JSON object `{"token", "password"}`.
    ResetPassword,
    /// A JSON object `{"token"}`.
    Token,
    /// No body; the OAuth authorize query (`scopes`, repeatable, optional).
    AuthorizeQuery,
    /// No body; the OAuth callback query from the provider (`code`, `state`,
    /// `iss`, or `error` and `error_description`) and the CSRF cookie.
    CallbackQuery,
}

impl Body {
    /// Whether the route reads a request body (and so gets the body limit).
    pub fn has_body(self) -> bool {
        !matches!(
            self,
            Body::None | Body::AuthorizeQuery | Body::CallbackQuery
        )
    }
}

/// What a successful response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// A user object.
    User,
    /// The transport's login response (bearer JSON, or 204 with a cookie).
    Login,
    /// The transport's logout response (204).
    Logout,
    /// Nothing (204).
    NoContent,
    /// JSON `null` (202 and the reset's 200, as FastAPI Users answers).
    Null,
    /// `{"authorization_url": "…"}` and the OAuth CSRF cookie.
    AuthorizationUrl,
}

/// One route of a router.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path relative to the router's mount point.
    pub path: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The request body.
    pub body: Body,
    /// The success status.
    pub status: u16,
    /// The success body.
    pub success: Success,
    /// The 400 `detail` codes it can answer.
    pub errors: &'static [ErrorCode],
    /// Whether a malformed or unknown `{id}` answers 404.
    pub not_found: bool,
}

/// The auth router's routes (one pair per backend).
pub const AUTH_ROUTES: &[RouteSpec; 2] = &[
    RouteSpec {
        method: Method::POST,
        path: "/login",
        summary: "Log in with e-mail and password",
        access: Access::Public,
        body: Body::LoginForm,
        status: 200,
        success: Success::Login,
        errors: &[
            ErrorCode::LoginBadCredentials,
            ErrorCode::LoginUserNotVerified,
        ],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/logout",
        summary: "Log out",
        access: Access::User,
        body: Body::None,
        status: 204,
        success: Success::Logout,
        errors: &[],
        not_found: false,
    },
];

/// The register router's route.
pub const REGISTER_ROUTES: &[RouteSpec; 1] = &[RouteSpec {
    method: Method::POST,
    path: "/register",
    summary: "Register a new user",
    access: Access::Public,
    body: Body::UserCreate,
    status: 201,
    success: Success::User,
    errors: &[
        ErrorCode::RegisterUserAlreadyExists,
        ErrorCode::RegisterInvalidPassword,
    ],
    not_found: false,
}];

/// The users router's routes.
pub const USERS_ROUTES: &[RouteSpec; 5] = &[
    RouteSpec {
        method: Method::GET,
        path: "/me",
        summary: "The current user",
        access: Access::User,
        body: Body::None,
        status: 200,
        success: Success::User,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::PATCH,
        path: "/me",
        summary: "Update the current user",
        access: Access::User,
        body: Body::UserUpdate,
        status: 200,
        success: Success::User,
        errors: &[
            ErrorCode::UpdateUserEmailAlreadyExists,
            ErrorCode::UpdateUserInvalidPassword,
        ],
        not_found: false,
    },
    RouteSpec {
        method: Method::GET,
        path: "/{id}",
        summary: "A user by id (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 200,
        success: Success::User,
        errors: &[],
        not_found: true,
    },
    RouteSpec {
        method: Method::PATCH,
        path: "/{id}",
        summary: "Update a user by id (superusers)",
        access: Access::Superuser,
        body: Body::UserUpdate,
        status: 200,
        success: Success::User,
        errors: &[
            ErrorCode::UpdateUserEmailAlreadyExists,
            ErrorCode::UpdateUserInvalidPassword,
        ],
        not_found: true,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/{id}",
        summary: "Delete a user by id (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 204,
        success: Success::NoContent,
        errors: &[],
        not_found: true,
    },
];

/// The reset-password router's routes.
pub const RESET_ROUTES: &[RouteSpec; 2] = &[
    RouteSpec {
        method: Method::POST,
        path: "/forgot-password",
        summary: "Request a password reset (202 whether or not the address has an account)",
        access: Access::Public,
        body: Body::Email,
        status: 202,
        success: Success::Null,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/reset-password",
        summary: "Reset a password with a reset token",
        access: Access::Public,
        body: Body::ResetPassword,
        status: 200,
        success: Success::Null,
        errors: &[
            ErrorCode::ResetPasswordBadToken,
            ErrorCode::ResetPasswordInvalidPassword,
        ],
        not_found: false,
    },
];

/// The verify router's routes.
pub const VERIFY_ROUTES: &[RouteSpec; 2] = &[
    RouteSpec {
        method: Method::POST,
        path: "/request-verify-token",
        summary: "Request a verification token (202 whatever the address)",
        access: Access::Public,
        body: Body::Email,
        status: 202,
        success: Success::Null,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/verify",
        summary: "Verify an e-mail address with a verification token",
        access: Access::Public,
        body: Body::Token,
        status: 200,
        success: Success::User,
        errors: &[
            ErrorCode::VerifyUserBadToken,
            ErrorCode::VerifyUserAlreadyVerified,
        ],
        not_found: false,
    },
];

/// The 400 `detail` codes of an OAuth callback's state and code checks.
const OAUTH_CALLBACK_ERRORS: [ErrorCode; 4] = [
    ErrorCode::AccessTokenDecodeError,
    ErrorCode::AccessTokenAlreadyExpired,
    ErrorCode::OAuthInvalidState,
    ErrorCode::OAuthInvalidCode,
];

/// The OAuth router's routes (one pair per provider and backend). Their
/// callbacks can also answer 502 `OAUTH_PROVIDER_ERROR` when the provider fails.
pub const OAUTH_ROUTES: &[RouteSpec; 2] = &[
    RouteSpec {
        method: Method::GET,
        path: "/authorize",
        summary: "Start an OAuth login: the provider's authorization URL",
        access: Access::Public,
        body: Body::AuthorizeQuery,
        status: 200,
        success: Success::AuthorizationUrl,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::GET,
        path: "/callback",
        summary: "Finish an OAuth login: the provider redirects here",
        access: Access::Public,
        body: Body::CallbackQuery,
        status: 200,
        success: Success::Login,
        errors: &[
            OAUTH_CALLBACK_ERRORS[0],
            OAUTH_CALLBACK_ERRORS[1],
            OAUTH_CALLBACK_ERRORS[2],
            OAUTH_CALLBACK_ERRORS[3],
            ErrorCode::OAuthNotAvailableEmail,
            ErrorCode::OAuthUserAlreadyExists,
            ErrorCode::LoginBadCredentials,
            ErrorCode::LoginUserNotVerified,
        ],
        not_found: false,
    },
];

/// The OAuth associate router's routes (one pair per provider): link a
/// provider account to the current user. The callback can also answer 502
/// `OAUTH_PROVIDER_ERROR` when the provider fails.
pub const OAUTH_ASSOCIATE_ROUTES: &[RouteSpec; 2] = &[
    RouteSpec {
        method: Method::GET,
        path: "/authorize",
        summary: "Start linking a provider account to the current user",
        access: Access::User,
        body: Body::AuthorizeQuery,
        status: 200,
        success: Success::AuthorizationUrl,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::GET,
        path: "/callback",
        summary: "Finish linking a provider account: the provider redirects here",
        access: Access::User,
        body: Body::CallbackQuery,
        status: 200,
        success: Success::User,
        errors: &[
            OAUTH_CALLBACK_ERRORS[0],
            OAUTH_CALLBACK_ERRORS[1],
            OAUTH_CALLBACK_ERRORS[2],
            OAUTH_CALLBACK_ERRORS[3],
            ErrorCode::OAuthNotAvailableEmail,
            ErrorCode::OAuthAccountAlreadyLinked,
        ],
        not_found: false,
    },
];
