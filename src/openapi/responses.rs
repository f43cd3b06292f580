//! The responses of each operation: the success the route's transport or body
//! gives, the 400 `detail` codes of its spec, and the shared error responses
//! (401, 403, 404, 413, 422, 429, 502, 503).

use std::collections::BTreeMap;

use http::Method;
use serde_json::json;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder, Responses, ResponsesBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Schema};
use utoipa::openapi::{Content, ContentBuilder, Header, Ref, RefOr};

use super::JSON;
use super::schemas::{
    described_string, detail_schema, null, object, schema_ref, string, string_enum,
};
use crate::auth::TransportKind;
use crate::error::ErrorCode;
use crate::routers::spec::{Access, BackendDoc, Body, Mount, MountAuth, RouteSpec, Success};

/// `{"$ref": "#/components/responses/{name}"}`.
fn response_ref(name: &str) -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(name))
}

/// A JSON body of this schema.
fn json_content(schema: RefOr<Schema>) -> Content {
    Content::new(Some(schema))
}

/// A string-valued header with a description.
fn header(description: impl Into<String>) -> Header {
    HeaderBuilder::new()
        .schema(string())
        .description(Some(description))
        .build()
}

/// Codes sent as `{"code", "reason"}` rather than a plain string.
fn is_password_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::RegisterInvalidPassword
            | ErrorCode::ResetPasswordInvalidPassword
            | ErrorCode::UpdateUserInvalidPassword
            | ErrorCode::ChangePasswordInvalidPassword
            | ErrorCode::InvitationInvalidPassword
            | ErrorCode::InvalidUsername
    )
}

/// Whether the route is a login that a user with TOTP on finishes in a
/// second step (400 `LOGIN_MFA_REQUIRED`): a password login, or an OAuth
/// login callback, of a mount whose manager has multi-factor login.
pub(super) fn answers_mfa_challenge(mount: &Mount, route: &RouteSpec) -> bool {
    mount.mfa
        && route.success == Success::Login
        && matches!(route.body, Body::LoginForm | Body::CallbackQuery)
}

/// The methods a `LOGIN_MFA_REQUIRED` challenge may offer.
const MFA_METHODS: [&str; 3] = ["totp", "recovery_code", "passkey"];

/// Whether a backend's transport is a cookie, which a browser sends by itself.
fn is_cookie(backend: &BackendDoc) -> bool {
    matches!(backend.kind, TransportKind::Cookie { .. })
}

