//! One operation of the document, from a route spec and the mount it is under:
//! summary, description, parameters, request body, responses and security.

use http::Method;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
    ParameterStyle,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Content, RefOr, Required};

use super::JSON;
use super::responses::{answers_mfa_challenge, responses};
use super::schemas::{format, from_json, schema_ref, string};
use super::schemes::Schemes;
use crate::auth::TransportKind;
use crate::routers::spec::{Access, BackendDoc, Body, Mount, MountAuth, RouteSpec, Success};
use crate::user::{UserId, UserModel};

/// utoipa's name of a route's method; `None` for a method that OpenAPI's
/// path item has no field for (no route spec uses one, see the tests).
pub(super) fn http_method(method: &Method) -> Option<HttpMethod> {
    Some(match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        Method::TRACE => HttpMethod::Trace,
        _ => return None,
    })
}

/// The operation of `route`, mounted at `path` (the mount's prefix and the
/// route's path); `authenticator` is the authenticator's backends, in order.
pub(super) fn operation<U: UserModel>(
    mount: &Mount,
    route: &RouteSpec,
    path: &str,
    schemes: &Schemes<'_>,
    authenticator: &[BackendDoc],
) -> Operation {
    let summary = match (&mount.oauth, &mount.backend) {
        (Some(oauth), _) => format!("{} ({})", route.summary, oauth.provider),
        (None, Some(backend)) => format!("{} ({})", route.summary, backend.name),
        (None, None) => route.summary.to_owned(),
    };
    let verified = if mount.requires_verification {
        ", verified"
    } else {
        ""
    };
    let mut description = Vec::new();
    match route.access {
        Access::Public => {}
        Access::User => description.push(format!(
            "Needs an active{verified} user, authenticated by {}.",
            schemes.names(mount)
        )),
        Access::Superuser => description.push(format!(
            "Needs an active{verified} superuser, authenticated by {}.",
            schemes.names(mount)
        )),
    }
    if route.access != Access::Public && matches!(mount.auth, MountAuth::OwnBackend) {
        description.push(format!(
            "Only a token of {} is taken here; another backend's token answers 401.",
            schemes.names(mount)
        ));
    }
    if route.body == Body::UserUpdate && route.access == Access::User {
        description.push(
            "`is_active`, `is_superuser` and `is_verified` are ignored here; \
             changing the e-mail address makes the user unverified."
                .to_owned(),
        );
    }
    description.extend(session_descriptions(route));
    if route.body == Body::UserCreate {
        description.push(
            "`is_active`, `is_superuser` and `is_verified` are ignored: a new user is \
             active, not a superuser and not verified."
                .to_owned(),
        );
    }

    let backend_name = mount
        .backend
        .as_ref()
        .map_or_else(|| "this backend".to_owned(), |b| format!("`{}`", b.name));
    let refreshes = mount.backend.as_ref().is_some_and(|b| b.refreshes);
    if route.body == Body::LoginForm && refreshes {
        let with = if cookie_transport(mount) {
            "the refresh cookie"
        } else {
            "`{\"refresh_token\"}`"
        };
        description.push(format!(
            "The access token is short-lived: `POST {}/refresh` with {with} gives new tokens.",
            mount.prefix
        ));
    }
    if route.body == Body::RefreshToken {
        let source = if cookie_transport(mount) {
            "the refresh cookie that the login set, or without it `{\"refresh_token\"}` \
             in the body"
        } else {
            "`{\"refresh_token\"}`"
        };
        description.push(format!(
            "Takes a refresh token of {backend_name} ({source}) and answers new access and \
             refresh tokens, as the login does. The refresh token presented is dead from \
             then on; presented again, it ends its whole session (someone holds a copy), so \
             a client refreshes each token once. Public: the refresh token is the credential."
        ));
    }
    description.extend(mfa_descriptions(mount, route, &backend_name));
    if route.success == Success::EmptyObject {
        description.push(format!(
            "Answers `{{}}` when `token` is a live access token of {backend_name} (its \
             session, if it has one, not ended), 401 otherwise. Public: the token to check \
             is in the body."
        ));
    }

    let parameters = parameters::<U>(mount, route, path);
    let mut op = OperationBuilder::new()
        .tag(mount.tag)
        .summary(Some(summary))
        .operation_id(Some(operation_id(route, path)))
        .description((!description.is_empty()).then(|| description.join("\n\n")))
        .parameters((!parameters.is_empty()).then_some(parameters))
        .request_body(request_body(mount, route))
        .responses(responses(mount, route, authenticator));
    if route.access != Access::Public {
        op = op.securities(Some(schemes.requirement(mount)));
    }
    op.build()
}

