//! `POST /auth/register` as the HTTP contract §2–§4, §6 and §10 describe it.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
use axum_users::store::{MemoryStore, SqliteStore, UserStore};
use axum_users::{AxumUsers, NoHooks, UpdatedBy, User, UserFields, UserManager};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common;
use crate::common::*;

fn register(body: &Value) -> Request<Body> {
    json_request("POST", "/auth/register", None, body)
}

fn creds(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD})
}

/// The `detail` code of a 400.
fn detail(body: &Value) -> &Value {
    &body["detail"]
}

fn assert_invalid_password(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = detail(body).as_object().expect("detail is an object");
    assert_eq!(detail.len(), 2, "{body}");
    assert_eq!(detail["code"], "REGISTER_INVALID_PASSWORD", "{body}");
    let reason = detail["reason"].as_str().expect("reason is a string");
    assert!(!reason.is_empty(), "{body}");
}

#[tokio::test]
async fn register_answers_201_with_exactly_the_user_object_as_json() {
    let app = app();
    let response = app.send(register(&creds("new@example.com"))).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body = body_json(response).await;
    assert_user_object(&body);
    let id = body["id"].as_str().expect("id is a string");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} is a UUID");
    assert_eq!(body["email"], "new@example.com");
    assert_eq!(body["is_active"], true);
    assert_eq!(body["is_superuser"], false);
    assert_eq!(body["is_verified"], false);
    // The account exists and can log in.
    app.login("new@example.com").await;
}