/// Whether the route can answer 403 `CSRF_ORIGIN_MISMATCH`: with a method
/// other than `GET`, `HEAD` and `OPTIONS`, the login and refresh routes of a
/// cookie backend, and every route that authenticates its caller when a
/// backend that may authenticate it carries its token in a cookie (the
/// [`CsrfProtection`](crate::csrf::CsrfProtection) check, on by default).
/// `authenticator` is the authenticator's backends, in order.
pub(super) fn cross_site_refusal(
    mount: &Mount,
    route: &RouteSpec,
    authenticator: &[BackendDoc],
) -> bool {
    if matches!(route.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let own_cookie = mount.backend.as_ref().is_some_and(is_cookie);
    // The logins (a second step too) and the refresh set the backend's
    // cookie.
    let logs_in = matches!(
        route.body,
        Body::LoginForm | Body::RefreshToken | Body::MfaLogin | Body::PasskeyLogin
    );
    if logs_in && own_cookie {
        return true;
    }
    match (route.access, mount.auth) {
        (Access::Public, _) => false,
        (_, MountAuth::AllBackends) => authenticator.iter().any(is_cookie),
        (_, MountAuth::OwnBackend) => own_cookie,
    }
}

/// Every status a route of this mount answers, with its response;
/// `authenticator` is the authenticator's backends, in order (a cookie among
/// them adds the 403 of [`cross_site_refusal`]).
pub(super) fn responses(
    mount: &Mount,
    route: &RouteSpec,
    authenticator: &[BackendDoc],
) -> Responses {
    let mut out: Vec<(String, RefOr<Response>)> = Vec::new();
    let (status, success) = success(mount, route);
    out.push((status.to_string(), success.into()));

    let mut codes: Vec<ErrorCode> = route
        .errors
        .iter()
        .copied()
        .filter(|&c| c != ErrorCode::LoginUserNotVerified || mount.requires_verification)
        .collect();
    if answers_mfa_challenge(mount, route) {
        codes.push(ErrorCode::LoginMfaRequired);
    }
    // The username's codes, where a body takes one.
    if mount.usernames {
        match route.body {
            Body::UserCreate | Body::AcceptInvitation => codes.extend([
                ErrorCode::InvalidUsername,
                ErrorCode::RegisterUsernameAlreadyExists,
            ]),
            Body::UserUpdate => codes.extend([
                ErrorCode::InvalidUsername,
                ErrorCode::UpdateUserUsernameAlreadyExists,
            ]),
            _ => {}
        }
    }
    let free_form = route.body == Body::CallbackQuery;
    if !codes.is_empty() || free_form {
        out.push(("400".into(), bad_request(&codes, free_form).into()));
    }
    if route.access != Access::Public {
        out.push(("401".into(), response_ref("Unauthorized")));
    } else if route.body == Body::RefreshToken {
        // The refresh token is the credential: a bad one answers 401.
        out.push(("401".into(), response_ref("RefreshTokenInvalid")));
    } else if route.success == Success::EmptyObject {
        // `POST /verify-token`: public, the token to check is in the body.
        out.push(("401".into(), token_not_live().into()));
    }
    let lacks_flag = route.access == Access::Superuser
        || (route.access == Access::User && mount.requires_verification);
    // One 403 for both reasons when a route has both.
    match (lacks_flag, cross_site_refusal(mount, route, authenticator)) {
        (true, true) => out.push(("403".into(), response_ref("ForbiddenOrCrossSite"))),
        (true, false) => out.push(("403".into(), response_ref("Forbidden"))),
        (false, true) => out.push(("403".into(), response_ref("CrossSite"))),
        (false, false) => {}
    }
    if route.not_found {
        let not_found = if route.path.contains("{session_id}") {
            "SessionNotFound"
        } else if route.path.contains("{passkey_id}") {
            "PasskeyNotFound"
        } else {
            "NotFound"
        };
        out.push(("404".into(), response_ref(not_found)));
    }
    if route.body.has_body() {
        let too_large = ResponseBuilder::new()
            .description(format!(
                "The request body is larger than the limit ({} bytes).",
                mount.body_limit
            ))
            .content(JSON, json_content(detail_schema("Payload Too Large")))
            .build();
        out.push(("413".into(), too_large.into()));
        out.push(("422".into(), response_ref("ValidationError")));
    }
    // Logins, the second step's codes and current-password checks count
    // against the login throttle when the manager has one; the user's own
    // update checks the current password when the manager requires it for a
    // new password or address.
    let owner_update = route.body == Body::UserUpdate && route.access == Access::User;
    // New recovery codes take a TOTP code, counted as a login's second step
    // is (a stolen session must not guess codes there).
    let recovery_codes = route.body == Body::MfaCode && route.path.ends_with("/recovery-codes");
    if owner_update
        || recovery_codes
        || matches!(
            route.body,
            Body::LoginForm
                | Body::ChangePassword
                | Body::ChangeEmail
                | Body::MfaLogin
                | Body::CurrentPassword
        )
    {
        let mut description = "Too many attempts for this address (or client): the login \
                               throttle locked it; `Retry-After` says for how many seconds."
            .to_owned();
        if owner_update {
            description.push_str(
                " Only when the manager requires the current password to change the password \
                 or the address (`current_password_on_update`).",
            );
        }
        let throttled = ResponseBuilder::new()
            .description(description)
            .header(
                "Retry-After",
                utoipa::openapi::HeaderBuilder::new()
                    .schema(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::Type::Integer),
                    )
                    .description(Some("Seconds until the window closes."))
                    .build(),
            )
            .content(JSON, json_content(detail_schema("LOGIN_TOO_MANY_ATTEMPTS")))
            .build();
        out.push(("429".into(), throttled.into()));
    }
    // The OAuth routes call the provider: the callback exchanges the code, the
    // authorize route may fetch an OpenID Connect discovery document.
    if matches!(route.body, Body::AuthorizeQuery | Body::CallbackQuery) {
        out.push(("502".into(), response_ref("OAuthProviderError")));
    }
    // Everything but a public authorize route reads the store or a session
    // backend (database, Redis), which can be unreachable.
    if !(route.access == Access::Public && route.body == Body::AuthorizeQuery) {
        out.push(("503".into(), response_ref("ServiceUnavailable")));
    }
    ResponsesBuilder::new().responses_from_iter(out).build()
}