/// Whether the mount's backend carries its tokens in cookies.
fn cookie_transport(mount: &Mount) -> bool {
    matches!(
        mount.backend.as_ref().map(|b| &b.kind),
        Some(TransportKind::Cookie { .. })
    )
}

/// What multi-factor login adds to a route: the second step a login may need,
/// and what the second-step routes take.
fn mfa_descriptions(mount: &Mount, route: &RouteSpec, backend_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if answers_mfa_challenge(mount, route) {
        let second_step = match mount.oauth {
            None => format!("`POST {}/login/mfa`", mount.prefix),
            Some(_) => format!("the `login/mfa` route of {backend_name}'s auth router"),
        };
        out.push(format!(
            "For a user with TOTP on, the right credentials answer 400 `LOGIN_MFA_REQUIRED` \
             with an `mfa_token` and no token nor cookie; the login finishes at \
             {second_step} with a TOTP or recovery code."
        ));
    }
    match route.body {
        Body::MfaLogin => out.push(format!(
            "The second step of a login of {backend_name} that answered 400 \
             `LOGIN_MFA_REQUIRED`: its `mfa_token` (good for 5 minutes, once, and dead after \
             5 bad codes) with a TOTP code or an unused recovery code (each works once). \
             Answers as the backend's login does. A bad code counts against the login \
             throttle."
        )),
        Body::PasskeyLogin => out.push(format!(
            "Logs in through {backend_name} with a passkey, no password: the browser's answer \
             to the options of `POST {}/passkey/options`. A passkey satisfies the second \
             factor. Answers as the backend's login does.",
            mount.prefix
        )),
        _ => {}
    }
    out
}

/// What the sessions routes do, beside who may call them.
fn session_descriptions(route: &RouteSpec) -> Vec<String> {
    let mut out = Vec::new();
    if route.success == Success::Sessions {
        out.push(
            "The sessions of the revocable backends (database, Redis, refresh tokens), \
             newest first; JWT-only logins are not sessions."
                .to_owned(),
        );
        out.push(match route.access {
            Access::User => "`current` is true for the session of this request.".to_owned(),
            _ => "`current` is false: the request is not one of these sessions.".to_owned(),
        });
    } else if route.path.contains("{session_id}") {
        out.push(
            "Ends the session (its tokens stop working at once). An unknown id, or another \
             user's session, answers 404."
                .to_owned(),
        );
    } else if route.method == Method::DELETE && route.path.ends_with("/sessions") {
        out.push(match route.access {
            Access::User => "Ends every session of the current user but the one of this \
                             request (every one when the request's token belongs to no \
                             session, as a JWT's)."
                .to_owned(),
            _ => "Ends every session of the user.".to_owned(),
        });
    }
    out
}

/// `post /auth/jwt/login` → `post_auth_jwt_login`: unique, as (method, path) is.
pub(super) fn operation_id(route: &RouteSpec, path: &str) -> String {
    let mut id = route.method.as_str().to_ascii_lowercase();
    let mut last_underscore = false;
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
            last_underscore = false;
        } else if !last_underscore {
            id.push('_');
            last_underscore = true;
        }
    }
    id.trim_end_matches('_').to_owned()
}

fn parameter(
    name: &str,
    location: ParameterIn,
    required: bool,
    description: Option<&str>,
    schema: RefOr<Schema>,
) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(description)
        .schema(Some(schema))
}

