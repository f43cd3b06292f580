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

/// Declares the `detail` codes once each: the variant, its documentation and
/// its wire string; [`ErrorCode::ALL`] and [`ErrorCode::as_str`] follow.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $wire:literal, )*) => {
        /// The `detail` codes of FastAPI Users' routers, as clients read them.
        ///
        /// They are sent with status 400 as `{"detail": "<CODE>"}` (or, for
        /// password rules, `{"detail": {"code": "<CODE>", "reason": "…"}}`).
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order (for documentation generators).
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$name, )* ];

            /// The code as it appears on the wire, e.g. `"LOGIN_BAD_CREDENTIALS"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $wire, )*
                }
            }
        }
    };
}

error_codes! {
    /// Registration with an e-mail address that already has an account.
    RegisterUserAlreadyExists = "REGISTER_USER_ALREADY_EXISTS",
    /// Registration with a password the policy rejects.
    RegisterInvalidPassword = "REGISTER_INVALID_PASSWORD",
    /// Login with an unknown e-mail, a wrong password or an inactive account.
    LoginBadCredentials = "LOGIN_BAD_CREDENTIALS",
    /// Login by an unverified user on a router that requires verification.
    LoginUserNotVerified = "LOGIN_USER_NOT_VERIFIED",
    /// A bad, expired or wrong-purpose password-reset token.
    ResetPasswordBadToken = "RESET_PASSWORD_BAD_TOKEN",
    /// A password reset with a password the policy rejects.
    ResetPasswordInvalidPassword = "RESET_PASSWORD_INVALID_PASSWORD",
    /// A bad, expired or wrong-purpose verification token.
    VerifyUserBadToken = "VERIFY_USER_BAD_TOKEN",
    /// Verification of a user who is already verified.
    VerifyUserAlreadyVerified = "VERIFY_USER_ALREADY_VERIFIED",
    /// An update to an e-mail address that another account has.
    UpdateUserEmailAlreadyExists = "UPDATE_USER_EMAIL_ALREADY_EXISTS",
    /// An update to a password the policy rejects.
    UpdateUserInvalidPassword = "UPDATE_USER_INVALID_PASSWORD",
    /// An OAuth callback whose `state` is not a valid state token (garbage,
    /// tampered, signed with another secret or for another purpose).
    AccessTokenDecodeError = "ACCESS_TOKEN_DECODE_ERROR",
    /// An OAuth callback whose `state` has expired.
    AccessTokenAlreadyExpired = "ACCESS_TOKEN_ALREADY_EXPIRED",
    /// An OAuth callback whose CSRF cookie is missing or does not match the state.
    OAuthInvalidState = "OAUTH_INVALID_STATE",
    /// The provider refused the authorization code (unknown, used or expired).
    OAuthInvalidCode = "OAUTH_INVALID_CODE",
    /// The provider gave no e-mail address for the account.
    OAuthNotAvailableEmail = "OAUTH_NOT_AVAILABLE_EMAIL",
    /// An OAuth login whose e-mail address belongs to a user the provider
    /// account is not linked to (and linking by e-mail is off).
    OAuthUserAlreadyExists = "OAUTH_USER_ALREADY_EXISTS",
    /// Linking a provider account that another user already owns.
    OAuthAccountAlreadyLinked = "OAUTH_ACCOUNT_ALREADY_LINKED",
    /// A current password that is wrong, empty or missing (password change,
    /// e-mail change, `PATCH /users/me` when the manager requires it).
    InvalidCurrentPassword = "INVALID_CURRENT_PASSWORD",
    /// A password change to a password the policy rejects.
    ChangePasswordInvalidPassword = "CHANGE_PASSWORD_INVALID_PASSWORD",
    /// An e-mail change token that is bad, expired or used, or whose address
    /// was taken meanwhile.
    ChangeEmailBadToken = "CHANGE_EMAIL_BAD_TOKEN",
    /// A username the rules refuse (sent with a reason,
    /// [`Error::InvalidUsername`]).
    InvalidUsername = "INVALID_USERNAME",
    /// Registration with a username that another account has.
    RegisterUsernameAlreadyExists = "REGISTER_USERNAME_ALREADY_EXISTS",
    /// An update to a username that another account has.
    UpdateUserUsernameAlreadyExists = "UPDATE_USER_USERNAME_ALREADY_EXISTS",
    /// An invitation for an address that has an account.
    InvitationUserAlreadyExists = "INVITATION_USER_ALREADY_EXISTS",
    /// An invitation for an address that has a pending invitation.
    InvitationAlreadyPending = "INVITATION_ALREADY_PENDING",
    /// An invitation token that is bad, expired, revoked or used.
    InvitationBadToken = "INVITATION_BAD_TOKEN",
    /// An invitation accepted with a password the policy rejects.
    InvitationInvalidPassword = "INVITATION_INVALID_PASSWORD",
    /// An OAuth login that would create an account while registration is
    /// by invitation only.
    OAuthRegistrationClosed = "OAUTH_REGISTRATION_CLOSED",
    /// A correct password (or provider login) of a user with a second
    /// factor: the login needs its second step (sent with the `mfa_token`,
    /// [`Error::MfaRequired`]).
    LoginMfaRequired = "LOGIN_MFA_REQUIRED",
    /// A TOTP or recovery code that is wrong, malformed or already used.
    MfaBadCode = "MFA_BAD_CODE",
    /// An `mfa_token` that is unknown, expired, used, or dead after too many
    /// bad codes.
    MfaTokenInvalid = "MFA_TOKEN_INVALID",
    /// TOTP enrolment of a user whose TOTP is already on.
    MfaAlreadyEnabled = "MFA_ALREADY_ENABLED",
    /// A TOTP confirmation with no enrolment pending.
    MfaNotPending = "MFA_NOT_PENDING",
    /// A passkey registration or login that does not verify: unknown
    /// credential, bad signature, wrong origin or RP ID, a challenge reused
    /// or expired, a counter that went back.
    PasskeyBadCredential = "PASSKEY_BAD_CREDENTIAL",
}

