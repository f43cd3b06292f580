//! The OpenAPI 3.1 document of a [`Routes`](crate::Routes), generated from its
//! records: each mount's [`RouteSpec`]s, prefix, backend, body limit and
//! verification rule, the authenticator's backends, and the user type's schemas.

use serde_json::{Map, Value, json};

use super::Info;
use crate::auth::TransportKind;
use crate::error::ErrorCode;
use crate::routers::app::{BackendDoc, Mount, MountAuth};
use crate::routers::spec::{Access, Body, RouteSpec, Success};
use crate::user::{UserFields, UserId, UserModel};

/// The OpenAPI version of the documents that [`Routes::openapi`](crate::Routes::openapi)
/// generates.
pub const OPENAPI_VERSION: &str = "3.1.0";

const JSON: &str = "application/json";

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// `{"detail": "<text>"}` with exactly that text.
fn detail_schema(text: &str) -> Value {
    json!({
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"type": "string", "enum": [text]}},
    })
}

/// The document: see [`Routes::openapi`](crate::Routes::openapi).
pub(crate) fn document<U: UserModel>(
    info: &Info,
    mounts: &[Mount],
    authenticator: &[BackendDoc],
) -> Value {
    let mut schemas = Map::new();
    user_schemas::<U>(&mut schemas);
    fixed_schemas(&mut schemas);

    let schemes = Schemes::new(authenticator, mounts);
    let mut paths = Map::new();
    let mut tags: Vec<&'static str> = Vec::new();
    for mount in mounts {
        if !tags.contains(&mount.tag) {
            tags.push(mount.tag);
        }
        for route in mount.routes {
            let path = format!("{}{}", mount.prefix, route.path);
            let operation = operation::<U>(mount, route, &path, &schemes);
            let item = paths
                .entry(path)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(item) = item {
                item.insert(route.method.as_str().to_ascii_lowercase(), operation);
            }
        }
    }

    let (schemas, responses) = referenced(&paths, schemas, shared_responses());

    let mut info_object = json!({"title": info.title, "version": info.version});
    if let Some(description) = &info.description {
        info_object["description"] = json!(description);
    }
    json!({
        "openapi": OPENAPI_VERSION,
        "info": info_object,
        "tags": tags.iter().map(|tag| json!({"name": tag, "description": tag_description(tag)})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": schemes.components(),
        },
    })
}

/// The schemas and responses that the paths use, directly or through one
/// another (a document without the OAuth routers has no `AuthorizationURL`).
fn referenced(
    paths: &Map<String, Value>,
    schemas: Map<String, Value>,
    responses: Value,
) -> (Map<String, Value>, Map<String, Value>) {
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("$ref", Value::String(reference)) => out.push(reference.clone()),
                        _ => collect(child, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            _ => {}
        }
    }
    let Value::Object(mut all_responses) = responses else {
        return (schemas, Map::new());
    };
    let mut all_schemas = schemas;
    let (mut kept_schemas, mut kept_responses) = (Map::new(), Map::new());
    let mut queue = Vec::new();
    for item in paths.values() {
        collect(item, &mut queue);
    }
    while let Some(reference) = queue.pop() {
        let found = if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            all_schemas
                .remove(name)
                .map(|schema| kept_schemas.entry(name.to_owned()).or_insert(schema))
        } else if let Some(name) = reference.strip_prefix("#/components/responses/") {
            all_responses
                .remove(name)
                .map(|response| kept_responses.entry(name.to_owned()).or_insert(response))
        } else {
            None
        };
        if let Some(component) = found {
            collect(component, &mut queue);
        }
    }
    (kept_schemas, kept_responses)
}

fn tag_description(tag: &str) -> &'static str {
    match tag {
        "auth" => "Log in and out, register, reset a password, verify an e-mail address.",
        "users" => "The current user, and user administration for superusers.",
        "oauth" => "Log in with an OAuth provider, or link a provider account to the current user.",
        _ => "Routes of axum-users.",
    }
}

// ---------------------------------------------------------------------------
// Security schemes: one per backend.

/// The backends the document names, each with its security scheme's key.
struct Schemes<'a> {
    /// The authenticator's backends, in order: they authenticate every
    /// protected route but the auth routers' logouts.
    authenticator: &'a [BackendDoc],
    /// Every backend named anywhere, with its key.
    keyed: Vec<(&'a BackendDoc, String)>,
    mounts: &'a [Mount],
}

