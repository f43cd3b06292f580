//! The routes of every router described as data: method, path, body, auth,
//! success status and the error codes each can answer. The routers are built
//! from these descriptions, and documentation (OpenAPI) is generated from them,
//! so the two cannot drift apart.
//!
//! Beside them, the records of where [`Routes`](crate::Routes) mounted each
//! router (prefix, backend, body limit, verification rule): the OpenAPI
//! document is built from these descriptions alone, without depending on the
//! module that mounts the routers.

use http::Method;

use crate::auth::{AuthBackend, TransportKind};
use crate::error::ErrorCode;
use crate::user::UserModel;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// A JSON object `{"refresh_token"}` (or the refresh cookie).
    RefreshToken,
    /// A JSON object `{"current_password", "new_password"}`.
    ChangePassword,
    /// A JSON object `{"email", "current_password"}`.
    ChangeEmail,
    /// A JSON object `{"email", "expires_in_days"?, "remark"?}`.
    Invite,
    /// A JSON object `{"token", "password", …}`: the accept-invitation
    /// schema.
    AcceptInvitation,
    /// A JSON object `{"current_password"}`.
    CurrentPassword,
    /// A JSON object `{"code"}` (a TOTP code).
    MfaCode,
    /// A JSON object `{"mfa_token", "code"}` (a TOTP or recovery code).
    MfaLogin,
    /// A JSON object `{"challenge_id", "credential", "name"}`: a WebAuthn
    /// `RegistrationResponseJSON`.
    PasskeyRegistration,
    /// A JSON object `{"challenge_id", "credential"}`: a WebAuthn
    /// `AuthenticationResponseJSON`.
    PasskeyLogin,
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
#[non_exhaustive]
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
    /// An empty JSON object `{}` (a token verified).
    EmptyObject,
    /// A list of sessions (`GET /users/me/sessions`).
    Sessions,
    /// An invitation object.
    Invitation,
    /// A page of invitations `{"count", "items"}`.
    Invitations,
    /// `{"totp", "recovery_codes_left", "passkeys"}`.
    MfaStatus,
    /// `{"secret", "otpauth_url"}`.
    TotpEnrolment,
    /// `{"recovery_codes": [10 strings]}`.
    RecoveryCodes,
    /// `{"challenge_id", "publicKey"}`: WebAuthn options.
    PasskeyOptions,
    /// A passkey `{"id", "name", "created_at", "last_used_at"}`.
    Passkey,
    /// A list of passkeys.
    Passkeys,
}

/// One route of a router.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
pub const AUTH_ROUTES: &[RouteSpec; 3] = &[
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
    RouteSpec {
        method: Method::POST,
        path: "/verify-token",
        summary: "Whether a token is a live access token of this backend",
        access: Access::Public,
        body: Body::Token,
        status: 200,
        success: Success::EmptyObject,
        errors: &[],
        not_found: false,
    },
];

/// The auth router's second step of a login, with multi-factor login on.
pub const MFA_LOGIN_ROUTES: &[RouteSpec; 1] = &[RouteSpec {
    method: Method::POST,
    path: "/login/mfa",
    summary: "Finish a login with its second factor: the mfa_token and a TOTP or recovery code",
    access: Access::Public,
    body: Body::MfaLogin,
    status: 200,
    success: Success::Login,
    errors: &[
        ErrorCode::MfaBadCode,
        ErrorCode::MfaTokenInvalid,
        ErrorCode::LoginBadCredentials,
        ErrorCode::LoginUserNotVerified,
    ],
    not_found: false,
}];

/// The auth router's passkey login, with passkeys on.
pub const PASSKEY_LOGIN_ROUTES: &[RouteSpec; 2] = &[
    RouteSpec {
        method: Method::POST,
        path: "/passkey/options",
        summary: "Start a passkey login: WebAuthn request options",
        access: Access::Public,
        body: Body::None,
        status: 200,
        success: Success::PasskeyOptions,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/passkey/login",
        summary: "Log in with a passkey (satisfies the second factor)",
        access: Access::Public,
        body: Body::PasskeyLogin,
        status: 200,
        success: Success::Login,
        errors: &[
            ErrorCode::PasskeyBadCredential,
            ErrorCode::LoginBadCredentials,
            ErrorCode::LoginUserNotVerified,
        ],
        not_found: false,
    },
];