#[tokio::test]
async fn register_ignores_privileged_fields_and_id_in_the_payload() {
    let app = app();
    let chosen_id = "5f0b2a7e-0000-4000-8000-000000000001";
    let (status, body) = app
        .call(register(&json!({
            "email": "sneaky@example.com",
            "password": PASSWORD,
            "is_active": false,
            "is_superuser": true,
            "is_verified": true,
            "id": chosen_id,
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_user_object(&body);
    assert_eq!(body["is_active"], true);
    assert_eq!(body["is_superuser"], false);
    assert_eq!(body["is_verified"], false);
    assert_ne!(body["id"], chosen_id);
    // The stored user agrees with the response.
    let stored = app
        .users
        .manager()
        .get_by_email("sneaky@example.com")
        .await
        .unwrap();
    assert!(stored.data.is_active && !stored.data.is_superuser && !stored.data.is_verified);
    assert_eq!(stored.id.to_string(), body["id"].as_str().unwrap());
}

#[tokio::test]
async fn register_ignores_unknown_keys() {
    let (status, body) = app()
        .call(register(&json!({
            "email": "extra@example.com",
            "password": PASSWORD,
            "favourite_colour": "blue",
            "nested": {"a": [1, 2, 3]},
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_user_object(&body);
}

#[tokio::test]
async fn register_of_a_taken_address_is_rejected_in_any_ascii_case() {
    let app = app();
    let (status, _) = app.call(register(&creds("dup@example.com"))).await;
    assert_eq!(status, StatusCode::CREATED);
    for again in ["dup@example.com", "DUP@example.com", "Dup@EXAMPLE.COM"] {
        let (status, body) = app.call(register(&creds(again))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{again}: {body}");
        assert_eq!(
            body,
            json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}),
            "{again}"
        );
    }
}

#[tokio::test]
async fn register_rejects_a_password_of_seven_characters() {
    let (status, body) = app()
        .call(register(
            &json!({"email": "short@example.com", "password": "1234567"}),
        ))
        .await;
    assert_invalid_password(status, &body);
}

#[tokio::test]
async fn register_counts_password_length_in_code_points_not_bytes() {
    let app = app();
    // 7 × `ä` is 14 bytes but only 7 characters: too short.
    let (status, body) = app
        .call(register(
            &json!({"email": "umlaut7@example.com", "password": "ä".repeat(7)}),
        ))
        .await;
    assert_invalid_password(status, &body);
    assert!(
        app.users
            .manager()
            .store()
            .get_by_email("umlaut7@example.com")
            .await
            .unwrap()
            .is_none(),
        "a rejected registration stores nothing"
    );
    // 8 × `ä` is enough, and logs in with exactly that password.
    let (status, body) = app
        .call(register(
            &json!({"email": "umlaut8@example.com", "password": "ä".repeat(8)}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .call(login_request(
            "/auth/jwt/login",
            "umlaut8@example.com",
            &"ä".repeat(8),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn register_rejects_a_password_containing_the_email_in_another_case() {
    let (status, body) = app()
        .call(register(&json!({
            "email": "pwuser@example.com",
            "password": "xxPWUSER@EXAMPLE.COMxx",
        })))
        .await;
    assert_invalid_password(status, &body);
}

#[tokio::test]
async fn register_rejects_a_very_common_password() {
    let app = app();
    for common in ["12345678", "password"] {
        let (status, body) = app
            .call(register(
                &json!({"email": "common@example.com", "password": common}),
            ))
            .await;
        assert_invalid_password(status, &body);
    }
}

#[tokio::test]
async fn register_rejects_a_100_kb_password_and_keeps_serving() {
    let app = app();
    let (status, body) = app
        .call(register(
            &json!({"email": "longpw@example.com", "password": "p".repeat(100_000)}),
        ))
        .await;
    assert_invalid_password(status, &body);
    let (status, _) = app.call(register(&creds("longpw@example.com"))).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn register_rejects_every_must_reject_address_with_422() {
    let app = app();
    for bad in [
        "not-an-email",
        "missing-at.example.com",
        "@example.com",
        "user@",
        "two@@example.com",
        "",
    ] {
        let (status, body) = app
            .call(register(&json!({"email": bad, "password": PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {body}");
    }
}

#[tokio::test]
async fn register_rejects_single_label_and_special_use_domains_with_422() {
    let app = app();
    for bad in [
        "user@localhost",
        "user@x.test",
        "user@host.local",
        "user@host.invalid",
        "user@in-addr.arpa",
        "user@hidden.onion",
    ] {
        let (status, body) = app
            .call(register(&json!({"email": bad, "password": PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {body}");
    }
}

#[tokio::test]
async fn register_accepts_international_addresses_and_returns_them_unchanged() {
    let app = app();
    for good in [
        "jürgen-1@example.com",
        "user@bücher.example.com",
        "δοκιμή-1@παράδειγμα.δοκιμή",
        "o'brien+tag@example.com",
    ] {
        let (status, body) = app.call(register(&creds(good))).await;
        assert_eq!(status, StatusCode::CREATED, "{good}: {body}");
        assert_eq!(
            body["email"], good,
            "returned unchanged (IDN stays Unicode)"
        );
        // Login with the address and /users/me give it back unchanged too.
        let token = app.login(good).await;
        let (status, me) = app.call(get("/users/me", Some(&token))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["email"], good);
    }
}

#[tokio::test]
async fn register_lowercases_the_domain_and_keeps_the_local_part() {
    let (status, body) = app().call(register(&creds("Mixed.Case@EXAMPLE.Com"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "Mixed.Case@example.com");
}

#[tokio::test]
async fn register_strips_surrounding_whitespace_from_the_address() {
    let (status, body) = app()
        .call(register(&creds(" \t spaced@example.com \n")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "spaced@example.com");
}

#[tokio::test]
async fn register_accepts_name_angle_address_as_the_address() {
    let (status, body) = app()
        .call(register(&creds("King Arthur <named@example.com>")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "named@example.com");
}

#[tokio::test]
async fn register_rejects_bodies_that_are_not_a_json_object_with_422() {
    let app = app();
    let valid = creds("body@example.com").to_string();
    let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        (
            "not JSON",
            Some("application/json"),
            b"email=a@example.com".to_vec(),
        ),
        (
            "truncated JSON",
            Some("application/json"),
            valid.as_bytes()[..valid.len() - 5].to_vec(),
        ),
        (
            "JSON array",
            Some("application/json"),
            format!("[{valid}]").into_bytes(),
        ),
        (
            "positional JSON array",
            Some("application/json"),
            format!("[\"body@example.com\", \"{PASSWORD}\"]").into_bytes(),
        ),
        ("empty body", Some("application/json"), Vec::new()),
        ("JSON null", Some("application/json"), b"null".to_vec()),
        ("missing content type", None, valid.clone().into_bytes()),
        ("text/plain", Some("text/plain"), valid.clone().into_bytes()),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
            valid.clone().into_bytes(),
        ),
        (
            "non-UTF-8 bytes",
            Some("application/json"),
            b"{\"email\": \"\xff\xfe@example.com\", \"password\": \"correct-horse-battery\"}"
                .to_vec(),
        ),
    ];
    for (what, content_type, bytes) in cases {
        let (status, body) = app
            .call(raw_request(
                "POST",
                "/auth/register",
                None,
                content_type,
                bytes,
            ))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    }
    assert!(
        app.users
            .manager()
            .store()
            .get_by_email("body@example.com")
            .await
            .unwrap()
            .is_none(),
        "no rejected body created the account"
    );
}

#[tokio::test]
async fn register_accepts_json_content_type_with_charset_parameter() {
    let body = creds("charset@example.com").to_string();
    let (status, body) = app()
        .call(raw_request(
            "POST",
            "/auth/register",
            None,
            Some("application/json; charset=utf-8"),
            body,
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "charset@example.com");
}

#[tokio::test]
async fn register_rejects_wrong_json_types_nulls_and_missing_fields_with_422() {
    let app = app();
    for payload in [
        json!({"email": 123, "password": PASSWORD}),
        json!({"email": "types@example.com", "password": 12345678}),
        json!({"email": ["types@example.com"], "password": PASSWORD}),
        json!({"email": "types@example.com", "password": true}),
        json!({"email": null, "password": PASSWORD}),
        json!({"email": "types@example.com", "password": null}),
        json!({"password": PASSWORD}),
        json!({"email": "types@example.com"}),
        json!({}),
    ] {
        let (status, body) = app.call(register(&payload)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{payload}: {body}"
        );
    }
}

#[tokio::test]
async fn register_answers_413_to_an_8_mib_body_and_keeps_serving() {
    let app = app();
    let padding = "x".repeat(8 * 1024 * 1024);
    let huge = json!({"email": "huge@example.com", "password": PASSWORD, "pad": padding});
    let response = app.send(register(&huge)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        app.users
            .manager()
            .store()
            .get_by_email("huge@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // The same router still serves.
    let (status, body) = app.call(register(&creds("after@example.com"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn register_rejects_a_100_kb_email_with_a_4xx() {
    let app = app();
    let long = format!("{}@example.com", "a".repeat(100_000));
    let (status, body) = app.call(register(&creds(&long))).await;
    assert!(status.is_client_error(), "{status}: {body}");
    let (status, _) = app.call(register(&creds("after@example.com"))).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_registrations_of_one_address_on_sqlite_give_one_201_and_49_already_exists()
 {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::<User>::open(dir.path().join("t.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    fifty_concurrent_registrations_of_one_address(app_with(store, NoHooks, Options::default()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_registrations_of_one_address_on_postgres_give_one_201_and_49_already_exists()
 {
    let Some(schemas) = common::pg::PgSchemas::connect().await else {
        return;
    };
    let store = schemas.store::<User>().await;
    fifty_concurrent_registrations_of_one_address(app_with(store, NoHooks, Options::default()))
        .await;
}

/// 50 registrations of one address at once, half of them in another ASCII
/// case: exactly one 201, and 49 × 400 `REGISTER_USER_ALREADY_EXISTS`.
async fn fifty_concurrent_registrations_of_one_address<S: UserStore<User = User>>(app: TestApp<S>) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let router = app.router.clone();
            // Half of them in another ASCII case: still one address.
            let email = if i % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            tokio::spawn(async move {
                let response = router.oneshot(register(&creds(email))).await.unwrap();
                let status = response.status();
                (status, body_json(response).await)
            })
        })
        .collect();
    let (mut created, mut exists) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::BAD_REQUEST => {
                assert_eq!(body, json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}));
                exists += 1;
            }
            other => panic!("a concurrent registration answered {other}: {body}"),
        }
    }
    assert_eq!((created, exists), (1, 49));
}

// ---------------------------------------------------------------------------
// The application's own fields flow through register, read and update.

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Profile {
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
}

/// The example server's bearer, register and users routes for any
/// `User<F>` store.
fn fields_app<F, S>(store: S) -> Router
where
    F: UserFields,
    S: UserStore<User = User<F>>,
{
    let manager = UserManager::builder(store).hasher(fast_hasher()).build();
    let bearer = AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(SECRET).unwrap(),
    );
    let users = AxumUsers::new(manager, vec![bearer.clone()]);
    Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth", users.register_router())
        .nest("/users", users.users_router())
        .layer(users.layer())
}

/// Sends and checks that no response ever shows a password or its hash.
async fn send_checked(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = body_json(response).await;
    let text = body.to_string();
    for secret in ["hashed_password", "\"password\"", "$argon2", PASSWORD] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    (status, body)
}

fn assert_profile_user(body: &Value, display_name: &str) {
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "display_name",
            "email",
            "id",
            "is_active",
            "is_superuser",
            "is_verified"
        ],
        "{body}"
    );
    assert_eq!(body["display_name"], display_name, "{body}");
}

async fn custom_field_round_trip(router: Router) {
    let (status, body) = send_checked(
        &router,
        register(&json!({
            "email": "profile@example.com",
            "password": PASSWORD,
            "display_name": "Arthur",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_profile_user(&body, "Arthur");

    let (status, body) = send_checked(
        &router,
        login_request("/auth/jwt/login", "profile@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    let (status, body) = send_checked(&router, get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_profile_user(&body, "Arthur");

    let (status, body) = send_checked(
        &router,
        json_request(
            "PATCH",
            "/users/me",
            Some(&token),
            &json!({"display_name": "new"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_profile_user(&body, "new");
    assert_eq!(body["email"], "profile@example.com");

    // Persisted: a fresh read shows it.
    let (status, body) = send_checked(&router, get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_profile_user(&body, "new");

    // A PATCH without the field keeps it.
    let (status, body) = send_checked(
        &router,
        json_request("PATCH", "/users/me", Some(&token), &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_profile_user(&body, "new");
}

#[tokio::test]
async fn custom_fields_round_trip_through_register_me_and_patch_on_memory_store() {
    custom_field_round_trip(fields_app(MemoryStore::<User<Profile>>::new())).await;
}

#[tokio::test]
async fn custom_fields_round_trip_through_register_me_and_patch_on_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::<User<Profile>>::open(dir.path().join("t.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    custom_field_round_trip(fields_app(store.clone())).await;
    // The field is really in the database, not only in a cache.
    let stored = store
        .get_by_email("profile@example.com")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.data.fields.display_name.as_deref(), Some("new"));
}

#[tokio::test]
async fn custom_fields_round_trip_through_register_me_and_patch_on_postgres_store() {
    let Some(schemas) = common::pg::PgSchemas::connect().await else {
        return;
    };
    let store = schemas.store::<User<Profile>>().await;
    custom_field_round_trip(fields_app(store.clone())).await;
    // The field is really in the database, not only in a cache.
    let stored = store
        .get_by_email("profile@example.com")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.data.fields.display_name.as_deref(), Some("new"));

    // Any string JSON can carry is stored, "\u0000" included (PostgreSQL's
    // jsonb would refuse it).
    let router = fields_app(store.clone());
    let odd = "nul \u{0} and ünïcödé 🦀";
    let (status, body) = send_checked(
        &router,
        register(&json!({"email": "odd@example.com", "password": PASSWORD, "display_name": odd})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_profile_user(&body, odd);
    let stored = store
        .get_by_email("ODD@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.data.fields.display_name.as_deref(), Some(odd));
}

// ---------------------------------------------------------------------------
// 422 bodies name the field that failed, as FastAPI does.

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Member {
    display_name: String,
    age: Option<u32>,
}

/// A required field, and no `Default` anywhere.
#[derive(Debug, Deserialize)]
struct MemberCreate {
    display_name: String,
    #[serde(default)]
    age: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct MemberUpdate {
    age: Option<u32>,
}

impl UserFields for Member {
    type Create = MemberCreate;
    type Update = MemberUpdate;
    fn create(input: MemberCreate) -> Self {
        Member {
            display_name: input.display_name,
            age: input.age,
        }
    }
    fn update(&mut self, update: MemberUpdate, _by: UpdatedBy) {
        if let Some(age) = update.age {
            self.age = Some(age);
        }
    }
}

/// Sends; a 422 may name the `password` field, so no check of the body here.
async fn send_plain(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, body_json(response).await)
}

/// The first error of a 422: its `loc` and `type`.
fn first_error(status: StatusCode, body: &Value) -> (Value, Value) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = &body["detail"][0];
    assert!(
        error["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(!error["msg"].as_str().unwrap().contains("line 1"), "{body}");
    (error["loc"].clone(), error["type"].clone())
}

#[tokio::test]
async fn a_422_names_the_field_that_failed() {
    let router = fields_app::<Member, _>(MemoryStore::<User<Member>>::new());
    let register = |body: Value| json_request("POST", "/auth/register", None, &body);
    let cases = [
        (json!({}), json!(["body", "email"]), "missing"),
        (
            json!({"email": "a@example.com"}),
            json!(["body", "password"]),
            "missing",
        ),
        (
            json!({"email": "a@example.com", "password": 5, "display_name": "A"}),
            json!(["body", "password"]),
            "value_error",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}),
            json!(["body", "email"]),
            "value_error",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "is_active": "yes", "display_name": "A"}),
            json!(["body", "is_active"]),
            "value_error",
        ),
        // The application's own fields, flattened into the body.
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            json!(["body", "display_name"]),
            "missing",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": 5}),
            json!(["body", "display_name"]),
            "value_error",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": "A", "age": "old"}),
            json!(["body", "age"]),
            "value_error",
        ),
    ];
    for (body, loc, kind) in cases {
        let (status, answer) = send_plain(&router, register(body.clone())).await;
        assert_eq!(first_error(status, &answer), (loc, json!(kind)), "{body}");
    }
    // Not JSON at all: the body as a whole.
    let request = raw_request(
        "POST",
        "/auth/register",
        None,
        Some("application/json"),
        "{\"email\": ",
    );
    let (status, answer) = send_plain(&router, request).await;
    assert_eq!(first_error(status, &answer).0, json!(["body"]));

    // The same on PATCH /users/me, and a registration that fits succeeds.
    let (status, _) = send_plain(
        &router,
        register(json!({"email": "a@example.com", "password": PASSWORD, "display_name": "A"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, login) = send_plain(
        &router,
        login_request("/auth/jwt/login", "a@example.com", PASSWORD),
    )
    .await;
    let token = login["access_token"].as_str().unwrap();
    for (body, loc) in [
        (json!({"age": "old"}), json!(["body", "age"])),
        (json!({"email": 5}), json!(["body", "email"])),
        (json!({"email": null}), json!(["body", "email"])),
    ] {
        let (status, answer) = send_plain(
            &router,
            json_request("PATCH", "/users/me", Some(token), &body),
        )
        .await;
        assert_eq!(first_error(status, &answer).0, loc, "{body}");
    }
}