impl<'a> Schemes<'a> {
    fn new(authenticator: &'a [BackendDoc], mounts: &'a [Mount]) -> Self {
        let mut keyed: Vec<(&BackendDoc, String)> = Vec::new();
        let all = authenticator
            .iter()
            .chain(mounts.iter().filter_map(|m| m.backend.as_ref()));
        for backend in all {
            if keyed.iter().any(|(b, _)| *b == backend) {
                continue;
            }
            // Component keys match `^[a-zA-Z0-9._-]+$`; two backends of one
            // name (with different transports) get distinct keys.
            let base: String = backend
                .name
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
                    _ => '_',
                })
                .collect();
            let base = if base.is_empty() {
                "backend".to_owned()
            } else {
                base
            };
            let mut key = base.clone();
            let mut n = 2;
            while keyed.iter().any(|(_, k)| *k == key) {
                key = format!("{base}_{n}");
                n += 1;
            }
            keyed.push((backend, key));
        }
        Self {
            authenticator,
            keyed,
            mounts,
        }
    }

    fn key(&self, backend: &BackendDoc) -> Option<&str> {
        self.keyed
            .iter()
            .find(|(b, _)| *b == backend)
            .map(|(_, k)| k.as_str())
    }

    /// Where a backend's login form is mounted (`auth/jwt/login`, relative
    /// like FastAPI Users' `tokenUrl`, so it resolves against the server URL).
    fn login_url(&self, backend: &BackendDoc) -> Option<String> {
        self.mounts
            .iter()
            .filter(|m| m.backend.as_ref() == Some(backend))
            .flat_map(|m| m.routes.iter().map(move |r| (m, r)))
            .find(|(_, r)| r.success == Success::Login && r.body == Body::LoginForm)
            .map(|(m, r)| {
                format!("{}{}", m.prefix, r.path)
                    .trim_start_matches('/')
                    .to_owned()
            })
    }

    fn components(&self) -> Value {
        let mut out = Map::new();
        for (backend, key) in &self.keyed {
            let scheme = match &backend.kind {
                TransportKind::Bearer { token_url } => {
                    let url = self.login_url(backend).unwrap_or_else(|| token_url.clone());
                    json!({
                        "type": "oauth2",
                        "description": format!(
                            "Backend `{}`: `Authorization: Bearer <token>`, the `access_token` \
                             that `POST {}` answers.",
                            backend.name, url
                        ),
                        "flows": {"password": {"tokenUrl": url, "scopes": {}}},
                    })
                }
                TransportKind::Cookie { name } => json!({
                    "type": "apiKey",
                    "in": "cookie",
                    "name": name,
                    "description": format!(
                        "Backend `{}`: the `{}` cookie that its login sets.",
                        backend.name, name
                    ),
                }),
            };
            out.insert(key.clone(), scheme);
        }
        Value::Object(out)
    }

    /// The security requirement of a protected route: each accepted backend
    /// as an alternative (never an empty, anonymous one).
    ///
    /// A logout lists its own backend first, then the others: every protected
    /// operation lists every scheme, and its description says that only its
    /// own backend's token logs out (another's answers 401).
    fn requirement(&self, mount: &Mount) -> Vec<Value> {
        let accepted: Vec<&BackendDoc> = match mount.auth {
            MountAuth::AllBackends => self.authenticator.iter().collect(),
            MountAuth::OwnBackend => {
                let own = mount.backend.iter();
                let others = self
                    .authenticator
                    .iter()
                    .filter(|b| mount.backend.as_ref().is_none_or(|own| own.name != b.name));
                own.chain(others).collect()
            }
        };
        accepted
            .into_iter()
            .filter_map(|b| self.key(b))
            .map(|key| json!({ key: [] }))
            .collect()
    }

    fn names(&self, mount: &Mount) -> String {
        let names: Vec<String> = match mount.auth {
            MountAuth::AllBackends => self
                .authenticator
                .iter()
                .map(|b| format!("`{}`", b.name))
                .collect(),
            MountAuth::OwnBackend => mount
                .backend
                .iter()
                .map(|b| format!("`{}`", b.name))
                .collect(),
        };
        names.join(", ")
    }
}

// ---------------------------------------------------------------------------
// Operations.

