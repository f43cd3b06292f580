//! The OpenAPI document of `Routes` against the router it describes, and the
//! self-contained Swagger UI page (feature `openapi`).
//!
//! With `AXUM_USERS_OPENAPI_VALIDATOR` set to a Python that has
//! `openapi-spec-validator` (`scripts/validate-openapi.sh` makes one), the
//! documents are also checked by that validator; without it, that test says
//! it skipped, or fails with `AXUM_USERS_REQUIRE_SERVICES=1` (as in CI).

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_users::auth::{
    AuthBackend, BearerTransport, CookieTransport, JwtStrategy, RefreshStrategy,
};
use axum_users::mfa::Mfa;
use axum_users::openapi::{self, Info};
use axum_users::routers::spec::{
    ACCOUNT_ROUTES, AUTH_ROUTES, EMAIL_CHANGE_ROUTES, MFA_LOGIN_ROUTES, MFA_ROUTES,
    PASSKEY_LOGIN_ROUTES, PASSKEY_ROUTES, REFRESH_ROUTES, REGISTER_ROUTES, RESET_ROUTES, RouteSpec,
    SESSIONS_ROUTES, USERS_ROUTES, VERIFY_ROUTES,
};
use axum_users::store::MemoryStore;
use axum_users::{AxumUsers, ErrorCode, NoHooks, Routes, UpdatedBy, User, UserFields, UserManager};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common;
use crate::common::{
    PASSWORD, SECRET, body_json, fast_hasher, json_request, login_request, raw_request,
};

// ---------------------------------------------------------------------------
// The app: integer ids, an application field, a bearer and two cookie
// backends, and a bearer backend with refresh tokens.

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Profile {
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ProfileUpdate {
    display_name: Option<String>,
}

impl UserFields for Profile {
    type Create = Profile;
    type Update = ProfileUpdate;
    fn create(input: Profile) -> Self {
        input
    }
    fn update(&mut self, update: ProfileUpdate, _by: UpdatedBy) {
        if let Some(name) = update.display_name {
            self.display_name = Some(name);
        }
    }
    fn read_schema() -> Value {
        json!({
            "type": "object",
            "required": ["display_name"],
            "properties": {"display_name": {"type": ["string", "null"]}},
            "additionalProperties": false,
        })
    }
    fn create_schema() -> Value {
        json!({"type": "object", "properties": {"display_name": {"type": ["string", "null"]}}})
    }
    fn update_schema() -> Value {
        json!({"type": "object", "properties": {"display_name": {"type": "string"}}})
    }
}

type AppUser = User<Profile, i64>;
type AppStore = MemoryStore<AppUser>;

struct App {
    router: Router,
    /// The document, as utoipa's model.
    openapi: utoipa::openapi::OpenApi,
    /// The document as JSON.
    doc: Value,
}

/// Where each router is mounted, with the specs it is built from.
const MOUNTS: [(&str, &[RouteSpec]); 12] = [
    ("/auth/jwt", AUTH_ROUTES),
    ("/auth/cookie", AUTH_ROUTES),
    ("/auth/session", AUTH_ROUTES),
    ("/auth/token", AUTH_ROUTES),
    ("/auth/token", REFRESH_ROUTES),
    ("/auth", REGISTER_ROUTES),
    ("/auth", RESET_ROUTES),
    ("/auth", VERIFY_ROUTES),
    ("/auth", EMAIL_CHANGE_ROUTES),
    ("/users", USERS_ROUTES),
    ("/users", SESSIONS_ROUTES),
    ("/users", ACCOUNT_ROUTES),
];

/// The second factors of a test app: none (the routes of the contracts
/// before section F), TOTP with recovery codes, or TOTP and passkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factors {
    Off,
    Totp,
    #[cfg(feature = "passkeys")]
    Passkeys,
}

impl Factors {
    /// Whether the passkey routes are mounted.
    fn passkeys(self) -> bool {
        match self {
            #[cfg(feature = "passkeys")]
            Factors::Passkeys => true,
            _ => false,
        }
    }
}

/// The multi-factor setups the tests document, as the example server has
/// them (TOTP and, with the feature, passkeys) and TOTP alone.
fn mfa_factors() -> Vec<Factors> {
    vec![
        Factors::Totp,
        #[cfg(feature = "passkeys")]
        Factors::Passkeys,
    ]
}

/// The relying party of the passkeys, and the origin of its pages.
#[cfg(feature = "passkeys")]
const RP_ID: &str = "localhost";
#[cfg(feature = "passkeys")]
const ORIGIN: &str = "http://localhost:8000";

/// The multi-factor routers, where each is mounted.
const MFA_MOUNTS: [(&str, &[RouteSpec]); 10] = [
    ("/auth/jwt", MFA_LOGIN_ROUTES),
    ("/auth/cookie", MFA_LOGIN_ROUTES),
    ("/auth/session", MFA_LOGIN_ROUTES),
    ("/auth/token", MFA_LOGIN_ROUTES),
    ("/auth/jwt", PASSKEY_LOGIN_ROUTES),
    ("/auth/cookie", PASSKEY_LOGIN_ROUTES),
    ("/auth/session", PASSKEY_LOGIN_ROUTES),
    ("/auth/token", PASSKEY_LOGIN_ROUTES),
    ("/users", MFA_ROUTES),
    ("/users", PASSKEY_ROUTES),
];

fn app_with(requires_verification: bool, body_limit: Option<usize>) -> App {
    build_app(requires_verification, body_limit, Factors::Off)
}

/// The test app with multi-factor login (and a login throttle of 5 attempts
/// per address and minute), mounted as the example server mounts it.
fn mfa_app(factors: Factors) -> App {
    build_app(false, None, factors)
}

fn build_app(requires_verification: bool, body_limit: Option<usize>, factors: Factors) -> App {
    use axum_users::throttle::{Limit, LoginThrottle, MemoryThrottle};
    let jwt = JwtStrategy::hs256(SECRET).unwrap();
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
    let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt.clone());
    let session = AuthBackend::new(
        "session",
        CookieTransport::new().name("fastapiuserssession"),
        jwt.clone(),
    );
    let token = AuthBackend::new(
        "token",
        BearerTransport::new("auth/token/login"),
        RefreshStrategy::new(jwt, AppStore::new()),
    );
    let store = AppStore::new();
    let mut builder = UserManager::builder(store.clone())
        .hasher(fast_hasher())
        .token_secret(SECRET);
    if factors != Factors::Off {
        #[allow(unused_mut)]
        let mut mfa = Mfa::new(store.clone()).issuer("OpenAPI tests");
        #[cfg(feature = "passkeys")]
        if factors == Factors::Passkeys {
            let rp = axum_users::mfa::passkey::RelyingParty::new(RP_ID, ORIGIN).unwrap();
            mfa = mfa.passkeys(rp);
        }
        builder = builder.mfa(mfa).login_throttle(
            LoginThrottle::new(MemoryThrottle::new())
                .per_address(Some(Limit::new(5, std::time::Duration::from_secs(60)))),
        );
    }
    let manager = builder.build();
    let mut users = AxumUsers::new(
        manager,
        vec![
            bearer.clone(),
            cookie.clone(),
            session.clone(),
            token.clone(),
        ],
    )
    .requires_verification(requires_verification);
    if let Some(limit) = body_limit {
        users = users.body_limit(limit);
    }
    let mut api: Routes<AppStore, NoHooks> = users
        .routes()
        .auth("/auth/jwt", &bearer)
        .auth("/auth/cookie", &cookie)
        .auth("/auth/session", &session)
        .auth("/auth/token", &token)
        .register("/auth")
        .reset_password("/auth")
        .verify("/auth")
        .users("/users");
    if factors != Factors::Off {
        api = api.mfa("/users");
    }
    let openapi = api.openapi(&Info::new("test", "1.0.0"));
    // The tests read the document as JSON, as a client of `/openapi.json` does.
    let doc = serde_json::to_value(&openapi).unwrap();
    let router = api.into_router().layer(users.layer());
    App {
        router,
        openapi,
        doc,
    }
}

fn app() -> App {
    app_with(false, None)
}

/// The spec a documented operation comes from.
fn spec_of(method: &str, path: &str) -> &'static RouteSpec {
    MOUNTS
        .iter()
        .chain(MFA_MOUNTS.iter())
        .flat_map(|(prefix, routes)| routes.iter().map(move |r| (*prefix, r)))
        .find(|(prefix, r)| {
            r.method.as_str().eq_ignore_ascii_case(method) && format!("{prefix}{}", r.path) == path
        })
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no spec for {method} {path}"))
}

/// Every (method, path, operation) of a document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

/// Follows `$ref`s into the components.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference}")),
            )
        }
        None => value,
    }
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, body_json(response).await)
}

/// A concrete URI for a documented path.
fn uri(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{session_id}", "AAAAAAAAAAAAAAAAAAAAAA")
        .replace("{passkey_id}", "00000000-0000-4000-8000-000000000000")
}

/// Whether an operation answers 401: a protected one, and the public
/// `verify-token` and `refresh`, whose credential is in the body.
fn answers_401(spec: &RouteSpec) -> bool {
    use axum_users::routers::spec::{Access, Body, Success};
    spec.access != Access::Public
        || spec.success == Success::EmptyObject
        || spec.body == Body::RefreshToken
}

// ---------------------------------------------------------------------------

#[test]
fn the_document_is_openapi_3_1_with_every_mounted_route() {
    let App { doc, .. } = app();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"], json!({"title": "test", "version": "1.0.0"}));
    let documented = documented_operations(&doc);
    let expected = base_operations();
    assert_eq!(documented, expected);
    // Operation ids are unique.
    let ids: BTreeSet<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), expected.len());
}

/// The (method, path) pairs a document has.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    operations(doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The operations of the test app without multi-factor login: the
/// contracts' routes, with a third backend.
fn base_operations() -> BTreeSet<(String, String)> {
    [
        ("POST", "/auth/jwt/login"),
        ("POST", "/auth/jwt/logout"),
        ("POST", "/auth/jwt/verify-token"),
        ("POST", "/auth/cookie/login"),
        ("POST", "/auth/cookie/logout"),
        ("POST", "/auth/cookie/verify-token"),
        ("POST", "/auth/session/login"),
        ("POST", "/auth/session/logout"),
        ("POST", "/auth/session/verify-token"),
        ("POST", "/auth/token/login"),
        ("POST", "/auth/token/logout"),
        ("POST", "/auth/token/verify-token"),
        ("POST", "/auth/token/refresh"),
        ("POST", "/auth/register"),
        ("POST", "/auth/forgot-password"),
        ("POST", "/auth/reset-password"),
        ("POST", "/auth/request-verify-token"),
        ("POST", "/auth/verify"),
        ("GET", "/users/me"),
        ("PATCH", "/users/me"),
        ("GET", "/users/{id}"),
        ("PATCH", "/users/{id}"),
        ("DELETE", "/users/{id}"),
        ("GET", "/users/me/sessions"),
        ("DELETE", "/users/me/sessions"),
        ("DELETE", "/users/me/sessions/{session_id}"),
        ("GET", "/users/{id}/sessions"),
        ("DELETE", "/users/{id}/sessions"),
        ("POST", "/auth/confirm-email-change"),
        ("POST", "/users/me/change-password"),
        ("POST", "/users/me/change-email"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect()
}

/// The test app without multi-factor login, then with each setup of it.
fn every_app() -> Vec<(Factors, App)> {
    std::iter::once(Factors::Off)
        .chain(mfa_factors())
        .map(|factors| (factors, build_app(false, None, factors)))
        .collect()
}

#[tokio::test]
async fn the_router_answers_exactly_the_documented_operations() {
    for (factors, app) in every_app() {
        the_router_answers_exactly_the_documented_operations_of(factors, app).await;
    }
}

async fn the_router_answers_exactly_the_documented_operations_of(factors: Factors, app: App) {
    let App { router, doc, .. } = app;
    let documented: BTreeMap<String, BTreeSet<String>> =
        operations(&doc)
            .into_iter()
            .fold(BTreeMap::new(), |mut map, (method, path, _)| {
                map.entry(path).or_default().insert(method);
                map
            });
    for (path, methods) in &documented {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let request = Request::builder()
                .method(method)
                .uri(uri(path))
                .body(Body::empty())
                .unwrap();
            let (status, body) = send(&router, request).await;
            if methods.contains(method) {
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} ({factors:?}): documented, but {status} {body}"
                );
                let op = &doc["paths"][path][method.to_lowercase()];
                assert!(
                    op["responses"].get(status.as_str()).is_some(),
                    "{method} {path} ({factors:?}) answered {status}, which it does not document"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} ({factors:?}): not documented"
                );
            }
        }
    }
    for path in [
        "/",
        "/auth",
        "/auth/login",
        "/users",
        "/auth/jwt",
        "/docs",
        "/auth/jwt/refresh",
        "/auth/cookie/refresh",
        "/auth/session/refresh",
    ] {
        let (status, _) = send(&router, common::get(path, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} ({factors:?})");
    }
}

