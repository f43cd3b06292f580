//! The OpenAPI 3.1 document of a [`Routes`](crate::Routes), in utoipa's model,
//! generated from its records: each mount's [`RouteSpec`](crate::routers::spec::RouteSpec)s,
//! prefix, backend, body limit and verification rule, the authenticator's
//! backends, and the user type's schemas. It depends on the route
//! descriptions alone ([`crate::routers::spec`]), not on the module that
//! mounts the routers.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::path::{PathItem, Paths, PathsBuilder};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ComponentsBuilder, Schema};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{OpenApi, OpenApiBuilder, RefOr};

use super::Info;
use super::operation::{http_method, operation};
use super::responses::shared_responses;
use super::schemas::{SchemaMap, fixed_schemas, mfa_schemas, user_schemas};
use super::schemes::Schemes;
use crate::routers::spec::{BackendDoc, Mount};
use crate::user::UserModel;

/// The OpenAPI version of the documents that [`Routes::openapi`](crate::Routes::openapi)
/// generates (utoipa's [`OpenApiVersion`](utoipa::openapi::OpenApiVersion)).
pub const OPENAPI_VERSION: &str = "3.1.0";

/// The document: see [`Routes::openapi`](crate::Routes::openapi).
pub(crate) fn document<U: UserModel>(
    info: &Info,
    mounts: &[Mount],
    authenticator: &[BackendDoc],
    usernames: bool,
) -> OpenApi {
    // The fixed names first, then the user schemas: the application's
    // hoisted `$defs` avoid every name the document itself uses.
    let mut schemas = SchemaMap::new();
    fixed_schemas(&mut schemas);
    if mounts.iter().any(|mount| mount.mfa) {
        mfa_schemas(&mut schemas);
    }
    user_schemas::<U>(&mut schemas, usernames);

    let schemes = Schemes::new(authenticator, mounts);
    let mut paths = PathsBuilder::new();
    let mut tags: Vec<&'static str> = Vec::new();
    for mount in mounts {
        if !tags.contains(&mount.tag) {
            tags.push(mount.tag);
        }
        for route in mount.routes {
            // Every spec's method has a path item field (see the unit test
            // `every_spec_method_has_a_path_item_field`).
            let Some(method) = http_method(&route.method) else {
                continue;
            };
            let path = format!("{}{}", mount.prefix, route.path);
            let operation = operation::<U>(mount, route, &path, &schemes, authenticator);
            paths = paths.path(path, PathItem::new(method, operation));
        }
    }
    let paths = paths.build();

    let schemas = schemas
        .into_iter()
        .filter_map(|(name, schema)| schema.map(|schema| (name, schema)))
        .collect();
    let (schemas, responses) = referenced(&paths, schemas, shared_responses());
    let mut components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .responses_from_iter(responses);
    for (key, scheme) in schemes.components() {
        components = components.security_scheme(key, scheme);
    }

    OpenApiBuilder::new()
        .info(info)
        .tags(Some(tags.iter().map(|tag| {
            TagBuilder::new()
                .name(*tag)
                .description(Some(tag_description(tag)))
                .build()
        })))
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// The schemas and responses that the paths use, directly or through one
/// another (a document without the OAuth routers has no `AuthorizationURL`).
fn referenced(
    paths: &Paths,
    mut all_schemas: BTreeMap<String, RefOr<Schema>>,
    mut all_responses: BTreeMap<String, RefOr<Response>>,
) -> (
    BTreeMap<String, RefOr<Schema>>,
    BTreeMap<String, RefOr<Response>>,
) {
    let (mut kept_schemas, mut kept_responses) = (BTreeMap::new(), BTreeMap::new());
    let mut queue = Vec::new();
    let mut complete = references(paths, &mut queue);
    while let Some(reference) = queue.pop() {
        if let Some(name) = reference.strip_prefix("#/components/schemas/")
            && let Some(schema) = all_schemas.remove(name)
        {
            complete &= references(&schema, &mut queue);
            kept_schemas.insert(name.to_owned(), schema);
        } else if let Some(name) = reference.strip_prefix("#/components/responses/")
            && let Some(response) = all_responses.remove(name)
        {
            complete &= references(&response, &mut queue);
            kept_responses.insert(name.to_owned(), response);
        }
    }
    if !complete {
        // A part could not be read for its references: keep every component
        // rather than leave a reference dangling.
        kept_schemas.append(&mut all_schemas);
        kept_responses.append(&mut all_responses);
    }
    (kept_schemas, kept_responses)
}

/// Adds every `$ref` in `item` to `out`; false when `item` could not be read
/// (it serialises to JSON, so this does not happen to the model's types).
fn references<T: Serialize>(item: &T, out: &mut Vec<String>) -> bool {
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
    match serde_json::to_value(item) {
        Ok(value) => {
            collect(&value, out);
            true
        }
        Err(_) => false,
    }
}

fn tag_description(tag: &str) -> &'static str {
    match tag {
        "auth" => {
            "Log in and out, refresh and verify tokens, register, reset a password, verify \
             an e-mail address."
        }
        "users" => "The current user and their sessions, and user administration for superusers.",
        "oauth" => "Log in with an OAuth provider, or link a provider account to the current user.",
        _ => "Routes of axum-users.",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::TransportKind;
    use crate::routers::spec::{
        AUTH_ROUTES, MountAuth, OAUTH_ASSOCIATE_ROUTES, OAUTH_ROUTES, OAuthDoc, REFRESH_ROUTES,
        RouteSpec, SESSIONS_ROUTES,
    };

    const JSON: &str = super::super::JSON;

    fn backend(name: &str, kind: TransportKind) -> BackendDoc {
        BackendDoc {
            name: name.to_owned(),
            kind,
            refreshes: false,
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
            usernames: false,
            mfa: false,
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
        let doc = document::<crate::User>(&Info::new("oauth", "1"), &mounts, &authenticator, false);
        let doc = serde_json::to_value(&doc).unwrap();
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

    /// With multi-factor login, an OAuth login callback may answer the
    /// same challenge as a password login; linking an account does not log
    /// in, and a mount without it documents none.
    #[test]
    fn oauth_login_callbacks_document_the_mfa_challenge() {
        let bearer = backend(
            "jwt",
            TransportKind::Bearer {
                token_url: "auth/jwt/login".to_owned(),
            },
        );
        let mut login = oauth_mount("/auth/google", OAUTH_ROUTES, Some(&bearer));
        login.mfa = true;
        let mut redirecting = oauth_mount("/auth/google-redirect", OAUTH_ROUTES, Some(&bearer));
        redirecting.mfa = true;
        if let Some(oauth) = redirecting.oauth.as_mut() {
            oauth.success_redirect = true;
        }
        let mut associate = oauth_mount("/auth/associate/google", OAUTH_ROUTES, None);
        associate.routes = OAUTH_ASSOCIATE_ROUTES;
        associate.mfa = true;
        let mounts = [login, redirecting, associate];
        let doc = document::<crate::User>(
            &Info::new("oauth-mfa", "1"),
            &mounts,
            std::slice::from_ref(&bearer),
            false,
        );
        let doc = serde_json::to_value(&doc).unwrap();
        let paths = &doc["paths"];
        for path in ["/auth/google/callback", "/auth/google-redirect/callback"] {
            let callback = &paths[path]["get"];
            let bad_request = &callback["responses"]["400"]["content"][JSON];
            let detail = &bad_request["schema"]["properties"]["detail"];
            let alternatives = detail["anyOf"].as_array().unwrap();
            assert_eq!(alternatives.len(), 3, "{path}: {detail}");
            assert!(
                alternatives[0]["enum"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("OAUTH_INVALID_STATE"))
            );
            assert!(
                !alternatives[0]["enum"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("LOGIN_MFA_REQUIRED")),
                "the challenge is an object"
            );
            let challenge = &alternatives[1];
            assert_eq!(
                challenge["properties"]["code"]["enum"],
                json!(["LOGIN_MFA_REQUIRED"])
            );
            assert_eq!(
                challenge["required"],
                json!(["code", "mfa_token", "methods"])
            );
            assert_eq!(alternatives[2]["type"], "string", "the provider's error");
            assert_eq!(
                bad_request["examples"]["LOGIN_MFA_REQUIRED"]["value"]["detail"]["code"],
                "LOGIN_MFA_REQUIRED"
            );
            let description = callback["description"].as_str().unwrap();
            assert!(
                description.contains("LOGIN_MFA_REQUIRED")
                    && description.contains("`login/mfa` route of `jwt`"),
                "{path}: {description}"
            );
        }
        // Linking a provider account logs nobody in.
        let associate = &paths["/auth/associate/google/callback"]["get"];
        assert!(!associate.to_string().contains("LOGIN_MFA_REQUIRED"));
        assert!(
            associate
                .get("description")
                .is_none_or(|d| !d.as_str().unwrap().contains("login/mfa"))
        );
        // The challenge needs no MFA schema of the components.
        assert!(doc["components"]["schemas"].get("MfaStatus").is_none());
        validate_if_configured("oauth-mfa", &doc);

        // Without multi-factor login, the same mounts document no challenge.
        let mounts = [oauth_mount("/auth/google", OAUTH_ROUTES, Some(&bearer))];
        let doc = document::<crate::User>(
            &Info::new("oauth", "1"),
            &mounts,
            std::slice::from_ref(&bearer),
            false,
        );
        assert!(
            !serde_json::to_string(&doc)
                .unwrap()
                .contains("LOGIN_MFA_REQUIRED")
        );
    }

    fn auth_mount(prefix: &str, routes: &'static [RouteSpec], backend: &BackendDoc) -> Mount {
        Mount {
            prefix: prefix.to_owned(),
            routes,
            tag: "auth",
            backend: Some(backend.clone()),
            auth: MountAuth::OwnBackend,
            requires_verification: false,
            body_limit: 1024,
            oauth: None,
            usernames: false,
            mfa: false,
        }
    }

    /// A refresh-token backend's login, refresh and logout, per transport;
    /// `verify-token`, and the sessions routes.
    #[test]
    fn refresh_backends_and_sessions_are_documented() {
        let mut token = backend(
            "token",
            TransportKind::Bearer {
                token_url: "auth/token/login".to_owned(),
            },
        );
        token.refreshes = true;
        let mut cookie = backend(
            "cookie-refresh",
            TransportKind::Cookie {
                name: "fastapiusersauth".to_owned(),
            },
        );
        cookie.refreshes = true;
        let mut users = auth_mount("/users", SESSIONS_ROUTES, &token);
        users.backend = None;
        users.auth = MountAuth::AllBackends;
        users.tag = "users";
        let mounts = [
            auth_mount("/auth/token", AUTH_ROUTES, &token),
            auth_mount("/auth/token", REFRESH_ROUTES, &token),
            auth_mount("/auth/cookie-refresh", AUTH_ROUTES, &cookie),
            auth_mount("/auth/cookie-refresh", REFRESH_ROUTES, &cookie),
            users,
        ];
        let authenticator = [token.clone(), cookie.clone()];
        let doc =
            document::<crate::User>(&Info::new("refresh", "1"), &mounts, &authenticator, false);
        let doc = serde_json::to_value(&doc).unwrap();
        let paths = &doc["paths"];
        let schemas = &doc["components"]["schemas"];

        for path in ["/auth/token/login", "/auth/token/refresh"] {
            let responses = &paths[path]["post"]["responses"];
            assert_eq!(
                responses["200"]["content"][JSON]["schema"]["$ref"],
                "#/components/schemas/RefreshBearerResponse",
                "{path}"
            );
        }
        assert_eq!(
            schemas["RefreshBearerResponse"]["required"],
            json!(["access_token", "token_type", "refresh_token", "expires_in"])
        );
        assert_eq!(
            schemas["RefreshBearerResponse"]["properties"]["expires_in"]["type"],
            "integer"
        );
        assert!(
            schemas.get("BearerResponse").is_none(),
            "no plain bearer login"
        );

        let refresh = &paths["/auth/token/refresh"]["post"];
        assert!(
            refresh.get("security").is_none(),
            "the refresh token is the credential"
        );
        assert_eq!(
            refresh["requestBody"],
            json!({"content": {JSON: {"schema": {"$ref": "#/components/schemas/RefreshRequest"}}},
                   "required": true})
        );
        assert_eq!(
            refresh["responses"]["401"]["$ref"],
            "#/components/responses/RefreshTokenInvalid"
        );
        let statuses: Vec<&String> = refresh["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "401", "413", "422", "503"]);
        assert_eq!(
            doc["components"]["responses"]["RefreshTokenInvalid"]["content"][JSON]["schema"]["properties"]
                ["detail"]["enum"],
            json!(["REFRESH_TOKEN_INVALID"])
        );
        assert_eq!(
            schemas["RefreshRequest"],
            json!({"type": "object", "required": ["refresh_token"],
                   "properties": {"refresh_token": schemas["RefreshRequest"]["properties"]["refresh_token"]}})
        );
        assert_eq!(
            schemas["RefreshRequest"]["properties"]["refresh_token"]["type"],
            "string"
        );

        // The cookie transport: two cookies, the refresh one scoped to its
        // route; the refresh cookie stands for the body.
        for path in ["/auth/cookie-refresh/login", "/auth/cookie-refresh/refresh"] {
            let responses = &paths[path]["post"]["responses"];
            assert!(responses.get("200").is_none(), "{path}");
            let set_cookie = responses["204"]["headers"]["Set-Cookie"]["description"]
                .as_str()
                .unwrap();
            for said in [
                "Two headers",
                "fastapiusersauth=<access token>",
                "HttpOnly",
                "Path=/auth/cookie-refresh/refresh",
            ] {
                assert!(set_cookie.contains(said), "{path}: {set_cookie}");
            }
        }
        let cookie_refresh = &paths["/auth/cookie-refresh/refresh"]["post"];
        assert_eq!(cookie_refresh["requestBody"]["required"], false);
        let logout = &paths["/auth/cookie-refresh/logout"]["post"]["responses"]["204"];
        assert!(
            logout["headers"]["Set-Cookie"]["description"]
                .as_str()
                .unwrap()
                .contains("Path=/auth/cookie-refresh/refresh"),
            "{logout}"
        );

        // verify-token: public, 200 `{}` or 401.
        let verify = &paths["/auth/token/verify-token"]["post"];
        assert!(verify.get("security").is_none());
        assert_eq!(
            verify["requestBody"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/VerifyTokenRequest"
        );
        assert_eq!(
            verify["responses"]["200"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/EmptyObject"
        );
        assert_eq!(
            schemas["EmptyObject"],
            json!({"type": "object", "additionalProperties": false, "description": "`{}`."})
        );
        let statuses: Vec<&String> = verify["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "401", "413", "422", "503"]);
        assert_eq!(
            verify["responses"]["401"]["content"][JSON]["schema"]["properties"]["detail"]["enum"],
            json!(["Unauthorized"])
        );

        // The sessions routes.
        let list = &paths["/users/me/sessions"]["get"];
        assert_eq!(
            list["responses"]["200"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/SessionList"
        );
        assert_eq!(
            list["security"],
            json!([{"token": []}, {"cookie-refresh": []}])
        );
        assert_eq!(
            schemas["SessionList"]["items"]["$ref"],
            "#/components/schemas/Session"
        );
        let session = &schemas["Session"];
        assert_eq!(
            session["required"],
            json!([
                "id",
                "backend",
                "created_at",
                "last_used_at",
                "expires_at",
                "user_agent",
                "ip",
                "current"
            ])
        );
        for time in ["created_at", "last_used_at", "expires_at"] {
            assert_eq!(session["properties"][time]["type"], "string", "{time}");
            assert_eq!(session["properties"][time]["format"], "date-time", "{time}");
        }
        for nullable in ["user_agent", "ip"] {
            assert_eq!(
                session["properties"][nullable]["type"],
                json!(["string", "null"]),
                "{nullable}"
            );
        }
        assert_eq!(session["properties"]["current"]["type"], "boolean");
        assert_eq!(session["additionalProperties"], false);

        let one = &paths["/users/me/sessions/{session_id}"]["delete"];
        assert_eq!(one["parameters"][0]["name"], "session_id");
        assert_eq!(one["parameters"][0]["in"], "path");
        assert_eq!(one["parameters"][0]["schema"], json!({"type": "string"}));
        // The authenticator has a cookie backend: a DELETE it authenticates
        // may be a cross-site request (403), a GET never is.
        let statuses: Vec<&String> = one["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["204", "401", "403", "404", "503"]);
        assert_eq!(
            one["responses"]["404"]["$ref"],
            "#/components/responses/SessionNotFound"
        );
        assert_eq!(
            one["responses"]["403"]["$ref"],
            "#/components/responses/CrossSite"
        );
        let mine = &paths["/users/me/sessions"]["delete"]["responses"];
        let statuses: Vec<&String> = mine.as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["204", "401", "403", "503"]);
        let listed = &paths["/users/me/sessions"]["get"]["responses"];
        assert!(listed.get("403").is_none(), "{listed}");
        for (method, forbidden) in [("get", "Forbidden"), ("delete", "ForbiddenOrCrossSite")] {
            let op = &paths["/users/{id}/sessions"][method];
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert_eq!(statuses[1..], ["401", "403", "404", "503"], "{method}");
            assert_eq!(
                op["responses"]["404"]["$ref"],
                "#/components/responses/NotFound"
            );
            assert_eq!(
                op["responses"]["403"]["$ref"],
                format!("#/components/responses/{forbidden}"),
                "{method}"
            );
            assert_eq!(op["parameters"][0]["name"], "id");
        }
        // The cookie backend's login, refresh and logout too; the bearer
        // backend's, none.
        for path in [
            "/auth/cookie-refresh/login",
            "/auth/cookie-refresh/refresh",
            "/auth/cookie-refresh/logout",
        ] {
            assert_eq!(
                paths[path]["post"]["responses"]["403"]["$ref"], "#/components/responses/CrossSite",
                "{path}"
            );
        }
        for path in [
            "/auth/token/login",
            "/auth/token/refresh",
            "/auth/token/logout",
        ] {
            assert!(
                paths[path]["post"]["responses"].get("403").is_none(),
                "{path}"
            );
        }
        let responses = &doc["components"]["responses"];
        assert_eq!(
            responses["CrossSite"]["content"][JSON]["schema"]["properties"]["detail"]["enum"],
            json!(["CSRF_ORIGIN_MISMATCH"])
        );
        assert_eq!(
            responses["ForbiddenOrCrossSite"]["content"][JSON]["schema"]["properties"]["detail"]["enum"],
            json!(["Forbidden", "CSRF_ORIGIN_MISMATCH"])
        );
        let examples = &responses["ForbiddenOrCrossSite"]["content"][JSON]["examples"];
        assert_eq!(
            examples["Forbidden"]["value"],
            json!({"detail": "Forbidden"})
        );
        assert_eq!(
            examples["CSRF_ORIGIN_MISMATCH"]["value"],
            json!({"detail": "CSRF_ORIGIN_MISMATCH"})
        );
        validate_if_configured("refresh", &doc);
    }

    /// The document says the version the crate announces, and keeps only the
    /// components its paths reach.
    #[test]
    fn the_version_and_only_reachable_components() {
        let doc = document::<crate::User>(&Info::new("empty", "0"), &[], &[], false);
        let doc = serde_json::to_value(&doc).unwrap();
        assert_eq!(doc["openapi"], OPENAPI_VERSION);
        assert_eq!(doc["info"], json!({"title": "empty", "version": "0"}));
        assert_eq!(doc["paths"], json!({}));
        assert!(doc["components"].get("schemas").is_none(), "{doc}");
        assert!(doc["components"].get("responses").is_none(), "{doc}");
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
}