fn operation<U: UserModel>(
    mount: &Mount,
    route: &RouteSpec,
    path: &str,
    schemes: &Schemes<'_>,
) -> Value {
    let mut op = Map::new();
    op.insert("tags".into(), json!([mount.tag]));
    let summary = match (&mount.oauth, &mount.backend) {
        (Some(oauth), _) => format!("{} ({})", route.summary, oauth.provider),
        (None, Some(backend)) => format!("{} ({})", route.summary, backend.name),
        (None, None) => route.summary.to_owned(),
    };
    op.insert("summary".into(), json!(summary));
    op.insert("operationId".into(), json!(operation_id(route, path)));

    let mut description = Vec::new();
    match route.access {
        Access::Public => {}
        Access::User => description.push(format!(
            "Needs an active{} user, authenticated by {}.",
            if mount.requires_verification {
                ", verified"
            } else {
                ""
            },
            schemes.names(mount)
        )),
        Access::Superuser => description.push(format!(
            "Needs an active{} superuser, authenticated by {}.",
            if mount.requires_verification {
                ", verified"
            } else {
                ""
            },
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
    if route.body == Body::UserCreate {
        description.push(
            "`is_active`, `is_superuser` and `is_verified` are ignored: a new user is \
             active, not a superuser and not verified."
                .to_owned(),
        );
    }
    if !description.is_empty() {
        op.insert("description".into(), json!(description.join("\n\n")));
    }

    let parameters = parameters::<U>(mount, route, path);
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(body) = request_body(route) {
        op.insert("requestBody".into(), body);
    }
    op.insert("responses".into(), responses(mount, route));
    if route.access != Access::Public {
        op.insert("security".into(), Value::Array(schemes.requirement(mount)));
    }
    Value::Object(op)
}

/// `post /auth/jwt/login` → `post_auth_jwt_login`: unique, as (method, path) is.
fn operation_id(route: &RouteSpec, path: &str) -> String {
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

fn parameters<U: UserModel>(mount: &Mount, route: &RouteSpec, path: &str) -> Vec<Value> {
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
            out.push(json!({
                "name": "id",
                "in": "path",
                "required": true,
                "description": "The user's id. A malformed id answers 404, like an unknown one.",
                "schema": <U::Id as UserId>::json_schema(),
            }));
        } else {
            out.push(json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": {"type": "string"},
            }));
        }
    }
    match route.body {
        Body::AuthorizeQuery => out.push(json!({
            "name": "scopes",
            "in": "query",
            "required": false,
            "description": "Scopes to request from the provider beside the configured ones \
                            (repeatable; a value may hold several, separated by spaces).",
            "style": "form",
            "explode": true,
            "schema": {"type": "array", "items": {"type": "string"}},
        })),
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
                out.push(json!({
                    "name": name,
                    "in": "query",
                    "required": false,
                    "description": description,
                    "schema": {"type": "string"},
                }));
            }
            if let Some(cookie) = mount.oauth.as_ref().and_then(|o| o.csrf_cookie.as_ref()) {
                out.push(json!({
                    "name": cookie,
                    "in": "cookie",
                    "required": false,
                    "description": "The CSRF cookie that the authorize route set; without it, or \
                                    when it does not match the state: `OAUTH_INVALID_STATE`.",
                    "schema": {"type": "string"},
                }));
            }
        }
        _ => {}
    }
    out
}

fn request_body(route: &RouteSpec) -> Option<Value> {
    let json_body = |schema: &str| {
        json!({
            "required": true,
            "content": {JSON: {"schema": schema_ref(schema)}},
        })
    };
    match route.body {
        Body::None | Body::AuthorizeQuery | Body::CallbackQuery => None,
        Body::LoginForm => Some(json!({
            "required": true,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema_ref("LoginForm")},
                "multipart/form-data": {"schema": schema_ref("LoginForm")},
            },
        })),
        Body::UserCreate => Some(json_body("UserCreate")),
        Body::UserUpdate => Some(json_body("UserUpdate")),
        Body::Email => Some(json_body("EmailRequest")),
        Body::ResetPassword => Some(json_body("ResetPasswordRequest")),
        Body::Token => Some(json_body("VerifyRequest")),
    }
}

/// Codes sent as `{"code", "reason"}` rather than a plain string.
fn is_password_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::RegisterInvalidPassword
            | ErrorCode::ResetPasswordInvalidPassword
            | ErrorCode::UpdateUserInvalidPassword
    )
}

fn responses(mount: &Mount, route: &RouteSpec) -> Value {
    let mut out = Map::new();
    let (status, success) = success(mount, route);
    out.insert(status.to_string(), success);

    let codes: Vec<ErrorCode> = route
        .errors
        .iter()
        .copied()
        .filter(|&c| c != ErrorCode::LoginUserNotVerified || mount.requires_verification)
        .collect();
    let free_form = route.body == Body::CallbackQuery;
    if !codes.is_empty() || free_form {
        out.insert("400".into(), bad_request(&codes, free_form));
    }
    if route.access != Access::Public {
        out.insert("401".into(), response_ref("Unauthorized"));
    }
    if route.access == Access::Superuser
        || (route.access == Access::User && mount.requires_verification)
    {
        out.insert("403".into(), response_ref("Forbidden"));
    }
    if route.not_found {
        out.insert("404".into(), response_ref("NotFound"));
    }
    if route.body.has_body() {
        out.insert(
            "413".into(),
            json!({
                "description": format!(
                    "The request body is larger than the limit ({} bytes).",
                    mount.body_limit
                ),
                "content": {JSON: {"schema": detail_schema("Payload Too Large")}},
            }),
        );
        out.insert("422".into(), response_ref("ValidationError"));
    }
    // The OAuth routes call the provider: the callback exchanges the code, the
    // authorize route may fetch an OpenID Connect discovery document.
    if matches!(route.body, Body::AuthorizeQuery | Body::CallbackQuery) {
        out.insert("502".into(), response_ref("OAuthProviderError"));
    }
    // Everything but a public authorize route reads the store or a session
    // backend (database, Redis), which can be unreachable.
    if !(route.access == Access::Public && route.body == Body::AuthorizeQuery) {
        out.insert("503".into(), response_ref("ServiceUnavailable"));
    }
    Value::Object(out)
}

