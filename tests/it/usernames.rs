//! Usernames (CONTRACT-accounts.md §E, issue 16 part 1): a `username` beside
//! the address when the manager has `.usernames(true)` — validated on the raw
//! input, unique ASCII-case-insensitively, in register, `PATCH /users/me`,
//! the superuser update, the user object and the login form — and no change
//! on the wire without it. Every behaviour runs on the memory, SQLite and
//! PostgreSQL stores (`<behaviour>::on_memory`, `::on_sqlite`,
//! `::on_postgres`).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum_users::store::UserStore;
use axum_users::throttle::{Limit, LoginThrottle, MemoryThrottle};
use axum_users::{NoHooks, User, UserManager};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::*;

// ---------------------------------------------------------------------------
// The stores, and one test per store for each behaviour.

on_every_store!(
    without_usernames_the_wire_is_unchanged_and_a_sent_username_is_ignored,
    without_usernames_a_username_key_of_any_json_type_is_ignored_like_any_unknown_key,
    with_usernames_the_user_object_has_the_username_as_written_or_null,
    register_refuses_malformed_and_look_alike_usernames_with_invalid_username,
    register_refuses_a_username_taken_in_any_ascii_case,
    register_with_a_username_of_the_wrong_json_type_answers_422,
    the_login_form_takes_the_username_in_any_case_or_the_address,
    a_username_login_with_a_wrong_password_an_unknown_name_or_an_inactive_user_is_refused,
    patch_me_sets_recases_and_frees_ones_own_username,
    patch_me_to_a_username_taken_in_any_case_is_refused,
    patch_me_refuses_malformed_usernames_with_invalid_username,
    superuser_patch_sets_a_username_with_the_same_checks,
    concurrent_registrations_of_one_username_make_exactly_one_account,
    concurrent_renames_to_one_username_leave_exactly_one_owner,
    a_username_login_counts_in_the_throttle_under_its_users_address,
);

// ---------------------------------------------------------------------------
// Helpers.

type App<S> = TestApp<S, NoHooks>;

fn manager<S: UserStore<User = User>>(store: S, usernames: bool) -> UserManager<S, NoHooks> {
    UserManager::builder(store)
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .usernames(usernames)
        .build()
}

/// The example server's routes over `store`, usernames on or off.
fn app_over<S: UserStore<User = User>>(store: S, usernames: bool) -> App<S> {
    app_from_manager(manager(store, usernames), Options::default())
}

fn register_body(body: &Value) -> Request<Body> {
    json_request("POST", "/auth/register", None, body)
}

/// `POST /auth/register` with [`PASSWORD`] and, when given, a username.
fn register(email: &str, username: Option<&str>) -> Request<Body> {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(name) = username {
        body["username"] = json!(name);
    }
    register_body(&body)
}

fn patch(uri: &str, token: &str, body: &Value) -> Request<Body> {
    json_request("PATCH", uri, Some(token), body)
}

fn login(login: &str, password: &str) -> Request<Body> {
    login_request("/auth/jwt/login", login, password)
}

/// Registers `email` with `username` through the route: the user object.
async fn registered<S: UserStore<User = User>>(app: &App<S>, email: &str, username: &str) -> Value {
    let (status, body) = app.call(register(email, Some(username))).await;
    assert_eq!(status, StatusCode::CREATED, "register {username:?}: {body}");
    body
}