/// The 401 of `POST /verify-token`: the token in the body is not a live
/// access token of the backend.
fn token_not_live() -> Response {
    ResponseBuilder::new()
        .description(
            "The token is not a live access token of this backend: invalid, expired, \
             revoked (its session ended), another backend's, or its user is inactive.",
        )
        .header("WWW-Authenticate", header("`Bearer`"))
        .content(JSON, json_content(detail_schema("Unauthorized")))
        .build()
}

fn bad_request(codes: &[ErrorCode], free_form: bool) -> Response {
    let mfa = codes.contains(&ErrorCode::LoginMfaRequired);
    let plain: Vec<&str> = codes
        .iter()
        .filter(|c| !is_password_code(**c) && **c != ErrorCode::LoginMfaRequired)
        .map(|c| c.as_str())
        .collect();
    let password: Vec<&str> = codes
        .iter()
        .filter(|c| is_password_code(**c))
        .map(|c| c.as_str())
        .collect();
    let mut alternatives: Vec<RefOr<Schema>> = Vec::new();
    if !plain.is_empty() {
        alternatives.push(string_enum(&plain));
    }
    if !password.is_empty() {
        alternatives.push(
            object(
                &["code", "reason"],
                [
                    ("code", string_enum(&password)),
                    ("reason", described_string("Why the password was refused.")),
                ],
            )
            .into(),
        );
    }
    if mfa {
        alternatives.push(mfa_challenge_schema());
    }
    if free_form {
        alternatives.push(described_string(
            "The `error` the OAuth provider sent back (`access_denied`, …), \
             or `Bad Request` for a callback without a code.",
        ));
    }
    let detail = match alternatives.len() {
        1 => alternatives.remove(0),
        _ => alternatives
            .into_iter()
            .fold(AnyOfBuilder::new(), |any_of, schema| any_of.item(schema))
            .into(),
    };

    let mut examples = Vec::new();
    for &code in codes {
        let value = if is_password_code(code) {
            json!({"detail": {"code": code.as_str(), "reason": "Password should be at least 8 characters"}})
        } else if code == ErrorCode::LoginMfaRequired {
            json!({"detail": {
                "code": code.as_str(),
                "mfa_token": "Q2hhbGxlbmdlIHRva2VuIGV4YW1wbGUgb25seQ",
                "methods": ["totp", "recovery_code"],
            }})
        } else {
            json!({"detail": code.as_str()})
        };
        let example = ExampleBuilder::new()
            .summary(code_summary(code))
            .value(Some(value))
            .build();
        examples.push((code.as_str().to_owned(), example));
    }
    if free_form {
        let example = ExampleBuilder::new()
            .summary("The provider refused the authorization")
            .value(Some(json!({"detail": "access_denied"})))
            .build();
        examples.push(("provider error".to_owned(), example));
    }
    let mut listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    if free_form {
        listed.push("the provider's `error`".into());
    }
    let content = ContentBuilder::new()
        .schema(Some(object(&["detail"], [("detail", detail)])))
        .examples_from_iter(examples)
        .build();
    ResponseBuilder::new()
        .description(format!("Bad request: {}.", listed.join(", ")))
        .content(JSON, content)
        .build()
}

/// The `detail` of 400 `LOGIN_MFA_REQUIRED`: `{"code", "mfa_token",
/// "methods"}`.
fn mfa_challenge_schema() -> RefOr<Schema> {
    object(
        &["code", "mfa_token", "methods"],
        [
            ("code", string_enum(&[ErrorCode::LoginMfaRequired.as_str()])),
            (
                "mfa_token",
                described_string(
                    "Opaque: send it to the backend's `login/mfa` route with a code; good \
                     for 5 minutes, once, and dead after 5 bad codes.",
                ),
            ),
            (
                "methods",
                ArrayBuilder::new()
                    .items(string_enum(&MFA_METHODS))
                    .description(Some(
                        "How the user can finish: `totp` and `recovery_code` (with the \
                         `mfa_token`, at `login/mfa`), and `passkey` when they have one (a \
                         passkey login instead, `passkey/options` then `passkey/login`).",
                    ))
                    .into(),
            ),
        ],
    )
    .description(Some(
        "The password (or the provider) was right, but the user has TOTP on: no token \
         and no cookie yet.",
    ))
    .into()
}