fn bad_request(codes: &[ErrorCode], free_form: bool) -> Value {
    let plain: Vec<&str> = codes
        .iter()
        .filter(|c| !is_password_code(**c))
        .map(|c| c.as_str())
        .collect();
    let password: Vec<&str> = codes
        .iter()
        .filter(|c| is_password_code(**c))
        .map(|c| c.as_str())
        .collect();
    let mut alternatives = Vec::new();
    if !plain.is_empty() {
        alternatives.push(json!({"type": "string", "enum": plain}));
    }
    if !password.is_empty() {
        alternatives.push(json!({
            "type": "object",
            "required": ["code", "reason"],
            "properties": {
                "code": {"type": "string", "enum": password},
                "reason": {"type": "string", "description": "Why the password was refused."},
            },
        }));
    }
    if free_form {
        alternatives.push(json!({
            "type": "string",
            "description": "The `error` the OAuth provider sent back (`access_denied`, …), \
                            or `Bad Request` for a callback without a code.",
        }));
    }
    let detail = match alternatives.len() {
        1 => alternatives.remove(0),
        _ => json!({ "anyOf": alternatives }),
    };

    let mut examples = Map::new();
    for &code in codes {
        let value = if is_password_code(code) {
            json!({"detail": {"code": code.as_str(), "reason": "Password should be at least 8 characters"}})
        } else {
            json!({"detail": code.as_str()})
        };
        examples.insert(
            code.as_str().to_owned(),
            json!({"summary": code_summary(code), "value": value}),
        );
    }
    if free_form {
        examples.insert(
            "provider error".into(),
            json!({"summary": "The provider refused the authorization", "value": {"detail": "access_denied"}}),
        );
    }
    let mut listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    if free_form {
        listed.push("the provider's `error`".into());
    }
    json!({
        "description": format!("Bad request: {}.", listed.join(", ")),
        "content": {JSON: {
            "schema": {
                "type": "object",
                "required": ["detail"],
                "properties": {"detail": detail},
            },
            "examples": examples,
        }},
    })
}

fn code_summary(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::RegisterUserAlreadyExists => "An account has this e-mail address",
        ErrorCode::RegisterInvalidPassword
        | ErrorCode::ResetPasswordInvalidPassword
        | ErrorCode::UpdateUserInvalidPassword => "The password policy refused the password",
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
    }
}

/// The success status and response of a route; login and logout answer as
/// the mount's backend's transport does.
fn success(mount: &Mount, route: &RouteSpec) -> (u16, Value) {
    let redirects = mount.oauth.as_ref().is_some_and(|o| o.success_redirect);
    if redirects && route.body == Body::CallbackQuery {
        return (
            302,
            json!({
                "description": "Done: a redirect to the application's configured URL, with the \
                                login cookie when the backend's transport is a cookie.",
                "headers": {
                    "Location": {"description": "The configured URL.", "schema": {"type": "string"}},
                    "Set-Cookie": {"description": "The login cookie (cookie transports); the CSRF cookie cleared.", "schema": {"type": "string"}},
                },
            }),
        );
    }
    let transport = mount.backend.as_ref().map(|b| (&b.name, &b.kind));
    match (route.success, transport) {
        (Success::Login, Some((_, TransportKind::Bearer { .. }))) => (
            200,
            json!({
                "description": "Logged in: the access token.",
                "content": {JSON: {"schema": schema_ref("BearerResponse")}},
            }),
        ),
        (Success::Login, Some((_, TransportKind::Cookie { name }))) => (
            204,
            json!({
                "description": format!("Logged in: the `{name}` cookie holds the token."),
                "headers": {"Set-Cookie": {
                    "description": format!("`{name}=<token>` with the transport's attributes (`HttpOnly`, `Secure`, `SameSite`, `Path`, `Max-Age`)."),
                    "schema": {"type": "string"},
                }},
            }),
        ),
        (Success::Logout, Some((_, TransportKind::Cookie { name }))) => (
            204,
            json!({
                "description": format!("Logged out: the `{name}` cookie is cleared."),
                "headers": {"Set-Cookie": {
                    "description": format!("`{name}=\"\"` with `Max-Age=0`."),
                    "schema": {"type": "string"},
                }},
            }),
        ),
        (Success::Logout, _) => (204, json!({"description": "Logged out."})),
        (Success::Login, None) => (route.status, json!({"description": "Logged in."})),
        (Success::NoContent, _) => (204, json!({"description": "Done."})),
        (Success::User, _) => (
            route.status,
            json!({
                "description": "The user.",
                "content": {JSON: {"schema": schema_ref("User")}},
            }),
        ),
        (Success::Null, _) => (
            route.status,
            json!({
                "description": match route.status {
                    202 => "Accepted (whether or not the address has an account).",
                    _ => "Done.",
                },
                "content": {JSON: {"schema": {"type": "null"}}},
            }),
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
                json!({
                    "description": "The provider's authorization URL, to send the browser to.",
                    "headers": {"Set-Cookie": {"description": cookie, "schema": {"type": "string"}}},
                    "content": {JSON: {"schema": schema_ref("AuthorizationURL")}},
                }),
            )
        }
    }
}