/// The sorted keys of a JSON object.
fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body
        .as_object()
        .unwrap_or_else(|| panic!("an object: {body}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The exact keys of a user object with usernames on.
fn assert_user_object_with_username(body: &Value) {
    assert_eq!(
        keys(body),
        [
            "email",
            "id",
            "is_active",
            "is_superuser",
            "is_verified",
            "username"
        ],
        "{body}"
    );
}

/// 400 `{"detail": "<code>"}`.
fn assert_code(status: StatusCode, body: &Value, code: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, &json!({ "detail": code }));
}

/// 400 `{"detail": {"code": "INVALID_USERNAME", "reason": <non-empty>}}`.
fn assert_invalid_username(status: StatusCode, body: &Value, input: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{input:?}: {body}");
    let detail = body["detail"]
        .as_object()
        .unwrap_or_else(|| panic!("{input:?}: detail is an object: {body}"));
    assert_eq!(detail.len(), 2, "{input:?}: {body}");
    assert_eq!(detail["code"], "INVALID_USERNAME", "{input:?}: {body}");
    let reason = detail["reason"].as_str().expect("the reason is a string");
    assert!(!reason.is_empty(), "{input:?}: {body}");
}

/// What the rules refuse, each with why: look-alikes of ASCII letters,
/// spaces, an `@`, too short, too long, other characters.
fn bad_usernames() -> Vec<(String, &'static str)> {
    let mut bad: Vec<(String, &'static str)> = [
        ("\u{212A}ing", "a Kelvin sign (U+212A) for the K"),
        ("\u{FF4B}ing", "a fullwidth k"),
        ("\u{FF2B}\u{FF29}\u{FF2E}\u{FF27}", "fullwidth KING"),
        ("\u{0430}rthur", "a Cyrillic a"),
        ("arthu\u{0433}", "a Cyrillic letter at the end"),
        ("king arthur", "a space inside"),
        (" arthur", "a leading space"),
        ("arthur ", "a trailing space"),
        ("arthur\t", "a tab"),
        ("arthur\u{00A0}", "a no-break space"),
        ("arthur\u{200B}", "a zero-width space"),
        ("ar\u{0}thur", "a NUL"),
        ("arthur@camelot.bt", "an e-mail address"),
        ("arthur@camelot", "an @ inside"),
        ("@arthur", "a leading @"),
        ("a@b", "three characters with an @"),
        ("", "empty"),
        ("a", "one character"),
        ("ab", "two characters"),
        ("caf\u{e9}", "an accented letter"),
        ("\u{e4}rthur", "an umlaut"),
        ("a/b", "a slash"),
        ("a+b", "a plus"),
        ("arthur!", "an exclamation mark"),
        ("\u{1F451}king", "an emoji"),
    ]
    .into_iter()
    .map(|(name, why)| (name.to_owned(), why))
    .collect();
    bad.push(("x".repeat(33), "33 characters"));
    bad.push(("x".repeat(200), "200 characters"));
    bad
}

/// An app with usernames on, a superuser and two plain users (`arthur@…`
/// named `Arthur`, `lancelot@…` without a name), all logged in.
struct Fixture<S: UserStore<User = User>> {
    app: App<S>,
    admin_token: String,
    arthur: Value,
    arthur_token: String,
    lancelot: Value,
    lancelot_token: String,
}

async fn fixture<S: UserStore<User = User>>(store: S) -> Fixture<S> {
    let app = app_over(store, true);
    app.create_user("admin@example.com", true, true, true).await;
    let admin_token = app.login("admin@example.com").await;
    let arthur = registered(&app, "arthur@example.com", "Arthur").await;
    let (status, lancelot) = app.call(register("lancelot@example.com", None)).await;
    assert_eq!(status, StatusCode::CREATED, "{lancelot}");
    let arthur_token = app.login("arthur@example.com").await;
    let lancelot_token = app.login("lancelot@example.com").await;
    Fixture {
        app,
        admin_token,
        arthur,
        arthur_token,
        lancelot,
        lancelot_token,
    }
}

/// The username stored for the user with this address.
async fn stored_username<S: UserStore<User = User>>(app: &App<S>, email: &str) -> Option<String> {
    app.users
        .manager()
        .get_by_email(email)
        .await
        .unwrap()
        .data
        .username
}

/// `request` sent `n` times at once (a task each, on the test's
/// multi-thread runtime): each answer's status and body.
async fn all_at_once<S: UserStore<User = User>>(
    app: &App<S>,
    requests: Vec<Request<Body>>,
) -> Vec<(StatusCode, Value)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let router = app.router.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                (status, body_json(response).await)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

// ---------------------------------------------------------------------------
// Without usernames: nothing changes on the wire.

async fn without_usernames_the_wire_is_unchanged_and_a_sent_username_is_ignored<
    S: UserStore<User = User>,
>(
    store: S,
) {
    let app = app_over(store, false);
    // Register with a username: 201, the plain user object, no name kept.
    let (status, body) = app.call(register("plain@example.com", Some("Plain"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_user_object(&body);
    assert_eq!(stored_username(&app, "plain@example.com").await, None);
    // Even a name the rules would refuse is only an unknown key.
    let (status, body) = app
        .call(register("odd@example.com", Some("\u{212A} @")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_user_object(&body);
    let token = app.login("plain@example.com").await;
    let (status, body) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    // PATCH /users/me with a username: 200, nothing changes.
    let (status, body) = app
        .call(patch("/users/me", &token, &json!({"username": "Plain"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    assert_eq!(stored_username(&app, "plain@example.com").await, None);
    // The login form's `username` is an address only: a name logs nobody in.
    let (status, body) = app.call(login("Plain", PASSWORD)).await;
    assert_code(status, &body, "LOGIN_BAD_CREDENTIALS");
    // A user the store keeps a name for (set by an application with
    // usernames on, say) shows none and cannot log in by it.
    let mut data = user_data("named@example.com", "unused-hash");
    data.username = Some("Named".to_owned());
    let named = app.users.manager().store().create(data).await.unwrap();
    let admin = app.create_user("admin@example.com", true, true, true).await;
    let admin_token = app.token_for(&admin).await;
    let (status, body) = app
        .call(get(&format!("/users/{}", named.id), Some(&admin_token)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    let (status, body) = app.call(login("Named", PASSWORD)).await;
    assert_code(status, &body, "LOGIN_BAD_CREDENTIALS");
    // The superuser's PATCH ignores it too.
    let (status, body) = app
        .call(patch(
            &format!("/users/{}", named.id),
            &admin_token,
            &json!({"username": "Renamed"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object(&body);
    assert_eq!(
        stored_username(&app, "named@example.com").await.as_deref(),
        Some("Named")
    );
}

async fn without_usernames_a_username_key_of_any_json_type_is_ignored_like_any_unknown_key<
    S: UserStore<User = User>,
>(
    store: S,
) {
    // CONTRACT.md §2: unknown JSON keys are ignored. Without usernames,
    // `username` is one: its type does not matter.
    let app = app_over(store, false);
    let mut refused = Vec::new();
    for (i, value) in [
        json!(null),
        json!(5),
        json!(true),
        json!(["a"]),
        json!({"a": 1}),
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("typed{i}@example.com");
        let (status, body) = app
            .call(register_body(
                &json!({"email": email, "password": PASSWORD, "username": value}),
            ))
            .await;
        match status {
            StatusCode::CREATED => assert_user_object(&body),
            _ => {
                refused.push(format!("register username={value}: {status} {body}"));
                app.create_user(&email, true, false, false).await;
            }
        }
        let token = app.login(&email).await;
        let (status, body) = app
            .call(patch("/users/me", &token, &json!({"username": value})))
            .await;
        match status {
            StatusCode::OK => assert_user_object(&body),
            _ => refused.push(format!("PATCH /users/me username={value}: {status} {body}")),
        }
    }
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}

// ---------------------------------------------------------------------------
// The user object and register.

async fn with_usernames_the_user_object_has_the_username_as_written_or_null<
    S: UserStore<User = User>,
>(
    store: S,
) {
    let app = app_over(store, true);
    // Without a name: `"username": null`.
    let (status, body) = app.call(register("nameless@example.com", None)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_user_object_with_username(&body);
    assert_eq!(body["username"], Value::Null);
    // `null` is no name either.
    let (status, body) = app
        .call(register_body(&json!({
            "email": "null@example.com",
            "password": PASSWORD,
            "username": null,
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["username"], Value::Null, "{body}");
    // Good names, kept as written: the shortest, the longest, every kind of
    // character allowed.
    let longest = "x".repeat(32);
    for (i, name) in ["King.Arthur", "abc", longest.as_str(), "a_b-c.9", "007"]
        .into_iter()
        .enumerate()
    {
        let email = format!("good{i}@example.com");
        let body = registered(&app, &email, name).await;
        assert_user_object_with_username(&body);
        assert_eq!(body["username"], name, "{body}");
        assert_eq!(body["email"], email.as_str());
        assert_eq!(body["is_active"], true);
        assert_eq!(body["is_superuser"], false);
        assert_eq!(body["is_verified"], false);
        assert_eq!(stored_username(&app, &email).await.as_deref(), Some(name));
    }
    // GET /users/me and the superuser's GET /users/{id} show it.
    let token = app.login("good0@example.com").await;
    let (status, me) = app.call(get("/users/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_user_object_with_username(&me);
    assert_eq!(me["username"], "King.Arthur");
    let admin = app.create_user("admin@example.com", true, true, true).await;
    let admin_token = app.token_for(&admin).await;
    let id = me["id"].as_str().unwrap();
    let (status, body) = app
        .call(get(&format!("/users/{id}"), Some(&admin_token)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, me);
    // A user without a name shows null there too.
    let (status, body) = app.call(get("/users/me", Some(&admin_token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object_with_username(&body);
    assert_eq!(body["username"], Value::Null);
}

async fn register_refuses_malformed_and_look_alike_usernames_with_invalid_username<
    S: UserStore<User = User>,
>(
    store: S,
) {
    let app = app_over(store, true);
    // A taken name whose look-alikes are refused by the rules, not by the
    // uniqueness check.
    registered(&app, "king@example.com", "King").await;
    for (i, (name, why)) in bad_usernames().into_iter().enumerate() {
        let email = format!("bad{i}@example.com");
        let (status, body) = app.call(register(&email, Some(&name))).await;
        assert_invalid_username(status, &body, why);
        assert!(
            app.users.manager().get_by_email(&email).await.is_err(),
            "{why}: no account was made"
        );
    }
    // The addresses are still free: the same one registers with a good name.
    let body = registered(&app, "bad0@example.com", "Kingston").await;
    assert_eq!(body["username"], "Kingston");
}

async fn register_refuses_a_username_taken_in_any_ascii_case<S: UserStore<User = User>>(store: S) {
    let app = app_over(store, true);
    registered(&app, "arthur@example.com", "Arthur").await;
    for (i, name) in ["Arthur", "arthur", "ARTHUR", "aRtHuR"]
        .into_iter()
        .enumerate()
    {
        let email = format!("other{i}@example.com");
        let (status, body) = app.call(register(&email, Some(name))).await;
        assert_code(status, &body, "REGISTER_USERNAME_ALREADY_EXISTS");
        assert!(
            app.users.manager().get_by_email(&email).await.is_err(),
            "{name}: no account was made"
        );
    }
    // A taken address still answers its own code.
    let (status, body) = app
        .call(register("ARTHUR@example.com", Some("Pendragon")))
        .await;
    assert_code(status, &body, "REGISTER_USER_ALREADY_EXISTS");
    // The name is the first account's.
    assert_eq!(
        stored_username(&app, "arthur@example.com").await.as_deref(),
        Some("Arthur")
    );
}

async fn register_with_a_username_of_the_wrong_json_type_answers_422<S: UserStore<User = User>>(
    store: S,
) {
    let app = app_over(store, true);
    for value in [
        json!(5),
        json!(true),
        json!(["abc"]),
        json!({"name": "abc"}),
    ] {
        let (status, body) = app
            .call(register_body(&json!({
                "email": "typed@example.com",
                "password": PASSWORD,
                "username": value,
            })))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "username={value}: {body}"
        );
    }
    assert!(
        app.users
            .manager()
            .get_by_email("typed@example.com")
            .await
            .is_err()
    );
}

// ---------------------------------------------------------------------------
// Login.

async fn the_login_form_takes_the_username_in_any_case_or_the_address<S: UserStore<User = User>>(
    store: S,
) {
    let app = app_over(store, true);
    let user = registered(&app, "arthur@example.com", "King.Arthur_9-x").await;
    registered(&app, "other@example.com", "Other").await;
    for name in [
        "King.Arthur_9-x",
        "king.arthur_9-x",
        "KING.ARTHUR_9-X",
        "arthur@example.com",
        "ARTHUR@example.com",
    ] {
        let (status, body) = app.call(login(name, PASSWORD)).await;
        assert_eq!(status, StatusCode::OK, "login as {name}: {body}");
        let token = body["access_token"].as_str().expect("a bearer token");
        let (status, me) = app.call(get("/users/me", Some(token))).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["id"], user["id"], "{name} is Arthur");
        assert_eq!(me["username"], "King.Arthur_9-x");
    }
}

async fn a_username_login_with_a_wrong_password_an_unknown_name_or_an_inactive_user_is_refused<
    S: UserStore<User = User>,
>(
    store: S,
) {
    let app = app_over(store, true);
    registered(&app, "arthur@example.com", "Arthur").await;
    let long = "x".repeat(200);
    for (name, password) in [
        ("Arthur", "not-the-password"),
        ("Arthur", &PASSWORD.to_uppercase()),
        ("Lancelot", PASSWORD),
        ("\u{212A}ing", PASSWORD),
        ("\u{FF21}rthur", PASSWORD),
        ("\u{0410}rthur", PASSWORD),
        ("Arthur ", PASSWORD),
        ("Art", PASSWORD),
        (long.as_str(), PASSWORD),
        ("Arth\u{0}ur", PASSWORD),
    ] {
        let (status, body) = app.call(login(name, password)).await;
        assert_code(status, &body, "LOGIN_BAD_CREDENTIALS");
    }
    // An inactive user's name with the right password: bad credentials, as
    // for the address.
    let mut create = axum_users::UserCreate::new(
        axum_users::Email::parse("inactive@example.com").unwrap(),
        PASSWORD,
    );
    create.is_active = Some(false);
    create.username = "Sleeper".into();
    app.users
        .manager()
        .create(create, false, None)
        .await
        .unwrap();
    for name in ["Sleeper", "inactive@example.com"] {
        let (status, body) = app.call(login(name, PASSWORD)).await;
        assert_code(status, &body, "LOGIN_BAD_CREDENTIALS");
    }
    // Arthur still logs in.
    let (status, body) = app.call(login("arthur", PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_username_login_counts_in_the_throttle_under_its_users_address<
    S: UserStore<User = User>,
>(
    store: S,
) {
    let manager = UserManager::builder(store)
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .usernames(true)
        .login_throttle(
            LoginThrottle::new(MemoryThrottle::new())
                .per_address(Some(Limit::new(3, Duration::from_secs(300)))),
        )
        .build();
    let app = app_from_manager(manager, Options::default());
    registered(&app, "arthur@example.com", "Arthur").await;
    registered(&app, "lancelot@example.com", "Lancelot").await;
    // Three failures, under the name in two cases and under the address.
    for name in ["Arthur", "ARTHUR", "arthur@example.com"] {
        let (status, body) = app.call(login(name, "not-the-password")).await;
        assert_code(status, &body, "LOGIN_BAD_CREDENTIALS");
    }
    // The account is locked, whichever name the next login uses.
    for name in ["arthur@example.com", "arthur", "Arthur"] {
        let (status, body) = app.call(login(name, PASSWORD)).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "login as {name}: {body}"
        );
        assert_eq!(body, json!({"detail": "LOGIN_TOO_MANY_ATTEMPTS"}));
    }
    // Another account is not.
    let (status, body) = app.call(login("lancelot", PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ---------------------------------------------------------------------------
// PATCH /users/me and PATCH /users/{id}.

async fn patch_me_sets_recases_and_frees_ones_own_username<S: UserStore<User = User>>(store: S) {
    let f = fixture(store).await;
    // A user without a name takes one.
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            &f.lancelot_token,
            &json!({"username": "Lancelot"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object_with_username(&body);
    assert_eq!(body["username"], "Lancelot");
    assert_eq!(body["id"], f.lancelot["id"]);
    // Their own name, in another case: 200, kept as written now.
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            &f.lancelot_token,
            &json!({"username": "LANCELOT"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "LANCELOT");
    // The same name again: 200, nothing changes.
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            &f.lancelot_token,
            &json!({"username": "LANCELOT"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "LANCELOT");
    let (status, body) = f.app.call(login("lancelot", PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An update without the key keeps the name.
    let (status, body) = f
        .app
        .call(patch("/users/me", &f.lancelot_token, &json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "LANCELOT");
    // A new name frees the old one: the old no longer logs in, and another
    // user may take it, in any case.
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            &f.lancelot_token,
            &json!({"username": "Galahad"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "Galahad");
    let (status, body) = f.app.call(login("lancelot", PASSWORD)).await;
    assert_code(status, &body, "LOGIN_BAD_CREDENTIALS");
    let (status, body) = f.app.call(login("galahad", PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            &f.arthur_token,
            &json!({"username": "lancelot"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "lancelot");
    assert_eq!(body["id"], f.arthur["id"]);
    // And Arthur's old name is free again.
    let (status, body) = f
        .app
        .call(register("new@example.com", Some("ARTHUR")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn patch_me_to_a_username_taken_in_any_case_is_refused<S: UserStore<User = User>>(store: S) {
    let f = fixture(store).await;
    for name in ["Arthur", "arthur", "ARTHUR"] {
        let (status, body) = f
            .app
            .call(patch(
                "/users/me",
                &f.lancelot_token,
                &json!({"username": name}),
            ))
            .await;
        assert_code(status, &body, "UPDATE_USER_USERNAME_ALREADY_EXISTS");
    }
    // Nothing changed, and the refused update changed nothing else either.
    let (status, body) = f
        .app
        .call(patch(
            "/users/me",
            &f.lancelot_token,
            &json!({"username": "arthur", "email": "changed@example.com"}),
        ))
        .await;
    assert_code(status, &body, "UPDATE_USER_USERNAME_ALREADY_EXISTS");
    assert_eq!(stored_username(&f.app, "lancelot@example.com").await, None);
    assert_eq!(
        stored_username(&f.app, "arthur@example.com")
            .await
            .as_deref(),
        Some("Arthur")
    );
    assert!(
        f.app
            .users
            .manager()
            .get_by_email("changed@example.com")
            .await
            .is_err(),
        "the address did not change"
    );
}

async fn patch_me_refuses_malformed_usernames_with_invalid_username<S: UserStore<User = User>>(
    store: S,
) {
    let f = fixture(store).await;
    for (name, why) in bad_usernames() {
        let (status, body) = f
            .app
            .call(patch(
                "/users/me",
                &f.arthur_token,
                &json!({"username": name}),
            ))
            .await;
        assert_invalid_username(status, &body, why);
    }
    // A wrong JSON type is a schema error.
    for value in [json!(5), json!(["Arthur"]), json!({"a": 1})] {
        let (status, body) = f
            .app
            .call(patch(
                "/users/me",
                &f.arthur_token,
                &json!({"username": value}),
            ))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "username={value}: {body}"
        );
    }
    assert_eq!(
        stored_username(&f.app, "arthur@example.com")
            .await
            .as_deref(),
        Some("Arthur")
    );
}

async fn superuser_patch_sets_a_username_with_the_same_checks<S: UserStore<User = User>>(store: S) {
    let f = fixture(store).await;
    let lancelot_uri = format!("/users/{}", f.lancelot["id"].as_str().unwrap());
    let arthur_uri = format!("/users/{}", f.arthur["id"].as_str().unwrap());
    let (status, body) = f
        .app
        .call(patch(
            &lancelot_uri,
            &f.admin_token,
            &json!({"username": "Percival"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user_object_with_username(&body);
    assert_eq!(body["username"], "Percival");
    let (status, body) = f.app.call(login("percival", PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Taken by another user, in any case.
    for name in ["Arthur", "aRTHUR"] {
        let (status, body) = f
            .app
            .call(patch(
                &lancelot_uri,
                &f.admin_token,
                &json!({"username": name}),
            ))
            .await;
        assert_code(status, &body, "UPDATE_USER_USERNAME_ALREADY_EXISTS");
    }
    // Malformed.
    for (name, why) in bad_usernames() {
        let (status, body) = f
            .app
            .call(patch(
                &lancelot_uri,
                &f.admin_token,
                &json!({"username": name}),
            ))
            .await;
        assert_invalid_username(status, &body, why);
    }
    // The user's own name in another case.
    let (status, body) = f
        .app
        .call(patch(
            &arthur_uri,
            &f.admin_token,
            &json!({"username": "ARTHUR"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "ARTHUR");
    assert_eq!(
        stored_username(&f.app, "lancelot@example.com")
            .await
            .as_deref(),
        Some("Percival")
    );
    // GET /users/{id} shows the names.
    let (status, body) = f.app.call(get(&lancelot_uri, Some(&f.admin_token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "Percival");
}

// ---------------------------------------------------------------------------
// Races: the stores' unique index decides.

async fn concurrent_registrations_of_one_username_make_exactly_one_account<
    S: UserStore<User = User>,
>(
    store: S,
) {
    let app = app_over(store, true);
    let names = [
        "Mordred", "mordred", "MORDRED", "MorDred", "mORDRED", "Mordred", "mordreD", "MOrdred",
        "mordRED", "Mordred",
    ];
    let requests = names
        .iter()
        .enumerate()
        .map(|(i, name)| register(&format!("racer{i}@example.com"), Some(name)))
        .collect();
    let answers = all_at_once(&app, requests).await;
    let created: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 201: {answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::CREATED {
            assert_code(*status, body, "REGISTER_USERNAME_ALREADY_EXISTS");
        }
    }
    // Exactly one account, the winner's.
    let mut accounts = 0;
    for i in 0..names.len() {
        if let Ok(user) = app
            .users
            .manager()
            .get_by_email(&format!("racer{i}@example.com"))
            .await
        {
            accounts += 1;
            assert_eq!(user.id.to_string(), created[0].1["id"].as_str().unwrap());
        }
    }
    assert_eq!(accounts, 1);
}

async fn concurrent_renames_to_one_username_leave_exactly_one_owner<S: UserStore<User = User>>(
    store: S,
) {
    let app = app_over(store, true);
    let mut tokens = Vec::new();
    for i in 0..10 {
        let email = format!("renamer{i}@example.com");
        let (status, body) = app.call(register(&email, None)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tokens.push(app.login(&email).await);
    }
    let requests = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let name = if i % 2 == 0 { "Excalibur" } else { "excalibur" };
            patch("/users/me", token, &json!({"username": name}))
        })
        .collect();
    let answers = all_at_once(&app, requests).await;
    let ok = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "exactly one 200: {answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::OK {
            assert_code(*status, body, "UPDATE_USER_USERNAME_ALREADY_EXISTS");
        }
    }
    let mut owners = 0;
    for i in 0..10 {
        if stored_username(&app, &format!("renamer{i}@example.com"))
            .await
            .is_some()
        {
            owners += 1;
        }
    }
    assert_eq!(owners, 1);
}

// ---------------------------------------------------------------------------
// A store that does not keep usernames.

#[test]
fn a_manager_with_usernames_refuses_to_build_on_a_store_that_does_not_keep_them() {
    let built = UserManager::builder(crate::store::AppStore::new())
        .token_secret(SECRET)
        .usernames(true)
        .try_build();
    assert!(
        matches!(built, Err(axum_users::Error::Config(_))),
        "{:?}",
        built.err()
    );
    // Without usernames it builds.
    assert!(
        UserManager::builder(crate::store::AppStore::new())
            .token_secret(SECRET)
            .try_build()
            .is_ok()
    );
}