impl ErrorCode {
    /// The status every code is sent with: 400.
    pub const STATUS: StatusCode = StatusCode::BAD_REQUEST;
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

/// The source of the errors that wrap another one ([`Error::Internal`],
/// [`Error::ServiceUnavailable`], [`Error::OAuthProvider`]): any error, or a
/// message (`"…".into()`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What was being done when an error happened, with the error as its source:
/// `Error::internal("JWT signing", e)` reads "internal error: JWT signing"
/// and keeps `e` in the chain of sources.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct Failure {
    what: std::borrow::Cow<'static, str>,
    #[source]
    source: Option<BoxError>,
}

impl Failure {
    /// `what` failed because of `source`.
    pub fn new(
        what: impl Into<std::borrow::Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// `what` failed, with no error behind it.
    pub fn message(what: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self {
            what: what.into(),
            source: None,
        }
    }
}

/// Every error the crate returns, and what the client sees of it.
///
/// The use cases of [`UserManager`](crate::UserManager) return the domain
/// variants (`UserAlreadyExists`, `InvalidPassword`), which the routers
/// translate into the route's own `detail` code with [`Error::in_route`]; every
/// other 400 is a [`Error::Code`]. Storage failures become a 503
/// `SERVICE_UNAVAILABLE` when the store is unreachable and a 500 otherwise; the
/// response never carries the underlying message, which is logged with its
/// chain of sources.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A 400 with this `detail` code.
    #[error("{0}")]
    Code(ErrorCode),
    /// A user with this e-mail address already exists: the route's code
    /// (`REGISTER_USER_ALREADY_EXISTS` unless a router says otherwise).
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
    /// The username rules refused a username: 400
    /// `{"code": "INVALID_USERNAME", "reason"}`.
    #[error("invalid username: {0}")]
    InvalidUsername(#[from] crate::username::InvalidUsername),
    /// No user matched (an id or an e-mail address): 404.
    #[error("user not found")]
    UserNotFound,
    /// No valid credentials were presented: 401.
    #[error("unauthorized")]
    Unauthorized,
    /// 401 `REFRESH_TOKEN_INVALID`: a refresh token that is unknown, expired,
    /// revoked or already rotated (reuse, which ends its session).
    #[error("invalid refresh token")]
    RefreshTokenInvalid,
    /// 429 `LOGIN_TOO_MANY_ATTEMPTS` with `Retry-After`: the login throttle
    /// locked the address (or the client) for `retry_after` more seconds.
    #[error("too many login attempts")]
    TooManyAttempts {
        /// Seconds until the window closes.
        retry_after: u64,
    },
    /// 403 `CSRF_ORIGIN_MISMATCH`: a cookie-authenticated request (or a
    /// cookie login) from another site ([`CsrfProtection`](crate::csrf::CsrfProtection)).
    #[error("cross-site request refused")]
    CsrfOriginMismatch,
    /// 400 `{"code": "LOGIN_MFA_REQUIRED", "mfa_token", "methods"}`: the
    /// credentials were right, and the user has a second factor; the login
    /// finishes at `{prefix}/login/mfa` with the token and a code.
    #[error("a second factor is required")]
    MfaRequired(crate::mfa::MfaChallenge),
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
    #[error("OAuth provider error")]
    OAuthProvider(#[source] BoxError),
    /// A dependency (database, cache) cannot be reached: 503 `SERVICE_UNAVAILABLE`.
    #[error("service unavailable")]
    ServiceUnavailable(#[source] BoxError),
    /// The store failed.
    #[error("store error")]
    Store(#[from] StoreError),
    /// The crate is misconfigured (reported at start-up where possible).
    #[error("configuration error: {0}")]
    Config(String),
    /// An unexpected internal failure: 500, logged, never detailed to the client.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// What a client sees of an error: the status and the `detail`.
enum Detail<'a> {
    /// An error code.
    Code(ErrorCode),
    /// A rejected password or username: its route's code and the reason.
    Password(ErrorCode, &'a str),
    /// A 422's one validation error.
    Validation(&'a [String], &'a str),
    /// Free text.
    Text(&'a str),
    /// The second step of a login: its token and methods.
    Mfa(&'a crate::mfa::MfaChallenge),
}

impl Error {
    /// A 422 for a field of the request body.
    pub fn validation(loc: &[&str], message: impl Into<String>) -> Self {
        Error::Validation {
            loc: loc.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    /// An [`Error::Internal`]: `what` failed because of `source`.
    pub fn internal(
        what: impl Into<std::borrow::Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Internal(Box::new(Failure::new(what, source)))
    }

    /// An [`Error::ServiceUnavailable`]: `what` failed because of `source`.
    pub fn unavailable(
        what: impl Into<std::borrow::Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::ServiceUnavailable(Box::new(Failure::new(what, source)))
    }

    /// An [`Error::OAuthProvider`]: what the provider did wrong.
    pub fn provider(what: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Error::OAuthProvider(Box::new(Failure::message(what)))
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
        self.wire().0
    }

    /// The status and the `detail` of this error: the one place that says
    /// what a client sees.
    fn wire(&self) -> (StatusCode, Detail<'_>) {
        let text = |status: StatusCode, text| (status, Detail::Text(text));
        match self {
            Error::Code(code) => (ErrorCode::STATUS, Detail::Code(*code)),
            Error::UserAlreadyExists | Error::Store(StoreError::EmailTaken) => (
                ErrorCode::STATUS,
                Detail::Code(ErrorCode::RegisterUserAlreadyExists),
            ),
            Error::Store(StoreError::UsernameTaken) => (
                ErrorCode::STATUS,
                Detail::Code(ErrorCode::RegisterUsernameAlreadyExists),
            ),
            Error::Store(StoreError::AccountTaken) => (
                ErrorCode::STATUS,
                Detail::Code(ErrorCode::OAuthAccountAlreadyLinked),
            ),
            Error::InvalidPassword { code, rejection } => (
                ErrorCode::STATUS,
                Detail::Password(
                    code.unwrap_or(ErrorCode::RegisterInvalidPassword),
                    rejection.reason(),
                ),
            ),
            Error::InvalidUsername(invalid) => (
                ErrorCode::STATUS,
                Detail::Password(ErrorCode::InvalidUsername, invalid.reason()),
            ),
            Error::MfaRequired(challenge) => (ErrorCode::STATUS, Detail::Mfa(challenge)),
            Error::BadRequest(detail) => text(StatusCode::BAD_REQUEST, detail.as_str()),
            Error::UserNotFound | Error::NotFound => text(StatusCode::NOT_FOUND, "Not Found"),
            Error::Unauthorized => text(StatusCode::UNAUTHORIZED, "Unauthorized"),
            Error::RefreshTokenInvalid => text(StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_INVALID"),
            Error::TooManyAttempts { .. } => {
                text(StatusCode::TOO_MANY_REQUESTS, "LOGIN_TOO_MANY_ATTEMPTS")
            }
            Error::CsrfOriginMismatch => text(StatusCode::FORBIDDEN, "CSRF_ORIGIN_MISMATCH"),
            Error::Forbidden => text(StatusCode::FORBIDDEN, "Forbidden"),
            Error::Validation { loc, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Detail::Validation(loc, message),
            ),
            Error::PayloadTooLarge => text(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"),
            Error::OAuthProvider(_) => text(StatusCode::BAD_GATEWAY, "OAUTH_PROVIDER_ERROR"),
            Error::ServiceUnavailable(_) | Error::Store(StoreError::Unavailable(_)) => {
                text(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
            }
            Error::Store(_) | Error::Config(_) | Error::Internal(_) => {
                text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

/// An error and its chain of sources, `"a: b: c"`, for the log.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // An error whose message already ends with its source's says it once.
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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
        let (status, detail) = self.wire();
        // What the client is not told goes to the log, with its sources.
        match status {
            StatusCode::BAD_GATEWAY => {
                tracing::warn!(error = %chain(&self), "OAuth provider error")
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %chain(&self), "dependency unavailable")
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %chain(&self), "internal error")
            }
            _ => {}
        }
        let detail = match detail {
            Detail::Code(code) => json!(code.as_str()),
            Detail::Password(code, reason) => json!({"code": code.as_str(), "reason": reason}),
            Detail::Validation(loc, message) => json!([{
                // FastAPI's type for an absent field; one for everything else.
                "type": if message == "Field required" { "missing" } else { "value_error" },
                "loc": loc,
                "msg": message,
            }]),
            Detail::Text(text) => json!(text),
            Detail::Mfa(challenge) => json!({
                "code": ErrorCode::LoginMfaRequired.as_str(),
                "mfa_token": challenge.token(),
                "methods": challenge.methods(),
            }),
        };
        let mut response = (status, Json(json!({ "detail": detail }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Error::TooManyAttempts { retry_after } = self {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after.into());
        }
        response
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_wire_string_once() {
        let mut wires: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let count = wires.len();
        assert_eq!(count, 34);
        wires.sort();
        wires.dedup();
        assert_eq!(wires.len(), count, "no two codes share a wire string");
        assert_eq!(
            ErrorCode::LoginBadCredentials.to_string(),
            "LOGIN_BAD_CREDENTIALS"
        );
    }

    #[test]
    fn status_and_body_come_from_one_place() {
        for (error, status) in [
            (Error::Code(ErrorCode::LoginBadCredentials), 400),
            (Error::UserAlreadyExists, 400),
            (Error::Unauthorized, 401),
            (Error::RefreshTokenInvalid, 401),
            (Error::TooManyAttempts { retry_after: 1 }, 429),
            (Error::CsrfOriginMismatch, 403),
            (Error::Forbidden, 403),
            (Error::NotFound, 404),
            (Error::validation(&["body"], "x"), 422),
            (Error::provider("no id"), 502),
            (Error::unavailable("Redis", "connection refused"), 503),
            (Error::internal("JWT signing", "bad key"), 500),
        ] {
            assert_eq!(error.status().as_u16(), status, "{error}");
            assert_eq!(error.into_response().status().as_u16(), status);
        }
    }

    #[test]
    fn sources_are_kept_in_the_chain() {
        let io = std::io::Error::other("disk on fire");
        let error = Error::internal("writing the mail", io);
        assert_eq!(error.to_string(), "internal error");
        assert_eq!(
            chain(&error),
            "internal error: writing the mail: disk on fire"
        );
        let source = std::error::Error::source(&error).expect("a source");
        assert!(
            source.source().is_some(),
            "the io error is kept, not stringified"
        );
    }
}