fn shared_responses() -> Value {
    json!({
        "Unauthorized": {
            "description": "No valid credentials: a missing, invalid, expired or revoked token, or an inactive user.",
            "headers": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
            "content": {JSON: {"schema": detail_schema("Unauthorized")}},
        },
        "Forbidden": {
            "description": "The user lacks a required flag (superuser, or verified where the router requires it).",
            "content": {JSON: {"schema": detail_schema("Forbidden")}},
        },
        "NotFound": {
            "description": "No user has this id (a malformed id answers the same).",
            "content": {JSON: {"schema": detail_schema("Not Found")}},
        },
        "ValidationError": {
            "description": "The request does not match the route's schema: a body that is not \
                            JSON (or not labelled JSON), not an object, not UTF-8, truncated, or \
                            a missing or mistyped field; for the login form, a body that is not a form.",
            "content": {JSON: {"schema": schema_ref("HTTPValidationError")}},
        },
        "OAuthProviderError": {
            "description": "The OAuth provider failed (unreachable, an error status, an invalid answer or ID token).",
            "content": {JSON: {"schema": detail_schema("OAUTH_PROVIDER_ERROR")}},
        },
        "ServiceUnavailable": {
            "description": "A dependency (the database, Redis) cannot be reached; retry later.",
            "content": {JSON: {"schema": detail_schema("SERVICE_UNAVAILABLE")}},
        },
    })
}

// ---------------------------------------------------------------------------
// Schemas.

fn fixed_schemas(schemas: &mut Map<String, Value>) {
    let fixed = json!({
        "BearerResponse": {
            "type": "object",
            "required": ["access_token", "token_type"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["bearer"]},
            },
            "additionalProperties": false,
        },
        "LoginForm": {
            "type": "object",
            "description": "OAuth2 password-grant form, as FastAPI's `OAuth2PasswordRequestForm`. \
                            An empty value counts as absent.",
            "required": ["username", "password"],
            "properties": {
                "username": {"type": "string", "minLength": 1, "description": "The e-mail address."},
                "password": {"type": "string", "format": "password", "minLength": 1},
                "grant_type": {"type": "string", "pattern": "^(password)?$", "description": "`password` when given."},
                "scope": {"type": "string", "description": "Accepted and ignored."},
                "client_id": {"type": "string", "description": "Accepted and ignored."},
                "client_secret": {"type": "string", "format": "password", "description": "Accepted and ignored."},
            },
        },
        "EmailRequest": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": email_schema()},
        },
        "ResetPasswordRequest": {
            "type": "object",
            "required": ["token", "password"],
            "properties": {
                "token": {"type": "string", "description": "The token of the reset mail."},
                "password": {"type": "string", "format": "password", "description": "The new password."},
            },
        },
        "VerifyRequest": {
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": {"type": "string", "description": "The token of the verification mail."},
            },
        },
        "AuthorizationURL": {
            "type": "object",
            "required": ["authorization_url"],
            "properties": {"authorization_url": {"type": "string", "format": "uri"}},
        },
        "HTTPValidationError": {
            "type": "object",
            "required": ["detail"],
            "properties": {"detail": {"type": "array", "items": schema_ref("ValidationError")}},
        },
        "ValidationError": {
            "type": "object",
            "required": ["type", "loc", "msg"],
            "properties": {
                "type": {"type": "string"},
                "loc": {"type": "array", "items": {"type": "string"}, "description": "Where: `[\"body\"]`, `[\"body\", \"email\"]`, …"},
                "msg": {"type": "string"},
            },
        },
    });
    if let Value::Object(fixed) = fixed {
        for (name, schema) in fixed {
            schemas.entry(name).or_insert(schema);
        }
    }
}