fn code_summary(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::RegisterUserAlreadyExists => "An account has this e-mail address",
        ErrorCode::RegisterInvalidPassword
        | ErrorCode::ResetPasswordInvalidPassword
        | ErrorCode::UpdateUserInvalidPassword
        | ErrorCode::ChangePasswordInvalidPassword => "The password policy refused the password",
        ErrorCode::LoginBadCredentials => "Unknown e-mail, wrong password or inactive user",
        ErrorCode::LoginUserNotVerified => "The user is not verified",
        ErrorCode::ResetPasswordBadToken => "Bad, expired or used reset token",
        ErrorCode::VerifyUserBadToken => "Bad or expired verification token",
        ErrorCode::VerifyUserAlreadyVerified => "The user is already verified",
        ErrorCode::UpdateUserEmailAlreadyExists => "Another account has this e-mail address",
        ErrorCode::AccessTokenDecodeError => "Invalid state",
        ErrorCode::AccessTokenAlreadyExpired => "Expired state",
        ErrorCode::OAuthInvalidState => "The CSRF cookie is missing or does not match the state",
        ErrorCode::OAuthInvalidCode => "The provider refused the authorization code",
        ErrorCode::OAuthNotAvailableEmail => "The provider gave no e-mail address",
        ErrorCode::OAuthUserAlreadyExists => {
            "A user has this e-mail address and the account is not linked"
        }
        ErrorCode::OAuthAccountAlreadyLinked => "Another user has linked this provider account",
        ErrorCode::InvalidCurrentPassword => "The current password is wrong or missing",
        ErrorCode::ChangeEmailBadToken => {
            "Bad, expired or used token, or the address was taken meanwhile"
        }
        ErrorCode::InvalidUsername => "The username rules refused the username",
        ErrorCode::InvitationUserAlreadyExists => "An account has this e-mail address",
        ErrorCode::InvitationAlreadyPending => "The address has a pending invitation",
        ErrorCode::InvitationBadToken => "Bad, expired, revoked or used invitation token",
        ErrorCode::InvitationInvalidPassword => "The password policy refused the password",
        ErrorCode::OAuthRegistrationClosed => {
            "Registration is by invitation only: the provider account has no user"
        }
        ErrorCode::RegisterUsernameAlreadyExists | ErrorCode::UpdateUserUsernameAlreadyExists => {
            "Another account has this username"
        }
        ErrorCode::LoginMfaRequired => {
            "Right credentials; the login needs its second step (`{code, mfa_token, methods}`)"
        }
        ErrorCode::MfaBadCode => "Wrong, malformed or used TOTP or recovery code",
        ErrorCode::MfaTokenInvalid => {
            "Unknown, expired or used mfa_token, or dead after 5 bad codes"
        }
        ErrorCode::MfaAlreadyEnabled => "TOTP is already on",
        ErrorCode::MfaNotPending => "No TOTP enrolment is pending",
        ErrorCode::PasskeyBadCredential => {
            "The passkey does not verify (unknown, bad signature, wrong origin, challenge reused \
             or expired, counter regression)"
        }
    }
}

