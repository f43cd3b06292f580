//! The user extractors (`CurrentUser`, `VerifiedUser`, `Superuser` and their
//! `Option<…>` forms) on the application's own handlers: every variant against
//! every kind of caller, as FastAPI Users' own `test_fastapi_users.py` does.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get as get_route;
use axum_users::auth::{JwtStrategy, Strategy};
use axum_users::store::MemoryStore;
use axum_users::{CurrentUser, Superuser, User, VerifiedUser};
use http_body_util::BodyExt;

use crate::common::*;

async fn current(CurrentUser(user): CurrentUser<User>) -> String {
    user.data.email
}

async fn verified(VerifiedUser(user): VerifiedUser<User>) -> String {
    user.data.email
}

async fn superuser(Superuser(user): Superuser<User>) -> String {
    user.data.email
}

async fn opt_current(user: Option<CurrentUser<User>>) -> String {
    user.map_or_else(|| "none".to_owned(), |u| u.0.data.email)
}

async fn opt_verified(user: Option<VerifiedUser<User>>) -> String {
    user.map_or_else(|| "none".to_owned(), |u| u.0.data.email)
}

async fn opt_superuser(user: Option<Superuser<User>>) -> String {
    user.map_or_else(|| "none".to_owned(), |u| u.0.data.email)
}

/// One handler per extractor variant, without any layer.
fn variant_routes() -> Router {
    Router::new()
        .route("/v/current", get_route(current))
        .route("/v/verified", get_route(verified))
        .route("/v/superuser", get_route(superuser))
        .route("/v/opt-current", get_route(opt_current))
        .route("/v/opt-verified", get_route(opt_verified))
        .route("/v/opt-superuser", get_route(opt_superuser))
}

const VARIANTS: [&str; 6] = [
    "/v/current",
    "/v/verified",
    "/v/superuser",
    "/v/opt-current",
    "/v/opt-verified",
    "/v/opt-superuser",
];

/// The example-like app plus the variant handlers behind `users.layer()`.
fn extractor_app() -> TestApp<MemoryStore<User>> {
    let base = app();
    let router = base
        .router
        .clone()
        .merge(variant_routes().layer(base.users.layer()));
    TestApp {
        router,
        users: base.users,
    }
}