fn email_schema() -> Value {
    json!({
        "type": "string",
        "format": "email",
        "description": "An e-mail address; internationalised addresses are accepted.",
    })
}

fn user_schemas<U: UserModel>(schemas: &mut Map<String, Value>) {
    let boolean = |description: &str| json!({"type": "boolean", "description": description});
    let read = json!({
        "type": "object",
        "required": ["id", "email", "is_active", "is_superuser", "is_verified"],
        "properties": {
            "id": <U::Id as UserId>::json_schema(),
            "email": email_schema(),
            "is_active": boolean("Inactive users cannot log in nor use their tokens."),
            "is_superuser": boolean("Superusers administer the other users."),
            "is_verified": boolean("Whether the user proved they own the address."),
        },
    });
    let create = json!({
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": email_schema(),
            "password": {"type": "string", "format": "password"},
            "is_active": boolean("Ignored by the register route."),
            "is_superuser": boolean("Ignored by the register route."),
            "is_verified": boolean("Ignored by the register route."),
        },
    });
    let update = json!({
        "type": "object",
        "description": "Absent keys change nothing; `null` is refused (422).",
        "properties": {
            "email": email_schema(),
            "password": {"type": "string", "format": "password"},
            "is_active": boolean("Applied by the superusers' route only."),
            "is_superuser": boolean("Applied by the superusers' route only."),
            "is_verified": boolean("Applied by the superusers' route only."),
        },
    });
    let fields = [
        ("User", read, <U::Fields as UserFields>::read_schema()),
        (
            "UserCreate",
            create,
            <U::Fields as UserFields>::create_schema(),
        ),
        (
            "UserUpdate",
            update,
            <U::Fields as UserFields>::update_schema(),
        ),
    ];
    // The fixed names come first, so that hoisted `$defs` avoid them.
    for (name, _, _) in &fields {
        schemas.insert((*name).to_owned(), Value::Null);
    }
    for (name, core, app) in fields {
        let merged = merge_fields(core, app, schemas);
        schemas.insert(name.to_owned(), merged);
    }
}

/// Merges the application's fields schema into a core object schema: its
/// `properties` and `required` join the core ones when it is a plain object
/// schema; otherwise the two are combined with `allOf`. `$defs` are hoisted
/// into the components (renamed when a name is taken) and `$ref`s rewritten.
fn merge_fields(mut core: Value, app: Value, schemas: &mut Map<String, Value>) -> Value {
    let Value::Object(mut app) = app else {
        return json!({ "allOf": [core, app] });
    };
    app.remove("$schema");
    app.remove("$id");
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    for key in ["$defs", "definitions"] {
        let Some(Value::Object(defs)) = app.remove(key) else {
            continue;
        };
        for (name, schema) in defs {
            let target = match schemas.get(&name) {
                None => name.clone(),
                Some(existing) if *existing == schema => name.clone(),
                Some(_) => {
                    let mut n = 2;
                    while schemas.contains_key(&format!("{name}{n}")) {
                        n += 1;
                    }
                    format!("{name}{n}")
                }
            };
            // Reserve the name now, so that two defs do not take the same one.
            schemas.entry(target.clone()).or_insert(Value::Null);
            renames.push((format!("#/{key}/{name}"), target.clone()));
            hoisted.push((target, schema));
        }
    }
    for (target, mut schema) in hoisted {
        rewrite_refs(&mut schema, &renames);
        schemas.insert(target, schema);
    }
    rewrite_map_refs(&mut app, &renames);

    const PLAIN: [&str; 6] = [
        "type",
        "properties",
        "required",
        "additionalProperties",
        "title",
        "description",
    ];
    let plain = app.keys().all(|k| PLAIN.contains(&k.as_str()))
        && app.get("type").is_none_or(|t| t == "object")
        && app.get("properties").is_none_or(Value::is_object)
        && app.get("required").is_none_or(Value::is_array);
    if !plain {
        return json!({ "allOf": [core, app] });
    }
    if let Some(Value::Object(properties)) = app.remove("properties")
        && let Some(Value::Object(core_properties)) = core.get_mut("properties")
    {
        for (name, schema) in properties {
            // A key of the core object keeps its core schema.
            core_properties.entry(name).or_insert(schema);
        }
    }
    if let Some(Value::Array(required)) = app.remove("required") {
        let core_required = core
            .as_object_mut()
            .map(|c| c.entry("required").or_insert_with(|| json!([])));
        if let Some(Value::Array(core_required)) = core_required {
            for name in required {
                if !core_required.contains(&name) {
                    core_required.push(name);
                }
            }
        }
    }
    if let Some(additional) = app.remove("additionalProperties") {
        core["additionalProperties"] = additional;
    }
    core
}