/// The success status and response of a route; login and logout answer as
/// the mount's backend's transport does.
fn success(mount: &Mount, route: &RouteSpec) -> (u16, Response) {
    let redirects = mount.oauth.as_ref().is_some_and(|o| o.success_redirect);
    if redirects && route.body == Body::CallbackQuery {
        return (
            302,
            ResponseBuilder::new()
                .description(
                    "Done: a redirect to the application's configured URL, with the login \
                     cookie when the backend's transport is a cookie.",
                )
                .header("Location", header("The configured URL."))
                .header(
                    "Set-Cookie",
                    header("The login cookie (cookie transports); the CSRF cookie cleared."),
                )
                .build(),
        );
    }
    let transport = mount.backend.as_ref().map(|b| &b.kind);
    // A refresh-token backend answers a refresh token beside the access token.
    let refreshes = mount.backend.as_ref().is_some_and(|b| b.refreshes);
    let done = if route.body == Body::RefreshToken {
        "Refreshed"
    } else {
        "Logged in"
    };
    let described = |description: &str| Response::new(description);
    match (route.success, transport) {
        (Success::Login, Some(TransportKind::Bearer { .. })) if refreshes => (
            200,
            ResponseBuilder::new()
                .description(format!(
                    "{done}: a short-lived access token, its lifetime, and a new refresh \
                     token (each refresh token is good for one refresh)."
                ))
                .content(JSON, json_content(schema_ref("RefreshBearerResponse")))
                .build(),
        ),
        (Success::Login, Some(TransportKind::Bearer { .. })) => (
            200,
            ResponseBuilder::new()
                .description("Logged in: the access token.")
                .content(JSON, json_content(schema_ref("BearerResponse")))
                .build(),
        ),
        (Success::Login, Some(TransportKind::Cookie { name })) if refreshes => {
            let path = refresh_cookie_path(mount);
            (
                204,
                ResponseBuilder::new()
                    .description(format!(
                        "{done}: two `Set-Cookie` headers, the `{name}` cookie with a \
                         short-lived access token and the refresh cookie with a new \
                         refresh token."
                    ))
                    .header(
                        "Set-Cookie",
                        header(format!(
                            "Two headers: `{name}=<access token>` with the transport's \
                             attributes (`HttpOnly`, `Secure`, `SameSite`, `Path`, \
                             `Max-Age`), and the refresh cookie (`{REFRESH_COOKIE}` unless \
                             the transport names it otherwise) `=<refresh token>`, always \
                             `HttpOnly`, {path}, with the refresh token's `Max-Age`."
                        )),
                    )
                    .build(),
            )
        }
        (Success::Login, Some(TransportKind::Cookie { name })) => (
            204,
            ResponseBuilder::new()
                .description(format!("Logged in: the `{name}` cookie holds the token."))
                .header(
                    "Set-Cookie",
                    header(format!(
                        "`{name}=<token>` with the transport's attributes (`HttpOnly`, \
                         `Secure`, `SameSite`, `Path`, `Max-Age`)."
                    )),
                )
                .build(),
        ),
        (Success::Logout, Some(TransportKind::Cookie { name })) if refreshes => (
            204,
            ResponseBuilder::new()
                .description(format!(
                    "Logged out: the session ends, and the `{name}` cookie and the refresh \
                     cookie are cleared."
                ))
                .header(
                    "Set-Cookie",
                    header(format!(
                        "Two headers, both with `Max-Age=0`: `{name}=\"\"`, and the refresh \
                         cookie's, {}.",
                        refresh_cookie_path(mount)
                    )),
                )
                .build(),
        ),
        (Success::Logout, Some(TransportKind::Cookie { name })) => (
            204,
            ResponseBuilder::new()
                .description(format!("Logged out: the `{name}` cookie is cleared."))
                .header(
                    "Set-Cookie",
                    header(format!("`{name}=\"\"` with `Max-Age=0`.")),
                )
                .build(),
        ),
        (Success::Logout, _) if refreshes => (
            204,
            described("Logged out: the session ends, its refresh token and access tokens with it."),
        ),
        (Success::Logout, _) => (204, described("Logged out.")),
        (Success::Login, None) => (route.status, described("Logged in.")),
        (Success::NoContent, _) => (204, described("Done.")),
        (Success::EmptyObject, _) => (
            route.status,
            ResponseBuilder::new()
                .description("The token is a live access token of this backend: `{}`.")
                .content(JSON, json_content(schema_ref("EmptyObject")))
                .build(),
        ),
        (Success::Invitation, _) => (
            route.status,
            ResponseBuilder::new()
                .description("The invitation.")
                .content(JSON, json_content(schema_ref("Invitation")))
                .build(),
        ),
        (Success::Invitations, _) => (
            route.status,
            ResponseBuilder::new()
                .description("A page of invitations, newest first, and how many there are.")
                .content(JSON, json_content(schema_ref("InvitationPage")))
                .build(),
        ),
        (Success::MfaStatus, _) => (
            route.status,
            ResponseBuilder::new()
                .description("The user's second factors.")
                .content(JSON, json_content(schema_ref("MfaStatus")))
                .build(),
        ),
        (Success::TotpEnrolment, _) => (
            route.status,
            ResponseBuilder::new()
                .description(
                    "The new secret, pending until a first code confirms it (`Cache-Control: \
                     no-store`).",
                )
                .content(JSON, json_content(schema_ref("TotpEnrolment")))
                .build(),
        ),
        (Success::RecoveryCodes, _) => (
            route.status,
            ResponseBuilder::new()
                .description(
                    "10 recovery codes, shown this once; each works once (`Cache-Control: \
                     no-store`).",
                )
                .content(JSON, json_content(schema_ref("RecoveryCodes")))
                .build(),
        ),
        (Success::PasskeyOptions, _) => (
            route.status,
            ResponseBuilder::new()
                .description(
                    "The ceremony's id and the options to pass to `navigator.credentials` \
                     (WebAuthn JSON, for `PublicKeyCredential.parse…OptionsFromJSON`); good \
                     for 5 minutes, once.",
                )
                .content(JSON, json_content(schema_ref("PasskeyOptions")))
                .build(),
        ),
        (Success::Passkey, _) => (
            route.status,
            ResponseBuilder::new()
                .description("The passkey.")
                .content(JSON, json_content(schema_ref("Passkey")))
                .build(),
        ),
        (Success::Passkeys, _) => (
            route.status,
            ResponseBuilder::new()
                .description("The passkeys, oldest first.")
                .content(JSON, json_content(schema_ref("PasskeyList")))
                .build(),
        ),
        (Success::Sessions, _) => (
            route.status,
            ResponseBuilder::new()
                .description("The sessions, newest first.")
                .content(JSON, json_content(schema_ref("SessionList")))
                .build(),
        ),
        (Success::User, _) => (
            route.status,
            ResponseBuilder::new()
                .description("The user.")
                .content(JSON, json_content(schema_ref("User")))
                .build(),
        ),
        (Success::Null, _) => (
            route.status,
            ResponseBuilder::new()
                .description(match route.status {
                    202 => "Accepted (whether or not the address has an account).",
                    _ => "Done.",
                })
                .content(JSON, json_content(null()))
                .build(),
        ),
        (Success::AuthorizationUrl, _) => {
            let cookie = mount
                .oauth
                .as_ref()
                .and_then(|o| o.csrf_cookie.as_deref())
                .map_or_else(
                    || "The CSRF cookie that the callback checks.".to_owned(),
                    |name| format!("`{name}`: the CSRF cookie that the callback checks."),
                );
            (
                route.status,
                ResponseBuilder::new()
                    .description("The provider's authorization URL, to send the browser to.")
                    .header("Set-Cookie", header(cookie))
                    .content(JSON, json_content(schema_ref("AuthorizationURL")))
                    .build(),
            )
        }
    }
}