/// Status and body text of a response.
async fn text_call(
    app: &TestApp<MemoryStore<User>>,
    request: Request<Body>,
) -> (StatusCode, String) {
    let response = app.send(request).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn with_header(uri: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(name, value)
        .body(Body::empty())
        .unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200 with the caller's e-mail.
    Email,
    /// 200 with "none".
    NoneBody,
    /// This status (401 or 403).
    Status(u16),
}

use Expect::{Email, NoneBody, Status};

const U401: Expect = Status(401);
const F403: Expect = Status(403);

/// A caller of the matrix: a name, the e-mail of its user (if any), and its token.
struct Caller {
    name: &'static str,
    email: Option<&'static str>,
    token: Option<String>,
    /// Expected answer per variant, in the order of [`VARIANTS`].
    expect: [Expect; 6],
}

#[tokio::test]
async fn extractor_matrix_answers_per_variant_and_caller() {
    let app = extractor_app();

    let inactive = app
        .create_user("inactive@example.com", false, true, false)
        .await;
    let inactive_super = app
        .create_user("inactive-super@example.com", false, true, true)
        .await;
    let unverified = app
        .create_user("unverified@example.com", true, false, false)
        .await;
    let verified = app
        .create_user("verified@example.com", true, true, false)
        .await;
    let superuser = app.create_user("super@example.com", true, true, true).await;
    let unverified_super = app
        .create_user("unverified-super@example.com", true, false, true)
        .await;

    let other_secret = JwtStrategy::hs256("another-secret-entirely-0123456789abcdef").unwrap();
    let foreign_token = Strategy::<User>::write_token(
        &other_secret,
        &verified,
        &axum_users::session::LoginContext::internal("test"),
    )
    .await
    .unwrap()
    .access_token;

    let anonymous = [U401, U401, U401, NoneBody, NoneBody, NoneBody];
    let callers = vec![
        Caller {
            name: "no token",
            email: None,
            token: None,
            expect: anonymous,
        },
        Caller {
            name: "garbage token",
            email: None,
            token: Some("garbage".to_owned()),
            expect: anonymous,
        },
        Caller {
            name: "token signed with another secret",
            email: None,
            token: Some(foreign_token),
            expect: anonymous,
        },
        Caller {
            name: "inactive user",
            email: None,
            token: Some(app.token_for(&inactive).await),
            expect: anonymous,
        },
        Caller {
            name: "inactive superuser",
            email: None,
            token: Some(app.token_for(&inactive_super).await),
            expect: anonymous,
        },
        Caller {
            name: "active unverified user",
            email: Some("unverified@example.com"),
            token: Some(app.token_for(&unverified).await),
            expect: [Email, F403, F403, Email, NoneBody, NoneBody],
        },
        Caller {
            name: "active verified user",
            email: Some("verified@example.com"),
            token: Some(app.token_for(&verified).await),
            expect: [Email, Email, F403, Email, Email, NoneBody],
        },
        Caller {
            name: "active verified superuser",
            email: Some("super@example.com"),
            token: Some(app.token_for(&superuser).await),
            expect: [Email, Email, Email, Email, Email, Email],
        },
        Caller {
            name: "active unverified superuser",
            email: Some("unverified-super@example.com"),
            token: Some(app.token_for(&unverified_super).await),
            expect: [Email, F403, Email, Email, NoneBody, Email],
        },
    ];

    let mut failures = Vec::new();
    for caller in &callers {
        for (variant, expect) in VARIANTS.iter().zip(caller.expect) {
            let (status, body) = text_call(&app, get(variant, caller.token.as_deref())).await;
            let ok = match expect {
                Email => status == StatusCode::OK && Some(body.as_str()) == caller.email,
                NoneBody => status == StatusCode::OK && body == "none",
                Status(code) => status.as_u16() == code,
            };
            if !ok {
                failures.push(format!(
                    "{variant} for {}: expected {expect:?} (email {:?}), got {status} {body}",
                    caller.name, caller.email
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failing cells:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn extractor_without_the_layer_answers_500_not_a_panic() {
    let base = app();
    let user = base.create_user("a@example.com", true, true, true).await;
    let token = base.token_for(&user).await;
    // The same handlers, but no `users.layer()`.
    let bare = TestApp {
        router: variant_routes(),
        users: base.users.clone(),
    };
    for variant in VARIANTS {
        for token in [None, Some(token.as_str())] {
            let (status, body) = text_call(&bare, get(variant, token)).await;
            assert_eq!(
                status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{variant} without the layer (token: {}): {body}",
                token.is_some()
            );
            assert!(
                !body.contains("a@example.com"),
                "{variant} without the layer leaked the user: {body}"
            );
        }
    }
}

#[tokio::test]
async fn auth_cookie_token_works_for_every_extractor() {
    let app = extractor_app();
    let user = app.create_user("admin@example.com", true, true, true).await;
    let token = app.token_for(&user).await;
    let cookie = format!("fastapiusersauth={token}");
    for variant in VARIANTS {
        let (status, body) = text_call(&app, with_header(variant, header::COOKIE, &cookie)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{variant} with the auth cookie: {body}"
        );
        assert_eq!(body, "admin@example.com", "{variant} with the auth cookie");
    }
}

#[tokio::test]
async fn auth_cookie_among_other_cookies_is_found() {
    let app = extractor_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.token_for(&user).await;
    let cookie = format!("theme=dark; fastapiusersauth={token}; lang=en");
    let (status, body) = text_call(&app, with_header("/v/current", header::COOKIE, &cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "a@example.com");
}

#[tokio::test]
async fn cookie_token_of_a_non_superuser_is_refused_by_superuser_extractor() {
    let app = extractor_app();
    let user = app.create_user("a@example.com", true, true, false).await;
    let cookie = format!("fastapiusersauth={}", app.token_for(&user).await);
    let (status, body) =
        text_call(&app, with_header("/v/superuser", header::COOKIE, &cookie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = text_call(
        &app,
        with_header("/v/opt-superuser", header::COOKIE, &cookie),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "none"));
}

#[tokio::test]
async fn cookie_with_another_name_is_not_a_credential() {
    let app = extractor_app();
    let user = app.create_user("a@example.com", true, true, false).await;
    let cookie = format!("otherauth={}", app.token_for(&user).await);
    let (status, body) = text_call(&app, with_header("/v/current", header::COOKIE, &cookie)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn cookie_login_token_sent_as_bearer_works() {
    let app = extractor_app();
    app.create_user("a@example.com", true, false, false).await;
    let response = app
        .send(login_request(
            "/auth/cookie/login",
            "a@example.com",
            PASSWORD,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned();
    let token = set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("fastapiusersauth="))
        .expect("the auth cookie")
        .to_owned();
    assert!(!token.is_empty());

    let (status, body) = text_call(&app, get("/v/current", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "cookie token as bearer: {body}");
    assert_eq!(body, "a@example.com");
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "cookie token as bearer on /users/me: {body}"
    );
    assert_eq!(body["email"], "a@example.com");
}

#[tokio::test]
async fn lowercase_bearer_scheme_works() {
    let app = extractor_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.token_for(&user).await;
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let value = format!("{scheme} {token}");
        let (status, body) = text_call(
            &app,
            with_header("/v/current", header::AUTHORIZATION, &value),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "scheme {scheme:?}: {body}");
        assert_eq!(body, "a@example.com", "scheme {scheme:?}");
    }
}

#[tokio::test]
async fn basic_authorization_is_unauthorized() {
    let app = extractor_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.token_for(&user).await;
    // Even with a valid token in place of the Basic credentials.
    for value in [
        "Basic YUBleGFtcGxlLmNvbTpjb3JyZWN0LWhvcnNlLWJhdHRlcnk=".to_owned(),
        format!("Basic {token}"),
    ] {
        let (status, body) = text_call(
            &app,
            with_header("/v/current", header::AUTHORIZATION, &value),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}: {body}");
        let (status, body) = text_call(
            &app,
            with_header("/v/opt-current", header::AUTHORIZATION, &value),
        )
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "none"), "{value}");
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_unauthorized() {
    let app = extractor_app();
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.token_for(&user).await;
    for value in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        token.clone(),
        format!("Token {token}"),
        format!("Bearer{token}"),
    ] {
        let (status, body) = text_call(
            &app,
            with_header("/v/current", header::AUTHORIZATION, &value),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{value:?}: {body}");
    }
}

#[tokio::test]
async fn unauthorized_extractor_answer_has_the_contract_body() {
    let app = extractor_app();
    let (status, body) = app.call(get("/v/current", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, serde_json::json!({"detail": "Unauthorized"}));
    let user = app.create_user("a@example.com", true, false, false).await;
    let token = app.token_for(&user).await;
    let (status, body) = app.call(get("/v/verified", Some(&token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, serde_json::json!({"detail": "Forbidden"}));
}

#[tokio::test]
async fn deactivation_takes_effect_at_once_for_extractors() {
    let app = extractor_app();
    let user = app.create_user("a@example.com", true, true, false).await;
    let token = app.token_for(&user).await;
    let (status, _) = text_call(&app, get("/v/current", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);

    let deactivate = axum_users::store::UserChanges {
        is_active: Some(false),
        ..Default::default()
    };
    axum_users::store::UserStore::update(app.users.manager().store(), &user.id, deactivate)
        .await
        .unwrap();
    let (status, body) = text_call(&app, get("/v/current", Some(&token))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "after deactivation: {body}"
    );
    let (status, body) = text_call(&app, get("/v/opt-current", Some(&token))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "none"));
}

#[tokio::test]
async fn the_last_of_two_auth_cookies_wins_as_in_starlette() {
    let app = extractor_app();
    let user = app.create_user("two@example.com", true, true, false).await;
    let token = app.token_for(&user).await;
    let request = axum::http::Request::builder()
        .uri("/v/current")
        .header(
            "cookie",
            format!("fastapiusersauth=garbage; fastapiusersauth={token}"),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, body) = text_call(&app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