fn parameters<U: UserModel>(mount: &Mount, route: &RouteSpec, path: &str) -> Vec<Parameter> {
    let mut out = Vec::new();
    // Every `{name}` of the path, the prefix's included.
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = rest[start + 1..start + len].trim_start_matches('*');
        rest = &rest[start + len + 1..];
        if name == "id" && route.not_found {
            out.push(
                parameter(
                    "id",
                    ParameterIn::Path,
                    true,
                    Some("The user's id. A malformed id answers 404, like an unknown one."),
                    from_json(<U::Id as UserId>::json_schema()),
                )
                .build(),
            );
        } else if name == "passkey_id" {
            out.push(
                parameter(
                    name,
                    ParameterIn::Path,
                    true,
                    Some(
                        "The passkey's `id`, as `GET …/me/passkeys` lists it. A malformed id \
                         answers 404, like an unknown one.",
                    ),
                    string().format(format("uuid")).into(),
                )
                .build(),
            );
        } else if name == "session_id" {
            out.push(
                parameter(
                    name,
                    ParameterIn::Path,
                    true,
                    Some("The session's `id`, as `GET …/me/sessions` lists it."),
                    string().into(),
                )
                .build(),
            );
        } else {
            out.push(parameter(name, ParameterIn::Path, true, None, string().into()).build());
        }
    }
    match route.body {
        Body::AuthorizeQuery => out.push(
            parameter(
                "scopes",
                ParameterIn::Query,
                false,
                Some(
                    "Scopes to request from the provider beside the configured ones \
                     (repeatable; a value may hold several, separated by spaces).",
                ),
                ArrayBuilder::new().items(string()).into(),
            )
            .style(Some(ParameterStyle::Form))
            .explode(Some(true))
            .build(),
        ),
        Body::CallbackQuery => {
            for (name, description) in [
                ("code", "The authorization code."),
                (
                    "state",
                    "The state that the authorize route put in the authorization URL.",
                ),
                (
                    "iss",
                    "The issuer (RFC 9207), checked when the provider sends it.",
                ),
                (
                    "error",
                    "The provider's error code when the authorization failed.",
                ),
                ("error_description", "The provider's error text."),
            ] {
                out.push(
                    parameter(
                        name,
                        ParameterIn::Query,
                        false,
                        Some(description),
                        string().into(),
                    )
                    .build(),
                );
            }
            if let Some(cookie) = mount.oauth.as_ref().and_then(|o| o.csrf_cookie.as_ref()) {
                out.push(
                    parameter(
                        cookie,
                        ParameterIn::Cookie,
                        false,
                        Some(
                            "The CSRF cookie that the authorize route set; without it, or \
                             when it does not match the state: `OAUTH_INVALID_STATE`.",
                        ),
                        string().into(),
                    )
                    .build(),
                );
            }
        }
        _ => {}
    }
    out
}

fn request_body(mount: &Mount, route: &RouteSpec) -> Option<RequestBody> {
    let json_body = |schema: &str| {
        RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content(JSON, Content::new(Some(schema_ref(schema))))
            .build()
    };
    match route.body {
        Body::None | Body::AuthorizeQuery | Body::CallbackQuery => None,
        Body::LoginForm => Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/x-www-form-urlencoded",
                    Content::new(Some(schema_ref("LoginForm"))),
                )
                .content(
                    "multipart/form-data",
                    Content::new(Some(schema_ref("LoginForm"))),
                )
                .build(),
        ),
        Body::UserCreate => Some(json_body("UserCreate")),
        Body::UserUpdate => Some(json_body("UserUpdate")),
        Body::Email => Some(json_body("EmailRequest")),
        Body::ResetPassword => Some(json_body("ResetPasswordRequest")),
        // `POST /verify-token` takes an access token, `POST /verify` the
        // token of the verification mail.
        Body::Token if route.success == Success::EmptyObject => {
            Some(json_body("VerifyTokenRequest"))
        }
        Body::Token => Some(json_body("VerifyRequest")),
        // A cookie transport's refresh route reads its refresh cookie first,
        // and the body only without one.
        Body::RefreshToken if cookie_transport(mount) => Some(
            RequestBodyBuilder::new()
                .required(Some(Required::False))
                .description(Some(
                    "Read only when the request carries no refresh cookie.",
                ))
                .content(JSON, Content::new(Some(schema_ref("RefreshRequest"))))
                .build(),
        ),
        Body::ChangePassword => Some(json_body("ChangePasswordRequest")),
        Body::ChangeEmail => Some(json_body("ChangeEmailRequest")),
        Body::Invite => Some(json_body("InviteRequest")),
        Body::AcceptInvitation => Some(json_body("AcceptInvitationRequest")),
        Body::RefreshToken => Some(json_body("RefreshRequest")),
        Body::CurrentPassword => Some(json_body("CurrentPasswordRequest")),
        Body::MfaCode => Some(json_body("MfaCodeRequest")),
        Body::MfaLogin => Some(json_body("MfaLoginRequest")),
        Body::PasskeyRegistration => Some(json_body("PasskeyRegistrationRequest")),
        Body::PasskeyLogin => Some(json_body("PasskeyLoginRequest")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routers::spec::{USERS_ROUTES, all_routes};

    #[test]
    fn operation_ids_follow_method_and_path() {
        let route = &USERS_ROUTES[2];
        assert_eq!(operation_id(route, "/users/{id}"), "get_users_id");
    }

    /// No route is left out of the document for want of a path item field.
    #[test]
    fn every_spec_method_has_a_path_item_field() {
        for route in all_routes() {
            assert!(
                http_method(&route.method).is_some(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