/// The default name of the cookie transport's refresh cookie.
const REFRESH_COOKIE: &str = "fastapiusersrefresh";

/// Where the refresh cookie is sent, as a phrase: the mount's refresh route
/// for an auth router (the cookie transport derives it from the login route),
/// the transport's setting otherwise.
fn refresh_cookie_path(mount: &Mount) -> String {
    if mount.oauth.is_none() {
        format!(
            "`Path={}/refresh` (the refresh route, unless the transport sets `refresh_path`)",
            mount.prefix
        )
    } else {
        "`Path` the transport's `refresh_path` (else the access cookie's `Path`)".to_owned()
    }
}

/// The description of the 403 `CSRF_ORIGIN_MISMATCH`.
const CROSS_SITE: &str = "A cross-site request, refused (`CSRF_ORIGIN_MISMATCH`): it is \
    authenticated by a cookie, or is a login or refresh of a cookie backend, and its `Origin` \
    names neither the server's own origin nor a trusted one (or it has several `Origin` \
    headers, or none and `Sec-Fetch-Site: cross-site`). Requests with neither header, and \
    requests authenticated by a bearer token, are not refused so.";

/// The JSON body of a cross-site 403, with `Forbidden` as well when the route
/// also needs a flag: the schema, and an example of each `detail`.
fn cross_site_content(with_forbidden: bool) -> Content {
    let details: &[&str] = if with_forbidden {
        &["Forbidden", "CSRF_ORIGIN_MISMATCH"]
    } else {
        &["CSRF_ORIGIN_MISMATCH"]
    };
    let examples = details.iter().map(|detail| {
        let summary = match *detail {
            "Forbidden" => "The user lacks a required flag",
            _ => "A cookie request from another site",
        };
        let example = ExampleBuilder::new()
            .summary(summary)
            .value(Some(json!({ "detail": detail })))
            .build();
        ((*detail).to_owned(), example)
    });
    ContentBuilder::new()
        .schema(Some(object(
            &["detail"],
            [("detail", string_enum(details))],
        )))
        .examples_from_iter(examples)
        .build()
}