/// The MFA router's routes (mounted at the users' prefix): the current
/// user's TOTP and recovery codes, and a superuser's reset.
pub const MFA_ROUTES: &[RouteSpec; 6] = &[
    RouteSpec {
        method: Method::GET,
        path: "/me/mfa",
        summary: "The current user's second factors",
        access: Access::User,
        body: Body::None,
        status: 200,
        success: Success::MfaStatus,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/me/mfa/totp",
        summary: "Begin a TOTP enrolment: a secret, pending until confirmed",
        access: Access::User,
        body: Body::CurrentPassword,
        status: 200,
        success: Success::TotpEnrolment,
        errors: &[
            ErrorCode::InvalidCurrentPassword,
            ErrorCode::MfaAlreadyEnabled,
        ],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/me/mfa/totp/confirm",
        summary: "Confirm the TOTP enrolment with a first code: TOTP on, recovery codes shown once",
        access: Access::User,
        body: Body::MfaCode,
        status: 200,
        success: Success::RecoveryCodes,
        errors: &[ErrorCode::MfaBadCode, ErrorCode::MfaNotPending],
        not_found: false,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/me/mfa/totp",
        summary: "Turn TOTP off, with its recovery codes",
        access: Access::User,
        body: Body::CurrentPassword,
        status: 204,
        success: Success::NoContent,
        errors: &[ErrorCode::InvalidCurrentPassword],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/me/mfa/recovery-codes",
        summary: "New recovery codes, against a TOTP code: the old ones die",
        access: Access::User,
        body: Body::MfaCode,
        status: 200,
        success: Success::RecoveryCodes,
        errors: &[ErrorCode::MfaBadCode],
        not_found: false,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/{id}/mfa",
        summary: "Remove every second factor of a user (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 204,
        success: Success::NoContent,
        errors: &[],
        not_found: true,
    },
];

/// The current user's passkeys (mounted at the users' prefix), with
/// passkeys on.
pub const PASSKEY_ROUTES: &[RouteSpec; 4] = &[
    RouteSpec {
        method: Method::POST,
        path: "/me/passkeys/options",
        summary: "Start registering a passkey: WebAuthn creation options",
        access: Access::User,
        body: Body::None,
        status: 200,
        success: Success::PasskeyOptions,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/me/passkeys",
        summary: "Register a passkey",
        access: Access::User,
        body: Body::PasskeyRegistration,
        status: 201,
        success: Success::Passkey,
        errors: &[ErrorCode::PasskeyBadCredential],
        not_found: false,
    },
    RouteSpec {
        method: Method::GET,
        path: "/me/passkeys",
        summary: "The current user's passkeys, oldest first",
        access: Access::User,
        body: Body::None,
        status: 200,
        success: Success::Passkeys,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/me/passkeys/{passkey_id}",
        summary: "Remove a passkey of the current user",
        access: Access::User,
        body: Body::None,
        status: 204,
        success: Success::NoContent,
        errors: &[],
        not_found: true,
    },
];

/// The auth router's route for a backend whose strategy hands out refresh
/// tokens; answers 401 `REFRESH_TOKEN_INVALID` for a refresh token that is
/// unknown, expired, revoked or already rotated.
pub const REFRESH_ROUTES: &[RouteSpec; 1] = &[RouteSpec {
    method: Method::POST,
    path: "/refresh",
    summary: "Rotate a refresh token: new access and refresh tokens",
    access: Access::Public,
    body: Body::RefreshToken,
    status: 200,
    success: Success::Login,
    errors: &[],
    not_found: false,
}];

