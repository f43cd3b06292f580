//! The crate's error type and the `detail` codes of the HTTP contract.
//!
//! Every fallible operation of the crate returns [`Error`]. It implements
//! [`IntoResponse`], so a handler of the application can return it as is and get
//! the same status codes and `{"detail": …}` bodies as the crate's routers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// The `detail` codes of FastAPI Users' routers, as clients read them.
///
/// They are sent as `{"detail": "<CODE>"}` (or, for password rules,
/// `{"detail": {"code": "<CODE>", "reason": "…"}}`) with status 400.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Registration with an e-mail address that already has an account.
    RegisterUserAlreadyExists,
    /// Registration with a password the policy rejects.
    RegisterInvalidPassword,
    /// Login with an unknown e-mail, a wrong password or an inactive account.
    LoginBadCredentials,
    /// Login by an unverified user on a router that requires verification.
    LoginUserNotVerified,
    /// A bad, expired or wrong-purpose password-reset token.
    ResetPasswordBadToken,
    /// A password reset with a password the policy rejects.
    ResetPasswordInvalidPassword,
    /// A bad, expired or wrong-purpose verification token.
    VerifyUserBadToken,
    /// Verification of a user who is already verified.
    VerifyUserAlreadyVerified,
    /// An update to an e-mail address that another account has.
    UpdateUserEmailAlreadyExists,
    /// An update to a password the policy rejects.
    UpdateUserInvalidPassword,
    /// An OAuth callback whose `state` is not a valid state token (garbage,
    /// tampered, signed with another secret or for another purpose).
    AccessTokenDecodeError,
    /// An OAuth callback whose `state` has expired.
    AccessTokenAlreadyExpired,
    /// An OAuth callback whose CSRF cookie is missing or does not match the state.
    OAuthInvalidState,
    /// The provider refused the authorization code (unknown, used or expired).
    OAuthInvalidCode,
    /// The provider gave no e-mail address for the account.
    OAuthNotAvailableEmail,
    /// An OAuth login whose e-mail address belongs to a user the provider
    /// account is not linked to (and linking by e-mail is off).
    OAuthUserAlreadyExists,
    /// Linking a provider account that another user already owns.
    OAuthAccountAlreadyLinked,
}

impl ErrorCode {
    /// Every code, in declaration order (for documentation generators).
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::RegisterUserAlreadyExists,
        ErrorCode::RegisterInvalidPassword,
        ErrorCode::LoginBadCredentials,
        ErrorCode::LoginUserNotVerified,
        ErrorCode::ResetPasswordBadToken,
        ErrorCode::ResetPasswordInvalidPassword,
        ErrorCode::VerifyUserBadToken,
        ErrorCode::VerifyUserAlreadyVerified,
        ErrorCode::UpdateUserEmailAlreadyExists,
        ErrorCode::UpdateUserInvalidPassword,
        ErrorCode::AccessTokenDecodeError,
        ErrorCode::AccessTokenAlreadyExpired,
        ErrorCode::OAuthInvalidState,
        ErrorCode::OAuthInvalidCode,
        ErrorCode::OAuthNotAvailableEmail,
        ErrorCode::OAuthUserAlreadyExists,
        ErrorCode::OAuthAccountAlreadyLinked,
    ];

    /// The code as it appears on the wire, e.g. `"LOGIN_BAD_CREDENTIALS"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::RegisterUserAlreadyExists => "REGISTER_USER_ALREADY_EXISTS",
            ErrorCode::RegisterInvalidPassword => "REGISTER_INVALID_PASSWORD",
            ErrorCode::LoginBadCredentials => "LOGIN_BAD_CREDENTIALS",
            ErrorCode::LoginUserNotVerified => "LOGIN_USER_NOT_VERIFIED",
            ErrorCode::ResetPasswordBadToken => "RESET_PASSWORD_BAD_TOKEN",
            ErrorCode::ResetPasswordInvalidPassword => "RESET_PASSWORD_INVALID_PASSWORD",
            ErrorCode::VerifyUserBadToken => "VERIFY_USER_BAD_TOKEN",
            ErrorCode::VerifyUserAlreadyVerified => "VERIFY_USER_ALREADY_VERIFIED",
            ErrorCode::UpdateUserEmailAlreadyExists => "UPDATE_USER_EMAIL_ALREADY_EXISTS",
            ErrorCode::UpdateUserInvalidPassword => "UPDATE_USER_INVALID_PASSWORD",
            ErrorCode::AccessTokenDecodeError => "ACCESS_TOKEN_DECODE_ERROR",
            ErrorCode::AccessTokenAlreadyExpired => "ACCESS_TOKEN_ALREADY_EXPIRED",
            ErrorCode::OAuthInvalidState => "OAUTH_INVALID_STATE",
            ErrorCode::OAuthInvalidCode => "OAUTH_INVALID_CODE",
            ErrorCode::OAuthNotAvailableEmail => "OAUTH_NOT_AVAILABLE_EMAIL",
            ErrorCode::OAuthUserAlreadyExists => "OAUTH_USER_ALREADY_EXISTS",
            ErrorCode::OAuthAccountAlreadyLinked => "OAUTH_ACCOUNT_ALREADY_LINKED",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the password policy rejected a password: a human-readable reason.
///
/// The reason is sent to the client together with the route's code (see
/// [`Error::InvalidPassword`]); it never contains the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRejection {
    reason: String,
}