/// The responses that operations refer to by name; [`super::document`] keeps
/// those its paths reach.
pub(super) fn shared_responses() -> BTreeMap<String, RefOr<Response>> {
    let with_detail = |description: &str, detail: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(JSON, json_content(detail_schema(detail)))
    };
    let responses = [
        (
            "Unauthorized",
            with_detail(
                "No valid credentials: a missing, invalid, expired or revoked token, or an \
                 inactive user.",
                "Unauthorized",
            )
            .header("WWW-Authenticate", header("`Bearer`"))
            .build(),
        ),
        (
            "Forbidden",
            with_detail(
                "The user lacks a required flag (superuser, or verified where the router \
                 requires it).",
                "Forbidden",
            )
            .build(),
        ),
        (
            "CrossSite",
            ResponseBuilder::new()
                .description(CROSS_SITE)
                .content(JSON, cross_site_content(false))
                .build(),
        ),
        (
            "ForbiddenOrCrossSite",
            ResponseBuilder::new()
                .description(format!(
                    "The user lacks a required flag (superuser, or verified where the router \
                     requires it): `Forbidden`. Or: {}",
                    CROSS_SITE.replace("A cross-site", "a cross-site")
                ))
                .content(JSON, cross_site_content(true))
                .build(),
        ),
        (
            "RefreshTokenInvalid",
            with_detail(
                "The refresh token is unknown, expired, revoked or already rotated (or lost \
                 a concurrent refresh of the same token). A token that was already rotated \
                 ends its whole session.",
                "REFRESH_TOKEN_INVALID",
            )
            .header("WWW-Authenticate", header("`Bearer`"))
            .build(),
        ),
        (
            "NotFound",
            with_detail(
                "No user has this id (a malformed id answers the same).",
                "Not Found",
            )
            .build(),
        ),
        (
            "SessionNotFound",
            with_detail(
                "The current user has no live session of this id (another user's session \
                 answers the same).",
                "Not Found",
            )
            .build(),
        ),
        (
            "PasskeyNotFound",
            with_detail(
                "The current user has no passkey of this id (another user's passkey, or a \
                 malformed id, answers the same).",
                "Not Found",
            )
            .build(),
        ),
        (
            "ValidationError",
            ResponseBuilder::new()
                .description(
                    "The request does not match the route's schema: a body that is not JSON \
                     (or not labelled JSON), not an object, not UTF-8, truncated, or a missing \
                     or mistyped field; for the login form, a body that is not a form.",
                )
                .content(JSON, json_content(schema_ref("HTTPValidationError")))
                .build(),
        ),
        (
            "OAuthProviderError",
            with_detail(
                "The OAuth provider failed (unreachable, an error status, an invalid answer \
                 or ID token).",
                "OAUTH_PROVIDER_ERROR",
            )
            .build(),
        ),
        (
            "ServiceUnavailable",
            with_detail(
                "A dependency (the database, Redis) cannot be reached; retry later.",
                "SERVICE_UNAVAILABLE",
            )
            .build(),
        ),
    ];
    responses
        .into_iter()
        .map(|(name, response)| (name.to_owned(), RefOr::T(response)))
        .collect()
}
