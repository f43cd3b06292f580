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
use axum_users::openapi::{self, Info};
use axum_users::routers::spec::{
    ACCOUNT_ROUTES, AUTH_ROUTES, EMAIL_CHANGE_ROUTES, REFRESH_ROUTES, REGISTER_ROUTES,
    RESET_ROUTES, RouteSpec, SESSIONS_ROUTES, USERS_ROUTES, VERIFY_ROUTES,
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

fn app_with(requires_verification: bool, body_limit: Option<usize>) -> App {
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
    let manager = UserManager::builder(AppStore::new())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .build();
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
    let api: Routes<AppStore, NoHooks> = users
        .routes()
        .auth("/auth/jwt", &bearer)
        .auth("/auth/cookie", &cookie)
        .auth("/auth/session", &session)
        .auth("/auth/token", &token)
        .register("/auth")
        .reset_password("/auth")
        .verify("/auth")
        .users("/users");
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
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    // The contracts' routes, with a third backend.
    let expected: BTreeSet<(String, String)> = [
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
    .collect();
    assert_eq!(documented, expected);
    // Operation ids are unique.
    let ids: BTreeSet<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), expected.len());
}

#[tokio::test]
async fn the_router_answers_exactly_the_documented_operations() {
    let App { router, doc, .. } = app();
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
                    "{method} {path}: documented, but {status} {body}"
                );
                let op = &doc["paths"][path][method.to_lowercase()];
                assert!(
                    op["responses"].get(status.as_str()).is_some(),
                    "{method} {path} answered {status}, which it does not document"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: not documented"
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
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
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
    let App { doc, .. } = app();
    let all = json!([{"jwt": []}, {"cookie": []}, {"session": []}, {"token": []}]);
    for (method, path, op) in operations(&doc) {
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
    let App { doc, .. } = app_with(false, Some(4096));
    for (method, path, op) in operations(&doc) {
        let spec = spec_of(&method, &path);
        let responses = &op["responses"];
        assert_eq!(
            op.get("requestBody").is_some(),
            spec.body.has_body(),
            "{method} {path}"
        );
        if spec.body.has_body() {
            let r422 = resolve(&doc, &responses["422"]);
            assert_eq!(
                resolve(&doc, &r422["content"]["application/json"]["schema"])["properties"]["detail"]
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
    for requires_verification in [false, true] {
        let App { doc, .. } = app_with(requires_verification, None);
        for (method, path, op) in operations(&doc) {
            let spec = spec_of(&method, &path);
            let expected: BTreeSet<String> = spec
                .errors
                .iter()
                .filter(|c| requires_verification || **c != ErrorCode::LoginUserNotVerified)
                .map(|c| c.as_str().to_owned())
                .collect();
            assert_eq!(
                documented_codes(&doc, &op),
                expected,
                "{method} {path} (requires_verification {requires_verification})"
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
                "{method} {path} (requires_verification {requires_verification})"
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
/// backend's token only), or a login or refresh of a cookie backend.
fn cross_site_refusable(method: &str, path: &str, spec: &RouteSpec) -> bool {
    use axum_users::routers::spec::{Access, Body};
    if method == "GET" {
        return false;
    }
    let cookie_mount = path.starts_with("/auth/cookie/") || path.starts_with("/auth/session/");
    if matches!(spec.body, Body::LoginForm | Body::RefreshToken) {
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
    validate(
        &python,
        &[
            ("full", &full.doc),
            ("verified", &app_with(true, Some(1000)).doc),
            ("bearer", &bearer_app().doc),
            ("merged", &merged),
        ],
    );
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