impl PasswordRejection {
    /// A rejection with this reason, e.g. `"Password should be at least 8 characters"`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason given to the client.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for PasswordRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Every error the crate returns, and what the client sees of it.
///
/// The use cases of [`UserManager`](crate::UserManager) return the domain variants
/// (`UserAlreadyExists`, `InvalidPassword`, …); the routers translate them into the
/// route's own `detail` code with [`Error::in_route`]. Storage failures become a
/// 503 `SERVICE_UNAVAILABLE` when the store is unreachable and a 500 otherwise; the
/// response never carries the underlying message.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A 400 with this `detail` code.
    #[error("{0}")]
    Code(ErrorCode),
    /// A user with this e-mail address already exists.
    #[error("a user with this e-mail address already exists")]
    UserAlreadyExists,
    /// The password policy rejected the password. `code` is the route's code when
    /// known (the default is `REGISTER_INVALID_PASSWORD`).
    #[error("invalid password: {rejection}")]
    InvalidPassword {
        /// The route's code; `None` until a router sets it.
        code: Option<ErrorCode>,
        /// Why the password was rejected.
        rejection: PasswordRejection,
    },
    /// Wrong credentials, or an inactive user, at login.
    #[error("bad credentials")]
    BadCredentials,
    /// The user must be verified for this action.
    #[error("user not verified")]
    UserNotVerified,
    /// No user matched (an id or an e-mail address): 404.
    #[error("user not found")]
    UserNotFound,
    /// No valid credentials were presented: 401.
    #[error("unauthorized")]
    Unauthorized,
    /// The user is authenticated but lacks a required flag: 403.
    #[error("forbidden")]
    Forbidden,
    /// The requested resource does not exist: 404.
    #[error("not found")]
    NotFound,
    /// The request body or parameters do not match the route's schema: 422.
    #[error("validation error: {message}")]
    Validation {
        /// Where the error is (`["body", "email"]`, …).
        loc: Vec<String>,
        /// What is wrong.
        message: String,
    },
    /// The request body exceeds the configured limit: 413.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A 400 with this free-form `detail` (FastAPI Users' `"Bad Request"`, or
    /// the `error` an OAuth provider sent back, such as `"access_denied"`).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// An OAuth provider failed (unreachable, an error status, an invalid
    /// answer or ID token): 502 `OAUTH_PROVIDER_ERROR`. The reason is logged,
    /// never sent to the client.
    #[error("OAuth provider error: {0}")]
    OAuthProvider(String),
    /// A dependency (database, cache) cannot be reached: 503 `SERVICE_UNAVAILABLE`.
    #[error("service unavailable: {0}")]
    ServiceUnavailable(String),
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// The crate is misconfigured (reported at start-up where possible).
    #[error("configuration error: {0}")]
    Config(String),
    /// An unexpected internal failure: 500, logged, never detailed to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A 422 for a field of the request body.
    pub fn validation(loc: &[&str], message: impl Into<String>) -> Self {
        Error::Validation {
            loc: loc.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    /// Translates the domain variants into a route's own `detail` codes:
    /// `UserAlreadyExists` into `exists` and `InvalidPassword` into `invalid_password`.
    /// Other variants are kept.
    pub fn in_route(self, exists: ErrorCode, invalid_password: ErrorCode) -> Self {
        match self {
            Error::UserAlreadyExists => Error::Code(exists),
            Error::InvalidPassword { rejection, .. } => Error::InvalidPassword {
                code: Some(invalid_password),
                rejection,
            },
            other => other,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Code(_)
            | Error::UserAlreadyExists
            | Error::InvalidPassword { .. }
            | Error::BadCredentials
            | Error::UserNotVerified
            | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::OAuthProvider(_) => StatusCode::BAD_GATEWAY,
            Error::UserNotFound | Error::NotFound => StatusCode::NOT_FOUND,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Store(StoreError::EmailTaken | StoreError::AccountTaken) => {
                StatusCode::BAD_REQUEST
            }
            Error::Store(_) | Error::Config(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl From<PasswordRejection> for Error {
    fn from(rejection: PasswordRejection) -> Self {
        Error::InvalidPassword {
            code: None,
            rejection,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Error::Code(code) => json!(code.as_str()),
            Error::UserAlreadyExists | Error::Store(StoreError::EmailTaken) => {
                json!(ErrorCode::RegisterUserAlreadyExists.as_str())
            }
            Error::InvalidPassword { code, rejection } => json!({
                "code": code.unwrap_or(ErrorCode::RegisterInvalidPassword).as_str(),
                "reason": rejection.reason(),
            }),
            Error::Store(StoreError::AccountTaken) => {
                json!(ErrorCode::OAuthAccountAlreadyLinked.as_str())
            }
            Error::BadCredentials => json!(ErrorCode::LoginBadCredentials.as_str()),
            Error::UserNotVerified => json!(ErrorCode::LoginUserNotVerified.as_str()),
            Error::UserNotFound | Error::NotFound => json!("Not Found"),
            Error::Unauthorized => json!("Unauthorized"),
            Error::Forbidden => json!("Forbidden"),
            Error::Validation { loc, message } => json!([{
                // FastAPI's type for an absent field; one for everything else.
                "type": if message == "Field required" { "missing" } else { "value_error" },
                "loc": loc,
                "msg": message,
            }]),
            Error::PayloadTooLarge => json!("Payload Too Large"),
            Error::BadRequest(detail) => json!(detail),
            Error::OAuthProvider(reason) => {
                tracing::warn!(%reason, "OAuth provider error");
                json!("OAUTH_PROVIDER_ERROR")
            }
            Error::ServiceUnavailable(reason) => {
                tracing::warn!(%reason, "dependency unavailable");
                json!("SERVICE_UNAVAILABLE")
            }
            Error::Store(StoreError::Unavailable(reason)) => {
                tracing::warn!(%reason, "store unavailable");
                json!("SERVICE_UNAVAILABLE")
            }
            Error::Store(_) | Error::Config(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "internal error");
                json!("Internal Server Error")
            }
        };
        let mut response = (status, Json(json!({ "detail": detail }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