#[test]
fn security_schemes_name_each_backend() {
    let App { doc, .. } = app();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes.as_object().unwrap().len(), 4, "{schemes}");
    assert_eq!(schemes["jwt"]["type"], "oauth2");
    let token_url = schemes["jwt"]["flows"]["password"]["tokenUrl"]
        .as_str()
        .unwrap();
    assert!(token_url.ends_with("auth/jwt/login"), "{token_url}");
    assert_eq!(
        schemes["cookie"],
        json!({"type": "apiKey", "in": "cookie", "name": "fastapiusersauth",
               "description": schemes["cookie"]["description"]})
    );
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "fastapiuserssession");
    assert_eq!(schemes["token"]["type"], "oauth2");
    assert_eq!(
        schemes["token"]["flows"]["password"]["tokenUrl"],
        "auth/token/login"
    );
}

#[test]
fn protected_operations_list_their_backends_and_never_anonymous() {
    for (_, App { doc, .. }) in every_app() {
        protected_operations_list_their_backends_and_never_anonymous_in(&doc);
    }
}

fn protected_operations_list_their_backends_and_never_anonymous_in(doc: &Value) {
    let all = json!([{"jwt": []}, {"cookie": []}, {"session": []}, {"token": []}]);
    for (method, path, op) in operations(doc) {
        let spec = spec_of(&method, &path);
        let protected = spec.access != axum_users::routers::spec::Access::Public;
        assert_eq!(
            op["responses"].get("401").is_some(),
            answers_401(spec),
            "{method} {path}: 401 iff protected, or the credential is in the body"
        );
        if !protected {
            assert!(op.get("security").is_none(), "{method} {path}");
            continue;
        }
        let security = op["security"].as_array().expect("security");
        assert!(!security.is_empty(), "{method} {path}");
        for requirement in security {
            let requirement = requirement.as_object().unwrap();
            assert_eq!(requirement.len(), 1, "{method} {path}: {requirement:?}");
        }
        if path.ends_with("/logout") {
            // Every scheme is listed, its own backend's first: only that one
            // logs out (as FastAPI Users'), which the description says.
            let key = path.split('/').nth(2).unwrap();
            assert_eq!(op["security"][0], json!({ key: [] }), "{method} {path}");
            let mut listed: Vec<String> = security
                .iter()
                .map(|r| r.as_object().unwrap().keys().next().unwrap().clone())
                .collect();
            let mut expected: Vec<String> = all
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_object().unwrap().keys().next().unwrap().clone())
                .collect();
            listed.sort();
            expected.sort();
            assert_eq!(listed, expected, "{method} {path}");
            assert!(
                op["description"].as_str().unwrap_or_default().contains(key),
                "{method} {path}: the description names the backend that logs out"
            );
        } else {
            assert_eq!(op["security"], all, "{method} {path}");
        }
    }
}

#[test]
fn bodies_document_422_and_413_logouts_204_and_logins_their_transport() {
    for factors in std::iter::once(Factors::Off).chain(mfa_factors()) {
        let App { doc, .. } = build_app(false, Some(4096), factors);
        bodies_document_422_and_413_logouts_204_and_logins_their_transport_in(&doc);
    }
}