/// Rewrites every `$ref` that names a hoisted definition.
fn rewrite_refs(value: &mut Value, renames: &[(String, String)]) {
    match value {
        Value::Object(map) => rewrite_map_refs(map, renames),
        Value::Array(items) => {
            for item in items {
                rewrite_refs(item, renames);
            }
        }
        _ => {}
    }
}

fn rewrite_map_refs(map: &mut Map<String, Value>, renames: &[(String, String)]) {
    for (key, child) in map.iter_mut() {
        if key == "$ref"
            && let Value::String(reference) = child
            && let Some((_, target)) = renames.iter().find(|(from, _)| from == reference)
        {
            *reference = format!("#/components/schemas/{target}");
            continue;
        }
        rewrite_refs(child, renames);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routers::app::OAuthDoc;
    use crate::routers::spec::{OAUTH_ASSOCIATE_ROUTES, OAUTH_ROUTES};

    fn backend(name: &str, kind: TransportKind) -> BackendDoc {
        BackendDoc {
            name: name.to_owned(),
            kind,
        }
    }

    fn oauth_mount(
        prefix: &str,
        routes: &'static [RouteSpec],
        login: Option<&BackendDoc>,
    ) -> Mount {
        Mount {
            prefix: prefix.to_owned(),
            routes,
            tag: "oauth",
            backend: login.cloned(),
            auth: MountAuth::AllBackends,
            requires_verification: false,
            body_limit: 1024,
            oauth: Some(OAuthDoc {
                provider: "google".to_owned(),
                csrf_cookie: Some("fastapiusersoauthcsrf".to_owned()),
                success_redirect: false,
            }),
        }
    }

    /// The OAuth routers' operations, as the records of their `Routes`
    /// methods describe them.
    #[test]
    fn oauth_routes_are_documented() {
        let bearer = backend(
            "jwt",
            TransportKind::Bearer {
                token_url: "auth/jwt/login".to_owned(),
            },
        );
        let cookie = backend(
            "cookie",
            TransportKind::Cookie {
                name: "fastapiusersauth".to_owned(),
            },
        );
        let mut redirecting = oauth_mount("/auth/google-redirect", OAUTH_ROUTES, Some(&cookie));
        if let Some(oauth) = redirecting.oauth.as_mut() {
            oauth.success_redirect = true;
        }
        let mounts = [
            oauth_mount("/auth/google", OAUTH_ROUTES, Some(&bearer)),
            oauth_mount("/auth/google-cookie", OAUTH_ROUTES, Some(&cookie)),
            redirecting,
            oauth_mount("/auth/associate/google", OAUTH_ASSOCIATE_ROUTES, None),
        ];
        let authenticator = [bearer.clone(), cookie.clone()];
        let doc = document::<crate::User>(&Info::new("oauth", "1"), &mounts, &authenticator);
        let paths = &doc["paths"];

        let authorize = &paths["/auth/google/authorize"]["get"];
        assert!(authorize.get("security").is_none());
        assert_eq!(authorize["parameters"][0]["name"], "scopes");
        assert_eq!(
            authorize["responses"]["200"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/AuthorizationURL"
        );
        let statuses: Vec<&String> = authorize["responses"].as_object().unwrap().keys().collect();
        assert_eq!(
            statuses,
            ["200", "502"],
            "a public authorize reads no store"
        );

        let callback = &paths["/auth/google/callback"]["get"];
        let names: Vec<&str> = callback["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "code",
                "state",
                "iss",
                "error",
                "error_description",
                "fastapiusersoauthcsrf"
            ]
        );
        let responses = &callback["responses"];
        assert_eq!(
            responses["200"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/BearerResponse"
        );
        assert_eq!(
            responses["502"]["$ref"],
            "#/components/responses/OAuthProviderError"
        );
        assert!(responses.get("503").is_some());
        assert!(responses.get("422").is_none() && responses.get("413").is_none());
        let detail = &responses["400"]["content"][JSON]["schema"]["properties"]["detail"];
        let codes = &detail["anyOf"][0]["enum"];
        assert!(
            codes
                .as_array()
                .unwrap()
                .contains(&json!("OAUTH_INVALID_STATE"))
        );
        assert!(
            !codes
                .as_array()
                .unwrap()
                .contains(&json!("LOGIN_USER_NOT_VERIFIED"))
        );
        assert_eq!(detail["anyOf"][1]["type"], "string", "the provider's error");

        let cookie_callback = &paths["/auth/google-cookie/callback"]["get"]["responses"];
        assert!(cookie_callback.get("200").is_none());
        assert!(
            cookie_callback["204"]["headers"]
                .get("Set-Cookie")
                .is_some()
        );

        let redirect = &paths["/auth/google-redirect/callback"]["get"]["responses"];
        assert!(redirect.get("204").is_none() && redirect.get("200").is_none());
        assert!(redirect["302"]["headers"].get("Location").is_some());

        let associate = &paths["/auth/associate/google/authorize"]["get"];
        assert_eq!(associate["security"], json!([{"jwt": []}, {"cookie": []}]));
        assert!(associate["responses"].get("401").is_some());
        assert!(associate["responses"].get("503").is_some());
        let associate_callback = &paths["/auth/associate/google/callback"]["get"];
        assert_eq!(
            associate_callback["responses"]["200"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/User"
        );
        assert_eq!(
            associate_callback["security"],
            json!([{"jwt": []}, {"cookie": []}])
        );
        assert_eq!(
            doc["tags"],
            json!([{"name": "oauth", "description": tag_description("oauth")}])
        );
        validate_if_configured("oauth", &doc);
    }

    /// Runs openapi-spec-validator on `doc` when `AXUM_USERS_OPENAPI_VALIDATOR`
    /// names a python that has it (see `scripts/validate-openapi.sh`); without
    /// it, says that it skipped, or fails when `AXUM_USERS_REQUIRE_SERVICES=1`
    /// (as in CI: a validation that did not run must not pass).
    fn validate_if_configured(name: &str, doc: &Value) {
        let python = match std::env::var("AXUM_USERS_OPENAPI_VALIDATOR") {
            Ok(python) if !python.trim().is_empty() => python,
            _ => {
                let required = matches!(
                    std::env::var("AXUM_USERS_REQUIRE_SERVICES")
                        .as_deref()
                        .map(str::trim),
                    Ok("1" | "true" | "yes")
                );
                assert!(
                    !required,
                    "AXUM_USERS_OPENAPI_VALIDATOR is not set (a python with \
                     openapi-spec-validator; scripts/validate-openapi.sh sets it up); \
                     AXUM_USERS_REQUIRE_SERVICES is set, so the test fails instead of skipping"
                );
                println!("SKIPPED: validator: AXUM_USERS_OPENAPI_VALIDATOR is not set");
                return;
            }
        };
        let path = std::env::temp_dir().join(format!(
            "axum-users-openapi-{name}-{}.json",
            std::process::id()
        ));
        std::fs::write(&path, doc.to_string()).unwrap();
        let output = std::process::Command::new(python)
            .args([
                "-m",
                "openapi_spec_validator",
                "--schema",
                "3.1",
                "--validation-errors",
                "all",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        println!("openapi-spec-validator ({name}): {}", text.trim());
        assert!(output.status.success(), "{text}");
    }

    #[test]
    fn operation_ids_follow_method_and_path() {
        let route = &crate::routers::spec::USERS_ROUTES[2];
        assert_eq!(operation_id(route, "/users/{id}"), "get_users_id");
    }

    #[test]
    fn app_fields_merge_into_the_core_object() {
        let mut schemas = Map::new();
        let core =
            json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}});
        let app = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Profile",
            "type": "object",
            "required": ["display_name"],
            "properties": {
                "display_name": {"type": "string"},
                "address": {"$ref": "#/$defs/Address"},
                "id": {"type": "integer"},
            },
            "$defs": {"Address": {"type": "object"}},
        });
        let merged = merge_fields(core, app, &mut schemas);
        assert_eq!(merged["required"], json!(["id", "display_name"]));
        assert_eq!(merged["properties"]["id"], json!({"type": "string"}));
        assert_eq!(
            merged["properties"]["address"]["$ref"],
            "#/components/schemas/Address"
        );
        assert_eq!(schemas["Address"], json!({"type": "object"}));
    }

    #[test]
    fn other_fields_schemas_combine_with_all_of() {
        let mut schemas = Map::new();
        schemas.insert("User".into(), Value::Null);
        let core = json!({"type": "object", "properties": {}});
        let app =
            json!({"oneOf": [{"$ref": "#/$defs/User"}], "$defs": {"User": {"type": "object"}}});
        let merged = merge_fields(core.clone(), app, &mut schemas);
        assert_eq!(merged["allOf"][0], core);
        assert_eq!(
            merged["allOf"][1]["oneOf"][0]["$ref"],
            "#/components/schemas/User2"
        );
    }
}