/// The sessions routes of the users router: list and end the sessions of
/// revocable backends (database, Redis, refresh tokens).
pub const SESSIONS_ROUTES: &[RouteSpec; 5] = &[
    RouteSpec {
        method: Method::GET,
        path: "/me/sessions",
        summary: "The current user's sessions, newest first",
        access: Access::User,
        body: Body::None,
        status: 200,
        success: Success::Sessions,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/me/sessions",
        summary: "End every session of the current user but the current one",
        access: Access::User,
        body: Body::None,
        status: 204,
        success: Success::NoContent,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/me/sessions/{session_id}",
        summary: "End one session of the current user",
        access: Access::User,
        body: Body::None,
        status: 204,
        success: Success::NoContent,
        errors: &[],
        not_found: true,
    },
    RouteSpec {
        method: Method::GET,
        path: "/{id}/sessions",
        summary: "A user's sessions (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 200,
        success: Success::Sessions,
        errors: &[],
        not_found: true,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/{id}/sessions",
        summary: "End every session of a user (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 204,
        success: Success::NoContent,
        errors: &[],
        not_found: true,
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
            // With `current_password_on_update`.
            ErrorCode::InvalidCurrentPassword,
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

/// The verify router's route that confirms a change of address (the token
/// went to the new address).
pub const EMAIL_CHANGE_ROUTES: &[RouteSpec; 1] = &[RouteSpec {
    method: Method::POST,
    path: "/confirm-email-change",
    summary: "Confirm a change of address with the token mailed to the new address",
    access: Access::Public,
    body: Body::Token,
    status: 200,
    success: Success::User,
    errors: &[ErrorCode::ChangeEmailBadToken],
    not_found: false,
}];

/// The users router's routes that change credentials with the current
/// password; a wrong one counts against the login throttle (429 when
/// locked).
pub const ACCOUNT_ROUTES: &[RouteSpec; 2] = &[
    RouteSpec {
        method: Method::POST,
        path: "/me/change-password",
        summary: "Change the password, with the current one",
        access: Access::User,
        body: Body::ChangePassword,
        status: 204,
        success: Success::NoContent,
        errors: &[
            ErrorCode::InvalidCurrentPassword,
            ErrorCode::ChangePasswordInvalidPassword,
        ],
        not_found: false,
    },
    RouteSpec {
        method: Method::POST,
        path: "/me/change-email",
        summary: "Ask to change the address: a token goes to the new one",
        access: Access::User,
        body: Body::ChangeEmail,
        status: 202,
        success: Success::Null,
        errors: &[
            ErrorCode::InvalidCurrentPassword,
            ErrorCode::UpdateUserEmailAlreadyExists,
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

/// Every route of every router, in the order above (for the tests that
/// check each one).
#[cfg(test)]
pub(crate) fn all_routes() -> impl Iterator<Item = &'static RouteSpec> {
    AUTH_ROUTES
        .iter()
        .chain(REFRESH_ROUTES)
        .chain(SESSIONS_ROUTES)
        .chain(REGISTER_ROUTES)
        .chain(RESET_ROUTES)
        .chain(VERIFY_ROUTES)
        .chain(EMAIL_CHANGE_ROUTES)
        .chain(USERS_ROUTES)
        .chain(ACCOUNT_ROUTES)
        .chain(OAUTH_ROUTES)
        .chain(OAUTH_ASSOCIATE_ROUTES)
        .chain(MFA_LOGIN_ROUTES)
        .chain(PASSKEY_LOGIN_ROUTES)
        .chain(MFA_ROUTES)
        .chain(PASSKEY_ROUTES)
}

// ---------------------------------------------------------------------------
// Mount records: what `Routes` mounted where, as the documentation needs it.

/// A backend as documentation sees it: its name, its transport, and whether
/// its strategy hands out refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackendDoc {
    /// [`AuthBackend::name`].
    pub(crate) name: String,
    /// What the transport is.
    pub(crate) kind: TransportKind,
    /// Whether the strategy hands out refresh tokens
    /// ([`Strategy::refreshes`](crate::auth::Strategy::refreshes)): its login
    /// answers a refresh token too, and its auth router has `POST /refresh`.
    pub(crate) refreshes: bool,
}

impl BackendDoc {
    pub(crate) fn of<U: UserModel>(backend: &AuthBackend<U>) -> Self {
        Self {
            name: backend.name().to_owned(),
            kind: backend.transport().kind(),
            refreshes: backend.strategy().refreshes(),
        }
    }
}

/// Which backends authenticate a mount's protected routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountAuth {
    /// Every backend of the authenticator, in order (the users router, …).
    AllBackends,
    /// Only the mount's own [`Mount::backend`] (the auth router's logout).
    OwnBackend,
}

/// What an OAuth mount adds to its routes' documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthDoc {
    /// The provider's name (`"google"`, …), for summaries.
    pub(crate) provider: String,
    /// The CSRF cookie the authorize route sets and the callback reads, when
    /// known.
    pub(crate) csrf_cookie: Option<String>,
    /// Whether a successful callback answers a 302 to a configured URL
    /// (carrying the login cookie) instead of the transport's response.
    pub(crate) success_redirect: bool,
}

/// One mounted router: its routes (the same specs it was built from) and what
/// their documentation depends on.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))] // Read by the document.
pub(crate) struct Mount {
    /// The prefix, normalised (`""` or `"/…"` without a trailing slash).
    pub(crate) prefix: String,
    /// The routes, relative to the prefix.
    pub(crate) routes: &'static [RouteSpec],
    /// The operations' tag.
    pub(crate) tag: &'static str,
    /// The backend whose transport answers `Success::Login` and
    /// `Success::Logout` routes.
    pub(crate) backend: Option<BackendDoc>,
    /// Which backends authenticate the protected routes.
    pub(crate) auth: MountAuth,
    /// Whether the routes require a verified user (403, `LOGIN_USER_NOT_VERIFIED`).
    pub(crate) requires_verification: bool,
    /// The body limit of routes that read a body (413).
    pub(crate) body_limit: usize,
    /// OAuth details, for the OAuth routers.
    pub(crate) oauth: Option<OAuthDoc>,
    /// Whether users have usernames: the user bodies take `username`, with
    /// its codes.
    pub(crate) usernames: bool,
    /// Whether the manager has multi-factor login: a login route may answer
    /// 400 `LOGIN_MFA_REQUIRED` (`{"code", "mfa_token", "methods"}`).
    pub(crate) mfa: bool,
}

#[allow(dead_code)] // Setters for router kinds that not every feature set mounts (OAuth).
impl Mount {
    /// Sets the backend whose transport answers login and logout.
    pub(crate) fn backend<U: UserModel>(mut self, backend: &AuthBackend<U>) -> Self {
        self.backend = Some(BackendDoc::of(backend));
        self
    }

    /// Protected routes accept only the mount's own backend.
    pub(crate) fn own_backend_only(mut self) -> Self {
        self.auth = MountAuth::OwnBackend;
        self
    }

    /// Overrides the verification rule taken from the front door.
    pub(crate) fn requires_verification(mut self, required: bool) -> Self {
        self.requires_verification = required;
        self
    }

    /// Marks an OAuth mount: its provider, its CSRF cookie when known, and
    /// whether a successful callback redirects (302) instead of answering.
    pub(crate) fn oauth(
        mut self,
        provider: &str,
        csrf_cookie: Option<&str>,
        success_redirect: bool,
    ) -> Self {
        self.oauth = Some(OAuthDoc {
            provider: provider.to_owned(),
            csrf_cookie: csrf_cookie.map(str::to_owned),
            success_redirect,
        });
        self
    }
}

/// The superusers' invitation routes (mounted at the users' prefix).
pub const INVITATION_ROUTES: &[RouteSpec; 4] = &[
    RouteSpec {
        method: Method::POST,
        path: "/invitations",
        summary: "Invite an address (superusers)",
        access: Access::Superuser,
        body: Body::Invite,
        status: 201,
        success: Success::Invitation,
        errors: &[
            ErrorCode::InvitationUserAlreadyExists,
            ErrorCode::InvitationAlreadyPending,
        ],
        not_found: false,
    },
    RouteSpec {
        method: Method::GET,
        path: "/invitations",
        summary: "The invitations, newest first (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 200,
        success: Success::Invitations,
        errors: &[],
        not_found: false,
    },
    RouteSpec {
        method: Method::GET,
        path: "/invitations/{invitation_id}",
        summary: "An invitation (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 200,
        success: Success::Invitation,
        errors: &[],
        not_found: true,
    },
    RouteSpec {
        method: Method::DELETE,
        path: "/invitations/{invitation_id}",
        summary: "Revoke an invitation: its token dies (superusers)",
        access: Access::Superuser,
        body: Body::None,
        status: 204,
        success: Success::NoContent,
        errors: &[],
        not_found: true,
    },
];

/// The accept route of invitations (mounted at the auth prefix).
pub const ACCEPT_INVITATION_ROUTES: &[RouteSpec; 1] = &[RouteSpec {
    method: Method::POST,
    path: "/accept-invitation",
    summary: "Accept an invitation: an active, verified account for the invited address",
    access: Access::Public,
    body: Body::AcceptInvitation,
    status: 201,
    success: Success::User,
    errors: &[
        ErrorCode::InvitationBadToken,
        ErrorCode::InvitationInvalidPassword,
        ErrorCode::RegisterUserAlreadyExists,
    ],
    not_found: false,
}];