fn bodies_document_422_and_413_logouts_204_and_logins_their_transport_in(doc: &Value) {
    for (method, path, op) in operations(doc) {
        let spec = spec_of(&method, &path);
        let responses = &op["responses"];
        assert_eq!(
            op.get("requestBody").is_some(),
            spec.body.has_body(),
            "{method} {path}"
        );
        if spec.body.has_body() {
            let r422 = resolve(doc, &responses["422"]);
            assert_eq!(
                resolve(doc, &r422["content"]["application/json"]["schema"])["properties"]["detail"]
                    ["items"]["$ref"],
                "#/components/schemas/ValidationError",
                "{method} {path}"
            );
            let r413 = &responses["413"];
            assert!(
                r413["description"].as_str().unwrap().contains("4096"),
                "{method} {path}: {r413}"
            );
        } else {
            assert!(responses.get("413").is_none() && responses.get("422").is_none());
        }
        assert!(responses.get("503").is_some(), "{method} {path}");
        assert_eq!(
            responses.get("404").is_some(),
            spec.not_found,
            "{method} {path}"
        );
    }
    for path in [
        "/auth/jwt/logout",
        "/auth/cookie/logout",
        "/auth/session/logout",
        "/auth/token/logout",
    ] {
        let responses = &doc["paths"][path]["post"]["responses"];
        assert!(responses.get("204").is_some(), "{path}");
        assert!(responses.get("200").is_none(), "{path}");
    }
    let jwt_login = &doc["paths"]["/auth/jwt/login"]["post"];
    assert_eq!(
        jwt_login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/BearerResponse"
    );
    for path in ["/auth/token/login", "/auth/token/refresh"] {
        assert_eq!(
            doc["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/RefreshBearerResponse",
            "{path}"
        );
    }
    let form = &jwt_login["requestBody"]["content"];
    assert!(form.get("application/x-www-form-urlencoded").is_some());
    assert!(form.get("multipart/form-data").is_some());
    let login_form = &doc["components"]["schemas"]["LoginForm"];
    assert_eq!(login_form["required"], json!(["username", "password"]));
    for field in ["grant_type", "scope", "client_id", "client_secret"] {
        assert!(login_form["properties"].get(field).is_some(), "{field}");
    }
    for path in ["/auth/cookie/login", "/auth/session/login"] {
        let responses = &doc["paths"][path]["post"]["responses"];
        assert!(
            responses["204"]["headers"].get("Set-Cookie").is_some(),
            "{path}"
        );
        assert!(responses.get("200").is_none(), "{path}");
    }
}

/// The 400 codes of each operation's documentation, from its schema's enums.
fn documented_codes(doc: &Value, op: &Value) -> BTreeSet<String> {
    let Some(response) = op["responses"].get("400") else {
        return BTreeSet::new();
    };
    let detail =
        &resolve(doc, response)["content"]["application/json"]["schema"]["properties"]["detail"];
    let alternatives = match detail.get("anyOf") {
        Some(list) => list.as_array().unwrap().clone(),
        None => vec![detail.clone()],
    };
    let mut codes = BTreeSet::new();
    for alternative in alternatives {
        let list = alternative
            .get("enum")
            .or_else(|| alternative["properties"]["code"].get("enum"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        codes.extend(list.iter().map(|c| c.as_str().unwrap().to_owned()));
    }
    // Every code has an example too.
    let examples = &resolve(doc, response)["content"]["application/json"]["examples"];
    for code in &codes {
        assert!(examples.get(code).is_some(), "no example for {code}");
    }
    codes
}

#[test]
fn each_operation_documents_its_400_codes() {
    let setups = std::iter::once(Factors::Off).chain(mfa_factors());
    for (factors, requires_verification) in
        setups.flat_map(|factors| [(factors, false), (factors, true)])
    {
        let App { doc, .. } = build_app(requires_verification, None, factors);
        for (method, path, op) in operations(&doc) {
            let spec = spec_of(&method, &path);
            let mut expected: BTreeSet<String> = spec
                .errors
                .iter()
                .filter(|c| requires_verification || **c != ErrorCode::LoginUserNotVerified)
                .map(|c| c.as_str().to_owned())
                .collect();
            // With multi-factor login, a password login may need its second
            // step.
            if factors != Factors::Off && spec.body == axum_users::routers::spec::Body::LoginForm {
                expected.insert("LOGIN_MFA_REQUIRED".to_owned());
            }
            assert_eq!(
                documented_codes(&doc, &op),
                expected,
                "{method} {path} ({factors:?}, requires_verification {requires_verification})"
            );
            let lacks_flag = match spec.access {
                axum_users::routers::spec::Access::Public => false,
                axum_users::routers::spec::Access::User => requires_verification,
                axum_users::routers::spec::Access::Superuser => true,
                other => panic!("an access level this test does not know: {other:?}"),
            };
            let mut expected = BTreeSet::new();
            if lacks_flag {
                expected.insert("Forbidden".to_owned());
            }
            if cross_site_refusable(&method, &path, spec) {
                expected.insert("CSRF_ORIGIN_MISMATCH".to_owned());
            }
            assert_eq!(
                forbidden_details(&doc, &op),
                expected,
                "{method} {path} ({factors:?}, requires_verification {requires_verification})"
            );
        }
    }
}

/// The `detail`s of an operation's 403, each with its example; none without
/// a 403.
fn forbidden_details(doc: &Value, op: &Value) -> BTreeSet<String> {
    let Some(response) = op["responses"].get("403") else {
        return BTreeSet::new();
    };
    let content = &resolve(doc, response)["content"]["application/json"];
    let details: BTreeSet<String> = content["schema"]["properties"]["detail"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("a 403 without a detail enum: {content}"))
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    if details.len() > 1 {
        for detail in &details {
            assert_eq!(
                content["examples"][detail]["value"],
                json!({ "detail": detail }),
                "no example for {detail}"
            );
        }
    }
    details
}

/// Whether the test app's route can answer 403 `CSRF_ORIGIN_MISMATCH`: an
/// unsafe method, and a cookie that authenticates it (the authenticator has
/// the `cookie` and `session` cookie backends; a logout takes its own
/// backend's token only), or a login (a second step too) or refresh of a
/// cookie backend.
fn cross_site_refusable(method: &str, path: &str, spec: &RouteSpec) -> bool {
    use axum_users::routers::spec::{Access, Body};
    if method == "GET" {
        return false;
    }
    let cookie_mount = path.starts_with("/auth/cookie/") || path.starts_with("/auth/session/");
    if matches!(
        spec.body,
        Body::LoginForm | Body::RefreshToken | Body::MfaLogin | Body::PasskeyLogin
    ) {
        return cookie_mount;
    }
    if spec.access == Access::Public {
        return false;
    }
    !path.ends_with("/logout") || cookie_mount
}

/// The 403 of an operation: `$ref` to which shared response, if any.
fn forbidden_ref(doc: &Value, method: &str, path: &str) -> Option<String> {
    doc["paths"][path][method]["responses"]
        .get("403")
        .map(|r| r["$ref"].as_str().unwrap_or("(inline)").to_owned())
}

#[test]
fn cross_site_403s_are_documented_where_a_cookie_can_authenticate() {
    let App { doc, .. } = app();
    let cross_site = Some("#/components/responses/CrossSite".to_owned());
    // A cookie login sets a cookie another site could make a browser send
    // (login CSRF); a bearer login does not.
    assert_eq!(
        forbidden_ref(&doc, "post", "/auth/cookie/login"),
        cross_site
    );
    assert_eq!(
        forbidden_ref(&doc, "post", "/auth/session/login"),
        cross_site
    );
    for path in [
        "/auth/jwt/login",
        "/auth/token/login",
        "/auth/token/refresh",
    ] {
        assert_eq!(forbidden_ref(&doc, "post", path), None, "{path}");
    }
    // A cookie backend is mounted: every unsafe route that authenticates its
    // caller may be refused, no GET is.
    assert_eq!(forbidden_ref(&doc, "patch", "/users/me"), cross_site);
    assert_eq!(
        forbidden_ref(&doc, "post", "/users/me/change-password"),
        cross_site
    );
    assert_eq!(forbidden_ref(&doc, "get", "/users/me"), None);
    assert_eq!(forbidden_ref(&doc, "get", "/users/me/sessions"), None);
    // A logout takes its own backend's token only.
    assert_eq!(
        forbidden_ref(&doc, "post", "/auth/cookie/logout"),
        cross_site
    );
    assert_eq!(forbidden_ref(&doc, "post", "/auth/jwt/logout"), None);
    // Public routes authenticate nobody.
    for path in ["/auth/register", "/auth/forgot-password", "/auth/verify"] {
        assert_eq!(forbidden_ref(&doc, "post", path), None, "{path}");
    }
    // Where a flag is needed as well, one 403 carries both `detail`s.
    assert_eq!(
        forbidden_ref(&doc, "get", "/users/{id}"),
        Some("#/components/responses/Forbidden".to_owned())
    );
    for method in ["patch", "delete"] {
        assert_eq!(
            forbidden_ref(&doc, method, "/users/{id}"),
            Some("#/components/responses/ForbiddenOrCrossSite".to_owned()),
            "{method}"
        );
    }
    let responses = &doc["components"]["responses"];
    let cross_site = &responses["CrossSite"];
    assert_eq!(
        cross_site["content"]["application/json"]["schema"]["properties"]["detail"]["enum"],
        json!(["CSRF_ORIGIN_MISMATCH"])
    );
    let description = cross_site["description"].as_str().unwrap();
    for said in ["Origin", "cookie", "bearer", "Sec-Fetch-Site: cross-site"] {
        assert!(description.contains(said), "{said}: {description}");
    }
    let both = &responses["ForbiddenOrCrossSite"]["content"]["application/json"];
    assert_eq!(
        both["schema"]["properties"]["detail"]["enum"],
        json!(["Forbidden", "CSRF_ORIGIN_MISMATCH"])
    );
    assert_eq!(
        both["examples"]["Forbidden"]["value"],
        json!({"detail": "Forbidden"})
    );
    assert_eq!(
        both["examples"]["CSRF_ORIGIN_MISMATCH"]["value"],
        json!({"detail": "CSRF_ORIGIN_MISMATCH"})
    );
    // The flag-only response keeps its own wording.
    assert_eq!(
        responses["Forbidden"]["content"]["application/json"]["schema"]["properties"]["detail"]["enum"],
        json!(["Forbidden"])
    );
}

/// A bearer-only application whose manager throttles logins (2 attempts per
/// minute) and requires the current password on `PATCH /users/me`.
fn bearer_app() -> App {
    use axum_users::throttle::{Limit, LoginThrottle, MemoryThrottle};
    let jwt = JwtStrategy::hs256(SECRET).unwrap();
    let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
    let token = AuthBackend::new(
        "token",
        BearerTransport::new("auth/token/login"),
        RefreshStrategy::new(jwt, AppStore::new()),
    );
    let manager = UserManager::builder(AppStore::new())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .login_throttle(
            LoginThrottle::new(MemoryThrottle::new())
                .per_address(Some(Limit::new(2, std::time::Duration::from_secs(60)))),
        )
        .current_password_on_update(true)
        .build();
    let users = AxumUsers::new(manager, vec![bearer.clone(), token.clone()]);
    let api: Routes<AppStore, NoHooks> = users
        .routes()
        .auth("/auth/jwt", &bearer)
        .auth("/auth/token", &token)
        .register("/auth")
        .verify("/auth")
        .users("/users");
    let openapi = api.openapi(&Info::new("bearer", "1.0.0"));
    let doc = serde_json::to_value(&openapi).unwrap();
    let router = api.into_router().layer(users.layer());
    App {
        router,
        openapi,
        doc,
    }
}

#[test]
fn a_bearer_only_app_documents_no_cross_site_403() {
    let App { doc, .. } = bearer_app();
    for (method, path, op) in operations(&doc) {
        assert!(
            !forbidden_details(&doc, &op).contains("CSRF_ORIGIN_MISMATCH"),
            "{method} {path}"
        );
    }
    for (method, path) in [
        ("post", "/auth/jwt/login"),
        ("post", "/auth/jwt/logout"),
        ("post", "/auth/token/refresh"),
        ("patch", "/users/me"),
        ("post", "/users/me/change-email"),
        ("delete", "/users/me/sessions"),
    ] {
        assert_eq!(forbidden_ref(&doc, method, path), None, "{method} {path}");
    }
    assert_eq!(
        forbidden_ref(&doc, "delete", "/users/{id}"),
        Some("#/components/responses/Forbidden".to_owned())
    );
    let responses = doc["components"]["responses"].as_object().unwrap();
    assert!(!responses.contains_key("CrossSite"), "unused components go");
    assert!(!responses.contains_key("ForbiddenOrCrossSite"));
}

/// `request` with these headers added.
fn with_headers(mut request: Request<Body>, headers: &[(&str, &str)]) -> Request<Body> {
    for (name, value) in headers {
        request.headers_mut().append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(value).unwrap(),
        );
    }
    request
}

#[tokio::test]
async fn cross_site_refusals_answer_as_documented() {
    let App { router, doc, .. } = app();
    let schema_of = |method: &str, path: &str, status: &str| {
        let op = &doc["paths"][path][method];
        resolve(&doc, &op["responses"][status])["content"]["application/json"]["schema"].clone()
    };
    let (status, user) = send(
        &router,
        json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "site@example.com", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let evil = [
        ("host", "api.example.com"),
        ("origin", "https://evil.example"),
    ];

    // A cookie login from another site: refused, as documented.
    let cross_login = with_headers(
        login_request("/auth/cookie/login", "site@example.com", PASSWORD),
        &evil,
    );
    let (status, answer) = send(&router, cross_login).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer, json!({"detail": "CSRF_ORIGIN_MISMATCH"}));
    assert_fits(
        &doc,
        &schema_of("post", "/auth/cookie/login", "403"),
        &answer,
        "cookie login 403",
    );
    // A bearer login from the same page is not (and documents no 403).
    let (status, answer) = send(
        &router,
        with_headers(
            login_request("/auth/jwt/login", "site@example.com", PASSWORD),
            &evil,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let token = answer["access_token"].as_str().unwrap().to_owned();

    // The cookie, from a login of the server's own origin.
    let own = [
        ("host", "api.example.com"),
        ("origin", "https://api.example.com"),
    ];
    let response = router
        .clone()
        .oneshot(with_headers(
            login_request("/auth/cookie/login", "site@example.com", PASSWORD),
            &own,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let by_cookie = |request: Request<Body>, headers: &[(&str, &str)]| {
        let mut all = vec![("cookie", cookie.as_str())];
        all.extend_from_slice(headers);
        with_headers(request, &all)
    };

    // An unsafe request authenticated by the cookie, from another site.
    let patch = || {
        json_request(
            "PATCH",
            "/users/me",
            None,
            &json!({"display_name": "from afar"}),
        )
    };
    let (status, answer) = send(&router, by_cookie(patch(), &evil)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_fits(
        &doc,
        &schema_of("patch", "/users/me", "403"),
        &answer,
        "PATCH /users/me 403",
    );
    // The same from the server's own origin, or carrying a bearer token, passes.
    let (status, answer) = send(&router, by_cookie(patch(), &own)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = send(
        &router,
        with_headers(
            json_request(
                "PATCH",
                "/users/me",
                Some(&token),
                &json!({"display_name": "bearer"}),
            ),
            &evil,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // A GET is never refused, and documents no 403.
    let (status, answer) = send(&router, by_cookie(common::get("/users/me", None), &evil)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["display_name"], "bearer");
    assert!(
        doc["paths"]["/users/me"]["get"]["responses"]
            .get("403")
            .is_none()
    );
}

#[tokio::test]
async fn a_throttled_current_password_check_answers_the_documented_429() {
    let App { router, doc, .. } = bearer_app();
    // Documented on the user's own update and on the current-password
    // routes, not on the superusers' update (which needs no password).
    for (method, path) in [
        ("post", "/auth/jwt/login"),
        ("post", "/users/me/change-password"),
        ("post", "/users/me/change-email"),
        ("patch", "/users/me"),
    ] {
        let r429 = &doc["paths"][path][method]["responses"]["429"];
        assert_eq!(
            r429["content"]["application/json"]["schema"]["properties"]["detail"]["enum"],
            json!(["LOGIN_TOO_MANY_ATTEMPTS"]),
            "{method} {path}"
        );
        assert_eq!(
            r429["headers"]["Retry-After"]["schema"]["type"], "integer",
            "{method} {path}"
        );
    }
    for (method, path) in [
        ("patch", "/users/{id}"),
        ("get", "/users/me"),
        ("post", "/auth/token/refresh"),
        ("post", "/auth/register"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"].get("429").is_none(),
            "{method} {path}"
        );
    }

    let (status, _) = send(
        &router,
        json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "careful@example.com", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, login) = send(
        &router,
        login_request("/auth/jwt/login", "careful@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["access_token"].as_str().unwrap().to_owned();
    let update = |current: &str| {
        json_request(
            "PATCH",
            "/users/me",
            Some(&token),
            &json!({"password": "another-long-password", "current_password": current}),
        )
    };
    // Two wrong current passwords, then the address is locked (2 per minute),
    // even for the right one.
    for _ in 0..2 {
        let (status, answer) = send(&router, update("wrong password")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    }
    let response = router.clone().oneshot(update(PASSWORD)).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let answer = body_json(response).await;
    let r429 = &doc["paths"]["/users/me"]["patch"]["responses"]["429"];
    assert_fits(
        &doc,
        &r429["content"]["application/json"]["schema"],
        &answer,
        "PATCH /users/me 429",
    );
}

/// With `current_password_on_update`, `PATCH /users/me` takes
/// `current_password` and answers 400 `INVALID_CURRENT_PASSWORD`: its
/// documentation says both. (The route spec's codes and the `UserUpdate`
/// schema come from `routers::spec` and `openapi::schemas`.)
#[tokio::test]
async fn patch_me_documents_its_current_password_key_and_code() {
    let App { router, doc, .. } = bearer_app();
    let (status, _) = send(
        &router,
        json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "keyed@example.com", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, login) = send(
        &router,
        login_request("/auth/jwt/login", "keyed@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["access_token"].as_str().unwrap();
    let (status, answer) = send(
        &router,
        json_request(
            "PATCH",
            "/users/me",
            Some(token),
            &json!({"email": "moved@example.com", "current_password": "wrong password"}),
        ),
    )
    .await;
    assert_eq!(
        (status, &answer),
        (
            StatusCode::BAD_REQUEST,
            &json!({"detail": "INVALID_CURRENT_PASSWORD"})
        )
    );
    let codes = documented_codes(&doc, &doc["paths"]["/users/me"]["patch"]);
    assert!(
        codes.contains("INVALID_CURRENT_PASSWORD"),
        "PATCH /users/me answered {answer}, but documents only {codes:?}"
    );
    let update_schema = &doc["components"]["schemas"]["UserUpdate"];
    assert!(
        update_schema["properties"]
            .get("current_password")
            .is_some(),
        "UserUpdate does not document current_password: {update_schema}"
    );
}

#[test]
fn user_schemas_follow_the_user_type() {
    let App { doc, .. } = app();
    let schemas = &doc["components"]["schemas"];
    let user = &schemas["User"];
    assert_eq!(user["properties"]["id"]["type"], "integer");
    assert_eq!(user["properties"]["email"]["format"], "email");
    assert_eq!(
        user["properties"]["display_name"]["type"],
        json!(["string", "null"])
    );
    let required: BTreeSet<&str> = user["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from([
            "id",
            "email",
            "is_active",
            "is_superuser",
            "is_verified",
            "display_name"
        ])
    );
    assert_eq!(user["additionalProperties"], false);
    let create = &schemas["UserCreate"];
    assert_eq!(create["required"], json!(["email", "password"]));
    for field in [
        "email",
        "password",
        "is_active",
        "is_superuser",
        "is_verified",
        "display_name",
    ] {
        assert!(
            create["properties"].get(field).is_some(),
            "UserCreate.{field}"
        );
    }
    let update = &schemas["UserUpdate"];
    assert!(update.get("required").is_none(), "{update}");
    for field in [
        "email",
        "password",
        "is_active",
        "is_superuser",
        "is_verified",
        "display_name",
    ] {
        assert!(
            update["properties"].get(field).is_some(),
            "UserUpdate.{field}"
        );
    }
    // The id in the path follows the id type too.
    let parameters = &doc["paths"]["/users/{id}"]["get"]["parameters"];
    assert_eq!(parameters[0]["name"], "id");
    assert_eq!(parameters[0]["schema"]["type"], "integer");

    // The ready-made user: UUID ids, exactly the core keys.
    let jwt = AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(SECRET).unwrap(),
    );
    let users = AxumUsers::new(
        UserManager::new(MemoryStore::<User>::new()),
        vec![jwt.clone()],
    );
    let doc = users
        .routes::<()>()
        .auth("/auth/jwt", &jwt)
        .users("/users")
        .openapi(&Info::new("default", "0"));
    let doc = serde_json::to_value(doc).unwrap();
    let user = &doc["components"]["schemas"]["User"];
    assert_eq!(
        user["properties"]["id"],
        json!({"type": "string", "format": "uuid"})
    );
    assert_eq!(user["properties"].as_object().unwrap().len(), 5);
    assert_eq!(user["additionalProperties"], false);
    // Only what the mounted routes use: no register body, no OAuth schema.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for unused in [
        "UserCreate",
        "EmailRequest",
        "AuthorizationURL",
        "RefreshBearerResponse",
        "RefreshRequest",
    ] {
        assert!(!schemas.contains_key(unused), "{unused}");
    }
}

/// The keys of `value` fit `schema` (an object schema of the document):
/// every required key present, no key outside `properties` when closed.
fn assert_fits(doc: &Value, schema: &Value, value: &Value, context: &str) {
    let schema = resolve(doc, schema);
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{context}: {value}"));
    for key in schema["required"].as_array().into_iter().flatten() {
        assert!(
            object.contains_key(key.as_str().unwrap()),
            "{context}: {key} missing in {value}"
        );
    }
    if schema["additionalProperties"] == false {
        for key in object.keys() {
            assert!(
                schema["properties"].get(key).is_some(),
                "{context}: {key} undocumented"
            );
        }
    }
    if let Some(Value::Array(allowed)) = schema["properties"]["detail"].get("enum") {
        assert!(allowed.contains(&value["detail"]), "{context}: {value}");
    }
}

#[tokio::test]
async fn the_server_answers_as_documented() {
    let App { router, doc, .. } = app_with(false, Some(256));
    let schema_of = |method: &str, path: &str, status: &str| {
        let op = &doc["paths"][path][method];
        resolve(&doc, &op["responses"][status])["content"]["application/json"]["schema"].clone()
    };

    // Register and log in: the success bodies fit their schemas.
    let (status, user) = send(
        &router,
        json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "doc@example.com", "password": PASSWORD, "display_name": "Doc"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_fits(
        &doc,
        &schema_of("post", "/auth/register", "201"),
        &user,
        "register",
    );
    let (status, login) = send(
        &router,
        login_request("/auth/jwt/login", "doc@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_fits(
        &doc,
        &schema_of("post", "/auth/jwt/login", "200"),
        &login,
        "login",
    );
    let token = login["access_token"].as_str().unwrap().to_owned();

    // 422 for a body that is not JSON, 413 past the limit, on every body route.
    for (method, path, op) in operations(&doc) {
        if op.get("requestBody").is_none() {
            continue;
        }
        if path.contains("{id}") {
            continue; // PATCH /users/{id} needs a superuser.
        }
        let auth = op.get("security").map(|_| token.as_str());
        for (body, expected) in [
            ("not json".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
            (
                format!("{{\"email\": \"{}\"}}", "x".repeat(300)),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ] {
            let request = raw_request(&method, &path, auth, Some("text/plain"), body);
            let (status, answer) = send(&router, request).await;
            assert_eq!(status, expected, "{method} {path}: {answer}");
            let schema = schema_of(&method.to_lowercase(), &path, status.as_str());
            assert_fits(&doc, &schema, &answer, &format!("{method} {path} {status}"));
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                for error in answer["detail"].as_array().unwrap() {
                    assert_fits(
                        &doc,
                        &json!({"$ref": "#/components/schemas/ValidationError"}),
                        error,
                        "422 item",
                    );
                }
            }
        }
    }

    // 400 codes and the auth errors fit too.
    let (status, answer) = send(
        &router,
        login_request("/auth/jwt/login", "doc@example.com", "wrong password"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_fits(
        &doc,
        &schema_of("post", "/auth/jwt/login", "400"),
        &answer,
        "400",
    );
    let (status, answer) = send(&router, common::get("/users/me", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_fits(&doc, &schema_of("get", "/users/me", "401"), &answer, "401");
    let (status, answer) = send(&router, common::get("/users/1", Some(&token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_fits(
        &doc,
        &schema_of("get", "/users/{id}", "403"),
        &answer,
        "403",
    );
    let (status, me) = send(&router, common::get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    assert_fits(&doc, &schema_of("get", "/users/me", "200"), &me, "me");
    assert_eq!(me["display_name"], "Doc");

    // The refresh-token backend: login, refresh, verify-token, sessions, and
    // the 401s of a reused refresh token and of its ended session's token.
    let (status, login) = send(
        &router,
        login_request("/auth/token/login", "doc@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_fits(
        &doc,
        &schema_of("post", "/auth/token/login", "200"),
        &login,
        "token login",
    );
    let first_refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: &str| {
        json_request(
            "POST",
            "/auth/token/refresh",
            None,
            &json!({ "refresh_token": token }),
        )
    };
    let (status, refreshed) = send(&router, refresh(&first_refresh)).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_fits(
        &doc,
        &schema_of("post", "/auth/token/refresh", "200"),
        &refreshed,
        "refresh",
    );
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let verify = |token: &str| {
        json_request(
            "POST",
            "/auth/token/verify-token",
            None,
            &json!({ "token": token }),
        )
    };
    let (status, verified) = send(&router, verify(&access)).await;
    assert_eq!((status, &verified), (StatusCode::OK, &json!({})));
    assert_fits(
        &doc,
        &schema_of("post", "/auth/token/verify-token", "200"),
        &verified,
        "verify-token",
    );

    let (status, sessions) = send(&router, common::get("/users/me/sessions", Some(&access))).await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    let list = resolve(&doc, &schema_of("get", "/users/me/sessions", "200")).clone();
    assert_eq!(list["type"], "array");
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    for session in sessions {
        assert_fits(&doc, &list["items"], session, "session");
        assert_eq!(session["current"], true);
        assert_eq!(session["backend"], "token");
    }
    let (status, answer) = send(
        &router,
        raw_request(
            "DELETE",
            "/users/me/sessions/AAAAAAAAAAAAAAAAAAAAAA",
            Some(&access),
            None,
            String::new(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_fits(
        &doc,
        &schema_of("delete", "/users/me/sessions/{session_id}", "404"),
        &answer,
        "404",
    );

    let (status, answer) = send(&router, refresh(&first_refresh)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse: {answer}");
    assert_eq!(answer, json!({"detail": "REFRESH_TOKEN_INVALID"}));
    assert_fits(
        &doc,
        &schema_of("post", "/auth/token/refresh", "401"),
        &answer,
        "refresh 401",
    );
    let (status, answer) = send(&router, verify(&access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "session ended: {answer}");
    assert_fits(
        &doc,
        &schema_of("post", "/auth/token/verify-token", "401"),
        &answer,
        "verify-token 401",
    );
}

/// The schemas of the refresh-token backend, `verify-token` and the sessions
/// routes, as the contract gives them.
#[test]
fn refresh_and_sessions_schemas_are_pinned() {
    let App { doc, .. } = app();
    let schemas = &doc["components"]["schemas"];
    let bearer = &schemas["RefreshBearerResponse"];
    assert_eq!(
        bearer["required"],
        json!(["access_token", "token_type", "refresh_token", "expires_in"])
    );
    assert_eq!(
        bearer["properties"]["token_type"]["enum"],
        json!(["bearer"])
    );
    assert_eq!(bearer["properties"]["refresh_token"]["type"], "string");
    assert_eq!(bearer["properties"]["expires_in"]["type"], "integer");
    assert_eq!(bearer["additionalProperties"], false);
    // The other backends' logins keep the plain bearer response.
    assert_eq!(
        schemas["BearerResponse"]["required"],
        json!(["access_token", "token_type"])
    );

    assert_eq!(schemas["RefreshRequest"]["type"], "object");
    assert_eq!(
        schemas["RefreshRequest"]["required"],
        json!(["refresh_token"])
    );
    assert_eq!(
        schemas["RefreshRequest"]["properties"]["refresh_token"]["type"],
        "string"
    );
    // verify-token takes an access token; verify, the mail's token.
    assert_eq!(schemas["VerifyTokenRequest"]["required"], json!(["token"]));
    assert_eq!(
        doc["paths"]["/auth/verify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/VerifyRequest"
    );
    assert_eq!(schemas["EmptyObject"]["type"], "object");
    assert_eq!(schemas["EmptyObject"]["additionalProperties"], false);
    assert!(schemas["EmptyObject"].get("properties").is_none());

    assert_eq!(schemas["SessionList"]["type"], "array");
    assert_eq!(
        schemas["SessionList"]["items"]["$ref"],
        "#/components/schemas/Session"
    );
    let session = &schemas["Session"];
    let required: BTreeSet<&str> = session["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let properties: BTreeSet<&str> = session["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let keys = BTreeSet::from([
        "id",
        "backend",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
    ]);
    assert_eq!(required, keys);
    assert_eq!(properties, keys);
    for key in ["id", "backend"] {
        assert_eq!(session["properties"][key]["type"], "string", "{key}");
    }
    for key in ["created_at", "last_used_at", "expires_at"] {
        assert_eq!(session["properties"][key]["type"], "string", "{key}");
        assert_eq!(session["properties"][key]["format"], "date-time", "{key}");
    }
    for key in ["user_agent", "ip"] {
        assert_eq!(
            session["properties"][key]["type"],
            json!(["string", "null"]),
            "{key}"
        );
    }
    assert_eq!(session["properties"]["current"]["type"], "boolean");

    // The refresh route: public, its body or 422, 401 REFRESH_TOKEN_INVALID.
    let refresh = &doc["paths"]["/auth/token/refresh"]["post"];
    assert!(refresh.get("security").is_none());
    assert_eq!(
        refresh["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/RefreshRequest"
    );
    let r401 = resolve(&doc, &refresh["responses"]["401"]);
    assert_eq!(
        r401["content"]["application/json"]["schema"]["properties"]["detail"]["enum"],
        json!(["REFRESH_TOKEN_INVALID"])
    );
    assert!(refresh["responses"].get("422").is_some());
    assert!(refresh["responses"].get("400").is_none());
    // verify-token: public, 200 `{}`, 401, 422.
    for backend in ["jwt", "cookie", "session", "token"] {
        let verify = &doc["paths"][format!("/auth/{backend}/verify-token")]["post"];
        assert!(verify.get("security").is_none(), "{backend}");
        assert_eq!(
            verify["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/VerifyTokenRequest"
        );
        let statuses: Vec<&String> = verify["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "401", "413", "422", "503"], "{backend}");
        assert_eq!(
            verify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/EmptyObject"
        );
    }
    // The sessions routes: 401 always, 403 for the superusers' ones, 404
    // for those naming a session or a user.
    for (method, path, statuses) in [
        (
            "get",
            "/users/me/sessions",
            ["200", "401", "503"].as_slice(),
        ),
        // A DELETE that a cookie may authenticate may be a cross-site
        // request (403): the app has two cookie backends.
        (
            "delete",
            "/users/me/sessions",
            &["204", "401", "403", "503"],
        ),
        (
            "delete",
            "/users/me/sessions/{session_id}",
            &["204", "401", "403", "404", "503"],
        ),
        (
            "get",
            "/users/{id}/sessions",
            &["200", "401", "403", "404", "503"],
        ),
        (
            "delete",
            "/users/{id}/sessions",
            &["204", "401", "403", "404", "503"],
        ),
    ] {
        let op = &doc["paths"][path][method];
        let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(documented, statuses, "{method} {path}");
    }
    let parameter = &doc["paths"]["/users/me/sessions/{session_id}"]["delete"]["parameters"][0];
    assert_eq!(parameter["name"], "session_id");
    assert_eq!(parameter["in"], "path");
    assert_eq!(parameter["required"], true);
    assert_eq!(parameter["schema"]["type"], "string");
    let parameter = &doc["paths"]["/users/{id}/sessions"]["get"]["parameters"][0];
    assert_eq!(parameter["name"], "id");
    assert_eq!(parameter["schema"]["type"], "integer");
}

async fn body_text(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn the_docs_page_is_served_whole_by_the_server() {
    let App { doc, .. } = app();
    let router: Router = Router::new()
        .merge(openapi::json_router("/openapi.json", &doc))
        .merge(openapi::docs_router("/openapi.json"));

    let response = router
        .clone()
        .oneshot(common::get("/openapi.json", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(body_json(response).await, doc);

    let response = router
        .clone()
        .oneshot(common::get("/docs", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let page = body_text(response).await;
    assert!(
        !page.contains("http:") && !page.contains("https:") && !page.contains("//"),
        "{page}"
    );
    assert!(
        !page.contains("<style") && !page.contains("<script>"),
        "inline code: {page}"
    );
    assert!(
        page.contains("data-openapi-url=\"/openapi.json\""),
        "{page}"
    );

    // Every asset the page names is served, relative to the page.
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in page.match_indices(attribute) {
            let rest = &page[start + attribute.len()..];
            assets.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    assert_eq!(assets.len(), 4, "{assets:?}");
    let mut types = BTreeSet::new();
    for asset in assets {
        assert!(asset.starts_with("docs/assets/"), "{asset}");
        let response = router
            .clone()
            .oneshot(common::get(&format!("/{asset}"), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            response.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{asset}"
        );
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        let body = body_text(response).await;
        if content_type.starts_with("text/") {
            for never in [
                "validator.swagger.io",
                "petstore",
                "sourceMappingURL",
                "@import",
            ] {
                assert!(!body.contains(never), "{asset} contains {never}");
            }
        }
        if asset.ends_with("init.js") {
            assert!(body.contains("validatorUrl: null"), "{body}");
        }
        types.insert(content_type);
    }
    assert_eq!(
        types,
        BTreeSet::from([
            "image/png".to_owned(),
            "text/css; charset=utf-8".to_owned(),
            "text/javascript; charset=utf-8".to_owned(),
        ])
    );

    // Under a prefix, the relative asset URLs still resolve.
    let nested: Router = Router::new().nest("/api", openapi::docs_router("/api/openapi.json"));
    let response = nested
        .clone()
        .oneshot(common::get("/api/docs", None))
        .await
        .unwrap();
    let page = body_text(response).await;
    let start = page.find("src=\"").unwrap() + 5;
    let asset = &page[start..start + page[start..].find('"').unwrap()];
    let response = nested
        .oneshot(common::get(&format!("/api/{asset}"), None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // The URL given is escaped into the page.
    let odd: Router = openapi::docs_router("/o\"><script>x</script>");
    let page = body_text(odd.oneshot(common::get("/docs", None)).await.unwrap()).await;
    assert!(!page.contains("<script>x"), "{page}");
}

/// Runs openapi-spec-validator (`python -m openapi_spec_validator`) on each
/// document, as OpenAPI 3.1.
fn validate(python: &str, documents: &[(&str, &Value)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, doc) in documents {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
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
            .unwrap_or_else(|e| panic!("running {python}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        println!("openapi-spec-validator ({name}): {}", text.trim());
        assert!(output.status.success(), "{name}: {text}");
    }
}

/// The validator's python, or `None` after saying the test skips (or failing
/// it under `AXUM_USERS_REQUIRE_SERVICES=1`).
fn validator() -> Option<String> {
    match std::env::var("AXUM_USERS_OPENAPI_VALIDATOR") {
        Ok(python) if !python.trim().is_empty() => Some(python),
        _ => {
            common::services::skip(
                "AXUM_USERS_OPENAPI_VALIDATOR is not set (a python with \
                 openapi-spec-validator; scripts/validate-openapi.sh sets it up)",
            );
            None
        }
    }
}

#[test]
fn the_validator_accepts_the_documents() {
    let Some(python) = validator() else {
        return;
    };
    let full = app();
    let merged = serde_json::to_value(merged_document(&full.openapi)).unwrap();
    let mfa: Vec<(String, Value)> = mfa_factors()
        .into_iter()
        .flat_map(|factors| {
            [
                (format!("mfa-{factors:?}"), mfa_app(factors).doc),
                (
                    format!("mfa-{factors:?}-verified"),
                    build_app(true, Some(1000), factors).doc,
                ),
            ]
        })
        .collect();
    let verified = app_with(true, Some(1000)).doc;
    let bearer = bearer_app().doc;
    let mut documents = vec![
        ("full", &full.doc),
        ("verified", &verified),
        ("bearer", &bearer),
        ("merged", &merged),
    ];
    documents.extend(mfa.iter().map(|(name, doc)| (name.as_str(), doc)));
    validate(&python, &documents);
}

// ---------------------------------------------------------------------------
// An application that documents its own routes with utoipa.

/// The application's own response body.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`.
    status: String,
}

/// The application's own route, documented with utoipa.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "app",
    responses((status = 200, description = "The service is up", body = Health))
)]
async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".to_owned(),
    })
}

/// The application's own document.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "My application", version = "2.0.0"),
    paths(health),
    tags((name = "app", description = "The application's own routes."))
)]
struct ApiDoc;

/// The application's document with ours merged in: one call.
fn merged_document(ours: &utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    ApiDoc::openapi().merge_from(ours.clone())
}

#[tokio::test]
async fn an_application_merges_our_document_into_its_own() {
    let App {
        router,
        openapi: ours,
        doc: ours_json,
    } = app();
    let mut document = <ApiDoc as utoipa::OpenApi>::openapi();
    document.merge(ours.clone());
    let merged = serde_json::to_value(&document).unwrap();
    assert_eq!(
        merged,
        serde_json::to_value(merged_document(&ours)).unwrap(),
        "merge and merge_from agree"
    );

    // The application's info, its path and schema, and all of ours, unchanged.
    assert_eq!(document.info.title, "My application");
    assert_eq!(
        merged["paths"]["/api/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/Health"
    );
    assert!(merged["components"]["schemas"].get("Health").is_some());
    for (path, item) in ours_json["paths"].as_object().unwrap() {
        assert_eq!(&merged["paths"][path], item, "{path}");
    }
    assert_eq!(
        operations(&merged).len(),
        operations(&ours_json).len() + 1,
        "our operations and the application's one"
    );
    for section in ["schemas", "responses", "securitySchemes"] {
        for (name, component) in ours_json["components"][section].as_object().unwrap() {
            assert_eq!(
                &merged["components"][section][name], component,
                "{section}.{name}"
            );
        }
    }
    let tags: Vec<&str> = merged["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["app", "auth", "users"]);

    // Served beside both routers, as one document.
    let app: Router = router
        .route("/api/health", axum::routing::get(health))
        .merge(openapi::json_router("/openapi.json", &document));
    let (status, body) = send(&app, common::get("/openapi.json", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, merged);
    let (status, body) = send(&app, common::get("/api/health", None)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));

    if let Some(python) = validator() {
        validate(&python, &[("merged", &merged)]);
    }
}

// ---------------------------------------------------------------------------
// Multi-factor login (contract section F): the routes, their codes and
// schemas, only when the manager has it.

/// The operations multi-factor login adds to the test app.
fn mfa_operations(factors: Factors) -> BTreeSet<(String, String)> {
    let mut added: Vec<(&str, String)> = vec![
        ("GET", "/users/me/mfa".into()),
        ("POST", "/users/me/mfa/totp".into()),
        ("POST", "/users/me/mfa/totp/confirm".into()),
        ("DELETE", "/users/me/mfa/totp".into()),
        ("POST", "/users/me/mfa/recovery-codes".into()),
        ("DELETE", "/users/{id}/mfa".into()),
    ];
    for prefix in ["/auth/jwt", "/auth/cookie", "/auth/session", "/auth/token"] {
        added.push(("POST", format!("{prefix}/login/mfa")));
    }
    if factors.passkeys() {
        added.extend([
            ("POST", "/users/me/passkeys/options".into()),
            ("POST", "/users/me/passkeys".into()),
            ("GET", "/users/me/passkeys".into()),
            ("DELETE", "/users/me/passkeys/{passkey_id}".into()),
        ]);
        for prefix in ["/auth/jwt", "/auth/cookie", "/auth/session", "/auth/token"] {
            added.push(("POST", format!("{prefix}/passkey/options")));
            added.push(("POST", format!("{prefix}/passkey/login")));
        }
    }
    added.into_iter().map(|(m, p)| (m.to_owned(), p)).collect()
}

/// The statuses an operation documents, in order.
fn statuses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// Every string in `value`, keys included.
fn mentions(value: &Value, text: &str) -> bool {
    value.to_string().contains(text)
}

#[test]
fn without_mfa_no_mfa_route_code_or_schema_is_documented() {
    for App { doc, .. } in [app(), app_with(true, Some(1000)), bearer_app()] {
        for (method, path, _) in operations(&doc) {
            assert!(
                !path.contains("/mfa") && !path.contains("passkey"),
                "{method} {path} is documented without multi-factor login"
            );
        }
        for text in [
            "LOGIN_MFA_REQUIRED",
            "mfa_token",
            "MFA_",
            "PASSKEY_",
            "Mfa",
            "Passkey",
            "TotpEnrolment",
            "RecoveryCodes",
            "CurrentPasswordRequest",
        ] {
            assert!(!mentions(&doc, text), "{text} without multi-factor login");
        }
    }
}

#[test]
fn with_mfa_every_new_route_is_documented() {
    for factors in mfa_factors() {
        let App { doc, .. } = mfa_app(factors);
        let mut expected = base_operations();
        expected.extend(mfa_operations(factors));
        assert_eq!(documented_operations(&doc), expected, "{factors:?}");
        let ids: BTreeSet<String> = operations(&doc)
            .iter()
            .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), expected.len(), "unique operation ids");
        let tags: Vec<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| tag["name"].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["auth", "users"]);
        for (method, path, op) in operations(&doc) {
            if !mfa_operations(factors).contains(&(method.clone(), path.clone())) {
                continue;
            }
            let tag = if path.starts_with("/auth/") {
                "auth"
            } else {
                "users"
            };
            assert_eq!(op["tags"], json!([tag]), "{method} {path}");
        }
    }
}

/// Each new operation's statuses, 403 and 404 responses, and bodies, as the
/// contract gives them: the user routes answer 401, a cross-site 403 where a
/// cookie can authenticate an unsafe request, 429 where a password or a
/// second-step code is checked.
#[test]
fn mfa_operations_document_their_statuses() {
    for factors in mfa_factors() {
        let App { doc, .. } = mfa_app(factors);
        let paths = &doc["paths"];
        let cross_site = Some("#/components/responses/CrossSite".to_owned());
        for (method, path, expected, forbidden) in [
            ("get", "/users/me/mfa", &["200", "401", "503"][..], None),
            (
                "post",
                "/users/me/mfa/totp",
                &["200", "400", "401", "403", "413", "422", "429", "503"],
                cross_site.clone(),
            ),
            (
                "post",
                "/users/me/mfa/totp/confirm",
                &["200", "400", "401", "403", "413", "422", "503"],
                cross_site.clone(),
            ),
            (
                "delete",
                "/users/me/mfa/totp",
                &["204", "400", "401", "403", "413", "422", "429", "503"],
                cross_site.clone(),
            ),
            (
                "post",
                "/users/me/mfa/recovery-codes",
                &["200", "400", "401", "403", "413", "422", "429", "503"],
                cross_site.clone(),
            ),
            (
                "delete",
                "/users/{id}/mfa",
                &["204", "401", "403", "404", "503"],
                Some("#/components/responses/ForbiddenOrCrossSite".to_owned()),
            ),
        ] {
            let op = &paths[path][method];
            assert_eq!(statuses(op), expected, "{method} {path}");
            assert_eq!(
                forbidden_ref(&doc, method, path),
                forbidden,
                "{method} {path}"
            );
        }
        // The codes of each route, as the contract lists them.
        for (method, path, codes) in [
            (
                "post",
                "/users/me/mfa/totp",
                &["INVALID_CURRENT_PASSWORD", "MFA_ALREADY_ENABLED"][..],
            ),
            (
                "post",
                "/users/me/mfa/totp/confirm",
                &["MFA_BAD_CODE", "MFA_NOT_PENDING"],
            ),
            (
                "delete",
                "/users/me/mfa/totp",
                &["INVALID_CURRENT_PASSWORD"],
            ),
            ("post", "/users/me/mfa/recovery-codes", &["MFA_BAD_CODE"]),
        ] {
            let documented = documented_codes(&doc, &paths[path][method]);
            let expected: BTreeSet<String> = codes.iter().map(|c| (*c).to_owned()).collect();
            assert_eq!(documented, expected, "{method} {path}");
        }
        // The superusers' reset: the user id of the path, 404 for an
        // unknown user.
        let reset = &paths["/users/{id}/mfa"]["delete"];
        assert_eq!(reset["parameters"][0]["name"], "id");
        assert_eq!(reset["parameters"][0]["schema"]["type"], "integer");
        assert_eq!(
            reset["responses"]["404"]["$ref"],
            "#/components/responses/NotFound"
        );
        assert!(reset.get("requestBody").is_none());
        // The bodies.
        for (method, path, schema) in [
            ("post", "/users/me/mfa/totp", "CurrentPasswordRequest"),
            ("delete", "/users/me/mfa/totp", "CurrentPasswordRequest"),
            ("post", "/users/me/mfa/totp/confirm", "MfaCodeRequest"),
            ("post", "/users/me/mfa/recovery-codes", "MfaCodeRequest"),
        ] {
            let body = &paths[path][method]["requestBody"];
            assert_eq!(body["required"], true, "{method} {path}");
            assert_eq!(
                body["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/{schema}"),
                "{method} {path}"
            );
        }
        for (method, path, status, schema) in [
            ("get", "/users/me/mfa", "200", "MfaStatus"),
            ("post", "/users/me/mfa/totp", "200", "TotpEnrolment"),
            ("post", "/users/me/mfa/totp/confirm", "200", "RecoveryCodes"),
            (
                "post",
                "/users/me/mfa/recovery-codes",
                "200",
                "RecoveryCodes",
            ),
        ] {
            assert_eq!(
                paths[path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/{schema}"),
                "{method} {path}"
            );
        }

        // The second step of each backend: its login's answer, its codes,
        // 429, and a cross-site 403 for the cookie backends.
        for backend in ["jwt", "cookie", "session", "token"] {
            let path = format!("/auth/{backend}/login/mfa");
            let op = &paths[&path]["post"];
            let login = &paths[format!("/auth/{backend}/login")]["post"];
            let cookie = matches!(backend, "cookie" | "session");
            let success = if cookie { "204" } else { "200" };
            assert_eq!(
                op["responses"][success], login["responses"][success],
                "{path}: the backend's login answer"
            );
            let mut expected = vec![success, "400"];
            if cookie {
                expected.push("403");
            }
            expected.extend(["413", "422", "429", "503"]);
            assert_eq!(statuses(op), expected, "{path}");
            assert_eq!(
                forbidden_ref(&doc, "post", &path),
                cookie.then(|| "#/components/responses/CrossSite".to_owned()),
                "{path}"
            );
            assert_eq!(op["responses"]["429"], login["responses"]["429"], "{path}");
            assert!(op.get("security").is_none(), "{path}: public");
            assert_eq!(
                documented_codes(&doc, op),
                BTreeSet::from([
                    "MFA_BAD_CODE".to_owned(),
                    "MFA_TOKEN_INVALID".to_owned(),
                    "LOGIN_BAD_CREDENTIALS".to_owned(),
                ]),
                "{path}"
            );
            assert_eq!(
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/MfaLoginRequest"
            );
            assert!(
                op["description"]
                    .as_str()
                    .unwrap()
                    .contains("LOGIN_MFA_REQUIRED"),
                "{path}"
            );
        }
        // 429 only where the throttle counts.
        for (method, path) in [
            ("post", "/users/me/mfa/totp/confirm"),
            ("get", "/users/me/mfa"),
            ("delete", "/users/{id}/mfa"),
        ] {
            assert!(
                paths[path][method]["responses"].get("429").is_none(),
                "{method} {path}"
            );
        }
        if factors.passkeys() {
            passkey_operations_document_their_statuses(&doc);
        }
    }
}

fn passkey_operations_document_their_statuses(doc: &Value) {
    let paths = &doc["paths"];
    let cross_site = Some("#/components/responses/CrossSite".to_owned());
    for (method, path, expected, forbidden) in [
        (
            "post",
            "/users/me/passkeys/options",
            &["200", "401", "403", "503"][..],
            cross_site.clone(),
        ),
        (
            "post",
            "/users/me/passkeys",
            &["201", "400", "401", "403", "413", "422", "503"],
            cross_site.clone(),
        ),
        ("get", "/users/me/passkeys", &["200", "401", "503"], None),
        (
            "delete",
            "/users/me/passkeys/{passkey_id}",
            &["204", "401", "403", "404", "503"],
            cross_site.clone(),
        ),
    ] {
        let op = &paths[path][method];
        assert_eq!(statuses(op), expected, "{method} {path}");
        assert_eq!(
            forbidden_ref(doc, method, path),
            forbidden,
            "{method} {path}"
        );
    }
    assert_eq!(
        documented_codes(doc, &paths["/users/me/passkeys"]["post"]),
        BTreeSet::from(["PASSKEY_BAD_CREDENTIAL".to_owned()])
    );
    let delete = &paths["/users/me/passkeys/{passkey_id}"]["delete"];
    assert_eq!(
        delete["responses"]["404"]["$ref"],
        "#/components/responses/PasskeyNotFound"
    );
    let parameter = &delete["parameters"][0];
    assert_eq!(parameter["name"], "passkey_id");
    assert_eq!(parameter["in"], "path");
    assert_eq!(parameter["required"], true);
    assert_eq!(
        parameter["schema"],
        json!({"type": "string", "format": "uuid"})
    );
    let not_found = &doc["components"]["responses"]["PasskeyNotFound"];
    assert_eq!(
        not_found["content"]["application/json"]["schema"]["properties"]["detail"]["enum"],
        json!(["Not Found"])
    );
    for (method, path, status, schema) in [
        (
            "post",
            "/users/me/passkeys/options",
            "200",
            "PasskeyOptions",
        ),
        ("post", "/users/me/passkeys", "201", "Passkey"),
        ("get", "/users/me/passkeys", "200", "PasskeyList"),
        ("post", "/auth/jwt/passkey/options", "200", "PasskeyOptions"),
    ] {
        assert_eq!(
            paths[path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{schema}"),
            "{method} {path}"
        );
    }
    assert_eq!(
        paths["/users/me/passkeys"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/PasskeyRegistrationRequest"
    );
    assert!(
        paths["/users/me/passkeys/options"]["post"]
            .get("requestBody")
            .is_none()
    );
    for backend in ["jwt", "cookie", "session", "token"] {
        let cookie = matches!(backend, "cookie" | "session");
        let success = if cookie { "204" } else { "200" };
        let login = &paths[format!("/auth/{backend}/login")]["post"];
        // The options: public, no body, nothing to refuse.
        let options = &paths[format!("/auth/{backend}/passkey/options")]["post"];
        assert_eq!(statuses(options), ["200", "503"], "{backend}");
        assert!(options.get("security").is_none());
        assert!(options.get("requestBody").is_none());
        // The login: the backend's answer, a cross-site 403 on a cookie
        // backend, no throttle.
        let path = format!("/auth/{backend}/passkey/login");
        let op = &paths[&path]["post"];
        assert!(op.get("security").is_none(), "{path}");
        assert_eq!(
            op["responses"][success], login["responses"][success],
            "{path}"
        );
        let mut expected = vec![success, "400"];
        if cookie {
            expected.push("403");
        }
        expected.extend(["413", "422", "503"]);
        assert_eq!(statuses(op), expected, "{path}");
        assert_eq!(
            documented_codes(doc, op),
            BTreeSet::from([
                "PASSKEY_BAD_CREDENTIAL".to_owned(),
                "LOGIN_BAD_CREDENTIALS".to_owned()
            ]),
            "{path}"
        );
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PasskeyLoginRequest"
        );
    }
}

/// The `detail` alternative of a 400 whose `code` is `LOGIN_MFA_REQUIRED`.
fn mfa_challenge_alternative(doc: &Value, op: &Value) -> Option<Value> {
    let response = resolve(doc, &op["responses"]["400"]);
    let detail = &response["content"]["application/json"]["schema"]["properties"]["detail"];
    detail["anyOf"]
        .as_array()?
        .iter()
        .find(|a| a["properties"]["code"]["enum"] == json!(["LOGIN_MFA_REQUIRED"]))
        .cloned()
}

#[test]
fn password_logins_document_the_mfa_challenge_only_with_mfa() {
    for factors in mfa_factors() {
        let App { doc, .. } = mfa_app(factors);
        for backend in ["jwt", "cookie", "session", "token"] {
            let path = format!("/auth/{backend}/login");
            let op = &doc["paths"][&path]["post"];
            let challenge = mfa_challenge_alternative(&doc, op)
                .unwrap_or_else(|| panic!("{path}: no LOGIN_MFA_REQUIRED detail"));
            assert_eq!(challenge["type"], "object");
            assert_eq!(
                challenge["required"],
                json!(["code", "mfa_token", "methods"])
            );
            assert_eq!(challenge["properties"]["mfa_token"]["type"], "string");
            assert_eq!(challenge["properties"]["methods"]["type"], "array");
            assert_eq!(
                challenge["properties"]["methods"]["items"]["enum"],
                json!(["totp", "recovery_code", "passkey"])
            );
            // The other codes stay plain strings.
            let detail = &op["responses"]["400"]["content"]["application/json"]["schema"]["properties"]
                ["detail"];
            assert_eq!(
                detail["anyOf"][0]["enum"],
                json!(["LOGIN_BAD_CREDENTIALS"]),
                "{path}"
            );
            let example = &op["responses"]["400"]["content"]["application/json"]["examples"]["LOGIN_MFA_REQUIRED"]
                ["value"];
            assert_fits(&doc, &challenge, &example["detail"], "the example");
            assert_eq!(example["detail"]["code"], "LOGIN_MFA_REQUIRED");
            let description = op["description"].as_str().unwrap();
            assert!(
                description.contains(&format!("POST /auth/{backend}/login/mfa")),
                "{path}: {description}"
            );
        }
        // Nowhere else: not on the second steps, registration, refresh.
        for (method, path, op) in operations(&doc) {
            if path.ends_with("/login") {
                continue;
            }
            assert!(
                !documented_codes(&doc, &op).contains("LOGIN_MFA_REQUIRED"),
                "{method} {path}"
            );
        }
    }
    let App { doc, .. } = app();
    for backend in ["jwt", "cookie", "session", "token"] {
        let op = &doc["paths"][format!("/auth/{backend}/login")]["post"];
        assert!(mfa_challenge_alternative(&doc, op).is_none(), "{backend}");
        assert!(!documented_codes(&doc, op).contains("LOGIN_MFA_REQUIRED"));
    }
}

/// The schemas of section F, exactly.
#[test]
fn mfa_schemas_are_pinned() {
    for factors in mfa_factors() {
        let App { doc, .. } = mfa_app(factors);
        let schemas = &doc["components"]["schemas"];
        let mut status = schemas["MfaStatus"].clone();
        for key in ["totp", "recovery_codes_left", "passkeys"] {
            status["properties"][key]
                .as_object_mut()
                .unwrap()
                .remove("description");
        }
        assert_eq!(
            status,
            json!({
                "type": "object",
                "required": ["totp", "recovery_codes_left", "passkeys"],
                "properties": {
                    "totp": {"type": "boolean"},
                    "recovery_codes_left": {"type": "integer", "minimum": 0},
                    "passkeys": {"type": "integer", "minimum": 0},
                },
                "additionalProperties": false,
            })
        );
        let enrolment = &schemas["TotpEnrolment"];
        assert_eq!(enrolment["required"], json!(["secret", "otpauth_url"]));
        assert_eq!(enrolment["additionalProperties"], false);
        assert_eq!(enrolment["properties"]["secret"]["type"], "string");
        assert_eq!(enrolment["properties"]["secret"]["pattern"], "^[A-Z2-7]+$");
        assert_eq!(enrolment["properties"]["otpauth_url"]["type"], "string");
        let codes = &schemas["RecoveryCodes"];
        assert_eq!(codes["required"], json!(["recovery_codes"]));
        assert_eq!(codes["additionalProperties"], false);
        let list = &codes["properties"]["recovery_codes"];
        assert_eq!(list["type"], "array");
        assert_eq!(list["items"]["type"], "string");
        assert_eq!(
            (&list["minItems"], &list["maxItems"]),
            (&json!(10), &json!(10))
        );
        for (name, required) in [
            ("MfaLoginRequest", &["mfa_token", "code"][..]),
            ("MfaCodeRequest", &["code"]),
            ("CurrentPasswordRequest", &["current_password"]),
        ] {
            let schema = &schemas[name];
            assert_eq!(schema["type"], "object", "{name}");
            assert_eq!(schema["required"], json!(required), "{name}");
            let keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), required.len(), "{name}");
            for key in required {
                assert_eq!(schema["properties"][key]["type"], "string", "{name}.{key}");
            }
        }
        if factors.passkeys() {
            let options = &schemas["PasskeyOptions"];
            assert_eq!(options["required"], json!(["challenge_id", "publicKey"]));
            assert_eq!(options["properties"]["challenge_id"]["type"], "string");
            assert_eq!(options["properties"]["publicKey"]["type"], "object");
            assert_eq!(options["additionalProperties"], false);
            let passkey = &schemas["Passkey"];
            assert_eq!(
                passkey["required"],
                json!(["id", "name", "created_at", "last_used_at"])
            );
            assert_eq!(passkey["additionalProperties"], false);
            assert_eq!(passkey["properties"]["id"]["format"], "uuid");
            assert_eq!(passkey["properties"]["name"]["type"], "string");
            assert_eq!(passkey["properties"]["created_at"]["type"], "string");
            assert_eq!(passkey["properties"]["created_at"]["format"], "date-time");
            assert_eq!(
                passkey["properties"]["last_used_at"]["type"],
                json!(["string", "null"])
            );
            assert_eq!(passkey["properties"]["last_used_at"]["format"], "date-time");
            assert_eq!(
                schemas["PasskeyList"]["items"]["$ref"],
                "#/components/schemas/Passkey"
            );
            let registration = &schemas["PasskeyRegistrationRequest"];
            assert_eq!(
                registration["required"],
                json!(["challenge_id", "credential"])
            );
            assert_eq!(registration["properties"]["credential"]["type"], "object");
            assert_eq!(registration["properties"]["name"]["type"], "string");
            assert_eq!(registration["properties"]["name"]["maxLength"], 64);
            let login = &schemas["PasskeyLoginRequest"];
            assert_eq!(login["required"], json!(["challenge_id", "credential"]));
            assert_eq!(login["properties"]["credential"]["type"], "object");
            assert_eq!(login["properties"].as_object().unwrap().len(), 2);
        } else {
            for name in [
                "PasskeyOptions",
                "Passkey",
                "PasskeyList",
                "PasskeyRegistrationRequest",
                "PasskeyLoginRequest",
            ] {
                assert!(schemas.get(name).is_none(), "{name} without passkeys");
            }
            assert!(
                doc["components"]["responses"]
                    .get("PasskeyNotFound")
                    .is_none()
            );
        }
    }
}

/// A request's answer: status, headers, JSON body (`Null` when empty).
async fn call(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, body_json(response).await)
}

/// The current TOTP code of `secret`, `steps` steps of 30 s ahead.
fn totp_code(secret: &axum_users::mfa::totp::TotpSecret, steps: u64) -> String {
    use axum_users::mfa::totp;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp::code_at(secret, now + steps * totp::PERIOD)
}

/// Enrols TOTP for the bearer of `token` (the current step's code): the
/// secret and the recovery codes.
async fn enrol_totp(
    router: &Router,
    doc: &Value,
    token: &str,
) -> (axum_users::mfa::totp::TotpSecret, Vec<String>) {
    let schema_of = |method: &str, path: &str, status: &str| {
        resolve(doc, &doc["paths"][path][method]["responses"][status])["content"]
            ["application/json"]["schema"]
            .clone()
    };
    let (status, enrolment) = send(
        router,
        json_request(
            "POST",
            "/users/me/mfa/totp",
            Some(token),
            &json!({"current_password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    assert_fits(
        doc,
        &schema_of("post", "/users/me/mfa/totp", "200"),
        &enrolment,
        "TOTP enrolment",
    );
    let base32 = enrolment["secret"].as_str().unwrap();
    assert!(
        base32.len() >= 26
            && base32
                .bytes()
                .all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b)),
        "{base32}"
    );
    assert!(
        enrolment["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let secret = axum_users::mfa::totp::TotpSecret::from_base32(base32).unwrap();
    let (status, codes) = send(
        router,
        json_request(
            "POST",
            "/users/me/mfa/totp/confirm",
            Some(token),
            &json!({"code": totp_code(&secret, 0)}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    assert_fits(
        doc,
        &schema_of("post", "/users/me/mfa/totp/confirm", "200"),
        &codes,
        "recovery codes",
    );
    let codes: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Registers `email` and logs in on the bearer backend: the access token.
async fn bearer_user(router: &Router, email: &str) -> String {
    let (status, user) = send(
        router,
        json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": email, "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let (status, login) = send(router, login_request("/auth/jwt/login", email, PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    login["access_token"].as_str().unwrap().to_owned()
}

/// The server's answers on the routes of section F fit their documentation:
/// the status, the code, the schema.
#[tokio::test]
async fn the_mfa_routes_answer_as_documented() {
    for factors in mfa_factors() {
        the_mfa_routes_answer_as_documented_with(factors).await;
    }
}

async fn the_mfa_routes_answer_as_documented_with(factors: Factors) {
    // A passkey's registration takes a few hundred bytes.
    let App { router, doc, .. } = build_app(false, Some(4096), factors);
    let schema_of = |method: &str, path: &str, status: &str| {
        let op = &doc["paths"][path][method];
        assert!(
            op["responses"].get(status).is_some(),
            "{method} {path} does not document {status}"
        );
        resolve(&doc, &op["responses"][status])["content"]["application/json"]["schema"].clone()
    };
    let email = "second.factor@example.com";
    let token = bearer_user(&router, email).await;

    // Nothing on yet.
    let (status, mfa) = send(&router, common::get("/users/me/mfa", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{mfa}");
    assert_fits(
        &doc,
        &schema_of("get", "/users/me/mfa", "200"),
        &mfa,
        "status",
    );
    assert_eq!(
        mfa,
        json!({"totp": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    let (status, answer) = send(&router, common::get("/users/me/mfa", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_fits(
        &doc,
        &schema_of("get", "/users/me/mfa", "401"),
        &answer,
        "401",
    );

    // The enrolment's refusals, then TOTP on.
    let (status, answer) = send(
        &router,
        json_request(
            "POST",
            "/users/me/mfa/totp",
            Some(&token),
            &json!({"current_password": "wrong password"}),
        ),
    )
    .await;
    assert_eq!(answer, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    assert_fits(
        &doc,
        &schema_of("post", "/users/me/mfa/totp", status.as_str()),
        &answer,
        "wrong current password",
    );
    let (status, answer) = send(
        &router,
        json_request(
            "POST",
            "/users/me/mfa/totp/confirm",
            Some(&token),
            &json!({"code": "123456"}),
        ),
    )
    .await;
    assert_eq!(answer, json!({"detail": "MFA_NOT_PENDING"}));
    assert_fits(
        &doc,
        &schema_of("post", "/users/me/mfa/totp/confirm", status.as_str()),
        &answer,
        "nothing pending",
    );
    let (secret, recovery) = enrol_totp(&router, &doc, &token).await;
    let (status, answer) = send(
        &router,
        json_request(
            "POST",
            "/users/me/mfa/totp",
            Some(&token),
            &json!({"current_password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(answer, json!({"detail": "MFA_ALREADY_ENABLED"}));
    assert_fits(
        &doc,
        &schema_of("post", "/users/me/mfa/totp", status.as_str()),
        &answer,
        "already on",
    );
    let (_, mfa) = send(&router, common::get("/users/me/mfa", Some(&token))).await;
    assert_eq!(
        mfa,
        json!({"totp": true, "recovery_codes_left": 10, "passkeys": 0})
    );
    let (status, answer) = send(
        &router,
        json_request(
            "POST",
            "/users/me/mfa/recovery-codes",
            Some(&token),
            &json!({"code": "not a code"}),
        ),
    )
    .await;
    assert_eq!(answer, json!({"detail": "MFA_BAD_CODE"}));
    assert_fits(
        &doc,
        &schema_of("post", "/users/me/mfa/recovery-codes", status.as_str()),
        &answer,
        "bad code",
    );

    // Each backend's password login now answers the documented challenge,
    // with no token nor cookie, and its second step the backend's login
    // answer.
    let challenge_of = |path: &str| {
        mfa_challenge_alternative(&doc, &doc["paths"][path]["post"])
            .unwrap_or_else(|| panic!("{path}: no challenge documented"))
    };
    let mut fresh_recovery = recovery.iter();
    let mut bearer = String::new();
    for backend in ["jwt", "cookie", "session", "token"] {
        let login = format!("/auth/{backend}/login");
        let (status, headers, answer) = call(&router, login_request(&login, email, PASSWORD)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{login}: {answer}");
        assert!(headers.get(header::SET_COOKIE).is_none(), "{login}");
        assert_fits(&doc, &schema_of("post", &login, "400"), &answer, &login);
        let challenge = challenge_of(&login);
        assert_fits(&doc, &challenge, &answer["detail"], &login);
        let allowed = &challenge["properties"]["methods"]["items"]["enum"];
        for method in answer["detail"]["methods"].as_array().unwrap() {
            assert!(allowed.as_array().unwrap().contains(method), "{method}");
        }
        assert_eq!(
            answer["detail"]["methods"],
            json!(["totp", "recovery_code"])
        );
        let mfa_token = answer["detail"]["mfa_token"].as_str().unwrap();

        let second = format!("/auth/{backend}/login/mfa");
        let code = match backend {
            // The next step's code: the current one confirmed the enrolment.
            "jwt" => totp_code(&secret, 1),
            _ => fresh_recovery.next().unwrap().clone(),
        };
        let (status, headers, answer) = call(
            &router,
            json_request(
                "POST",
                &second,
                None,
                &json!({"mfa_token": mfa_token, "code": code}),
            ),
        )
        .await;
        let op = &doc["paths"][&second]["post"];
        let documented = &op["responses"][status.as_str()];
        assert!(
            status.is_success() && documented.is_object(),
            "{second}: {status} {answer}"
        );
        match documented["content"]["application/json"].get("schema") {
            Some(schema) => assert_fits(&doc, schema, &answer, &second),
            None => {
                assert!(documented["headers"].get("Set-Cookie").is_some());
                assert!(headers.get(header::SET_COOKIE).is_some(), "{second}");
            }
        }
        if backend == "jwt" {
            bearer = answer["access_token"].as_str().unwrap().to_owned();
        }
        // The token worked once.
        let (status, answer) = send(
            &router,
            json_request(
                "POST",
                &second,
                None,
                &json!({"mfa_token": mfa_token, "code": code}),
            ),
        )
        .await;
        assert_eq!(answer, json!({"detail": "MFA_TOKEN_INVALID"}), "{second}");
        assert_fits(
            &doc,
            &schema_of("post", &second, status.as_str()),
            &answer,
            &second,
        );
    }

    // A cookie backend's second step from another site: the documented 403.
    let (_, answer) = send(
        &router,
        login_request("/auth/cookie/login", email, PASSWORD),
    )
    .await;
    let mfa_token = answer["detail"]["mfa_token"].as_str().unwrap();
    let mut cross = json_request(
        "POST",
        "/auth/cookie/login/mfa",
        None,
        &json!({"mfa_token": mfa_token, "code": fresh_recovery.next().unwrap()}),
    );
    for (name, value) in [
        ("host", "api.example.com"),
        ("origin", "https://evil.example"),
    ] {
        cross
            .headers_mut()
            .insert(name, axum::http::HeaderValue::from_static(value));
    }
    let (status, answer) = send(&router, cross).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_fits(
        &doc,
        &schema_of("post", "/auth/cookie/login/mfa", "403"),
        &answer,
        "cross-site second step",
    );

    // A user's token on the superusers' reset: 403.
    let (status, answer) = send(
        &router,
        raw_request("DELETE", "/users/1/mfa", Some(&bearer), None, String::new()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_fits(
        &doc,
        &schema_of("delete", "/users/{id}/mfa", "403"),
        &answer,
        "reset by a user",
    );

    // 422 for a body that is not JSON, 413 past the limit, on every body
    // route of section F.
    for (method, path) in mfa_operations(factors) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        if op.get("requestBody").is_none() || path.contains("{id}") {
            continue;
        }
        let auth = op.get("security").map(|_| bearer.as_str());
        for (body, expected) in [
            ("not json".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
            (
                format!("{{\"code\": \"{}\"}}", "x".repeat(5000)),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ] {
            let request = raw_request(&method, &path, auth, Some("text/plain"), body);
            let (status, answer) = send(&router, request).await;
            assert_eq!(status, expected, "{method} {path}: {answer}");
            let schema = schema_of(&method.to_lowercase(), &path, status.as_str());
            assert_fits(&doc, &schema, &answer, &format!("{method} {path} {status}"));
        }
    }

    #[cfg(feature = "passkeys")]
    if factors.passkeys() {
        passkey_routes_answer_as_documented(&router, &doc, email, &bearer).await;
    }

    // A completed login starts the address's throttle count again (the
    // password steps above did not).
    let (_, answer) = send(&router, login_request("/auth/jwt/login", email, PASSWORD)).await;
    let mfa_token = answer["detail"]["mfa_token"].as_str().unwrap();
    let (status, answer) = send(
        &router,
        json_request(
            "POST",
            "/auth/jwt/login/mfa",
            None,
            &json!({"mfa_token": mfa_token, "code": fresh_recovery.next().unwrap()}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // TOTP off: a wrong password, then the right one.
    let disable = |password: &str| {
        json_request(
            "DELETE",
            "/users/me/mfa/totp",
            Some(&bearer),
            &json!({"current_password": password}),
        )
    };
    let (status, answer) = send(&router, disable("wrong password")).await;
    assert_eq!(answer, json!({"detail": "INVALID_CURRENT_PASSWORD"}));
    assert_fits(
        &doc,
        &schema_of("delete", "/users/me/mfa/totp", status.as_str()),
        &answer,
        "TOTP off, wrong password",
    );
    let (status, answer) = send(&router, disable(PASSWORD)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    assert!(doc["paths"]["/users/me/mfa/totp"]["delete"]["responses"]["204"].is_object());

    // Bad codes at the second step count against the login throttle (5
    // attempts per address and minute here, the password step's included):
    // then the documented 429.
    let other = "throttled@example.com";
    let other_token = bearer_user(&router, other).await;
    enrol_totp(&router, &doc, &other_token).await;
    let (_, answer) = send(&router, login_request("/auth/jwt/login", other, PASSWORD)).await;
    let mfa_token = answer["detail"]["mfa_token"].as_str().unwrap().to_owned();
    let mut answers = Vec::new();
    for _ in 0..6 {
        let (status, headers, answer) = call(
            &router,
            json_request(
                "POST",
                "/auth/jwt/login/mfa",
                None,
                &json!({"mfa_token": mfa_token, "code": "not a code"}),
            ),
        )
        .await;
        assert_fits(
            &doc,
            &schema_of("post", "/auth/jwt/login/mfa", status.as_str()),
            &answer,
            "a bad code",
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(headers.get(header::RETRY_AFTER).is_some());
            answers.push(answer);
            break;
        }
        assert_eq!(answer, json!({"detail": "MFA_BAD_CODE"}));
        answers.push(answer);
    }
    assert_eq!(
        answers.last(),
        Some(&json!({"detail": "LOGIN_TOO_MANY_ATTEMPTS"})),
        "{answers:?}"
    );
}

/// The passkey routes' answers fit their documentation: register, list,
/// log in on a bearer and a cookie backend, refusals, remove.
#[cfg(feature = "passkeys")]
async fn passkey_routes_answer_as_documented(
    router: &Router,
    doc: &Value,
    email: &str,
    bearer: &str,
) {
    use crate::common::authenticator::SoftAuthenticator;
    let schema_of = |method: &str, path: &str, status: &str| {
        let op = &doc["paths"][path][method];
        assert!(
            op["responses"].get(status).is_some(),
            "{method} {path} does not document {status}"
        );
        resolve(doc, &op["responses"][status])["content"]["application/json"]["schema"].clone()
    };
    let options = || async {
        let (status, options) = send(
            router,
            raw_request(
                "POST",
                "/users/me/passkeys/options",
                Some(bearer),
                None,
                String::new(),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{options}");
        assert_fits(
            doc,
            &schema_of("post", "/users/me/passkeys/options", "200"),
            &options,
            "registration options",
        );
        assert!(options["publicKey"].is_object());
        options
    };
    let register = |options: &Value, credential: Value, name: Value| {
        json_request(
            "POST",
            "/users/me/passkeys",
            Some(bearer),
            &json!({
                "challenge_id": options["challenge_id"],
                "credential": credential,
                "name": name,
            }),
        )
    };
    let (status, answer) = send(router, register(&options().await, json!({}), json!("x"))).await;
    assert_eq!(answer, json!({"detail": "PASSKEY_BAD_CREDENTIAL"}));
    assert_fits(
        doc,
        &schema_of("post", "/users/me/passkeys", status.as_str()),
        &answer,
        "a bad registration",
    );
    let too_long = json!("n".repeat(65));
    let (status, answer) = send(router, register(&options().await, json!({}), too_long)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_fits(
        doc,
        &schema_of("post", "/users/me/passkeys", "422"),
        &answer,
        "a name past 64 characters",
    );

    let mut device = SoftAuthenticator::new(ORIGIN, RP_ID);
    let options = options().await;
    let credential = device.register(&options["publicKey"]);
    let (status, passkey) = send(router, register(&options, credential, json!("Laptop"))).await;
    assert_eq!(status, StatusCode::CREATED, "{passkey}");
    assert_fits(
        doc,
        &schema_of("post", "/users/me/passkeys", "201"),
        &passkey,
        "a passkey",
    );
    assert_eq!(passkey["last_used_at"], Value::Null);
    assert!(uuid::Uuid::parse_str(passkey["id"].as_str().unwrap()).is_ok());
    let (status, list) = send(router, common::get("/users/me/passkeys", Some(bearer))).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list_schema = resolve(doc, &schema_of("get", "/users/me/passkeys", "200")).clone();
    assert_eq!(list_schema["type"], "array");
    assert_eq!(list.as_array().unwrap().len(), 1);
    for item in list.as_array().unwrap() {
        assert_fits(doc, &list_schema["items"], item, "a listed passkey");
    }
    let (_, mfa) = send(router, common::get("/users/me/mfa", Some(bearer))).await;
    assert_eq!(mfa["passkeys"], 1);

    // The challenge now offers the passkey too.
    let (_, answer) = send(router, login_request("/auth/jwt/login", email, PASSWORD)).await;
    assert_eq!(
        answer["detail"]["methods"],
        json!(["totp", "recovery_code", "passkey"])
    );

    // A passkey login on a bearer and on a cookie backend.
    for backend in ["jwt", "session"] {
        let (status, options) = send(
            router,
            raw_request(
                "POST",
                &format!("/auth/{backend}/passkey/options"),
                None,
                None,
                String::new(),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{options}");
        assert_fits(
            doc,
            &schema_of("post", &format!("/auth/{backend}/passkey/options"), "200"),
            &options,
            "login options",
        );
        let credential = device.authenticate(&options["publicKey"]);
        let path = format!("/auth/{backend}/passkey/login");
        let (status, headers, answer) = call(
            router,
            json_request(
                "POST",
                &path,
                None,
                &json!({"challenge_id": options["challenge_id"], "credential": credential}),
            ),
        )
        .await;
        let documented = &doc["paths"][&path]["post"]["responses"][status.as_str()];
        assert!(
            status.is_success() && documented.is_object(),
            "{path}: {status} {answer}"
        );
        match documented["content"]["application/json"].get("schema") {
            Some(schema) => assert_fits(doc, schema, &answer, &path),
            None => assert!(headers.get(header::SET_COOKIE).is_some(), "{path}"),
        }
        // The same answer again: the challenge is used.
        let (status, answer) = send(
            router,
            json_request(
                "POST",
                &path,
                None,
                &json!({"challenge_id": options["challenge_id"], "credential": credential}),
            ),
        )
        .await;
        assert_eq!(
            answer,
            json!({"detail": "PASSKEY_BAD_CREDENTIAL"}),
            "{path}"
        );
        assert_fits(
            doc,
            &schema_of("post", &path, status.as_str()),
            &answer,
            &path,
        );
    }
    let (_, list) = send(router, common::get("/users/me/passkeys", Some(bearer))).await;
    assert!(list[0]["last_used_at"].is_string(), "{list}");
    assert_fits(doc, &list_schema["items"], &list[0], "a used passkey");

    // Removing: an unknown or malformed id answers the documented 404.
    let path = "/users/me/passkeys/{passkey_id}";
    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let (status, answer) = send(
            router,
            raw_request(
                "DELETE",
                &format!("/users/me/passkeys/{id}"),
                Some(bearer),
                None,
                String::new(),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {answer}");
        assert_fits(doc, &schema_of("delete", path, "404"), &answer, &id);
    }
    let id = passkey["id"].as_str().unwrap();
    let (status, answer) = send(
        router,
        raw_request(
            "DELETE",
            &format!("/users/me/passkeys/{id}"),
            Some(bearer),
            None,
            String::new(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
}
