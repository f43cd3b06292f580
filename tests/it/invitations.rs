//! Invitations (CONTRACT-accounts.md §E, issue 16 parts 2 and 3): the
//! superusers' routes `POST|GET /users/invitations`, `GET|DELETE
//! /users/invitations/{id}`, the accept route `POST /auth/accept-invitation`
//! with its single-use token, expiry and revocation, the hooks
//! `on_after_invite` and `on_after_accept_invitation`, and registration by
//! invitation only (no register route; OAuth refuses to create accounts).
//! Every behaviour runs on the memory, SQLite and PostgreSQL stores
//! (`<behaviour>::on_memory`, `::on_sqlite`, `::on_postgres`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum_users::invitation::Invitation;
use axum_users::manager::{OAuthCallbackOptions, OAuthLogin};
use axum_users::store::{
    InvitationStore, MemoryStore, OAuthAccountStore, ProviderToken, UserStore,
};
use axum_users::{AxumUsers, Email, Error, ErrorCode, User, UserHooks, UserManager};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::common::*;

// ---------------------------------------------------------------------------
// The stores, and one test per store for each behaviour.

on_every_store!(
    invite_answers_201_with_the_invitation_and_hands_its_token_to_the_hook_only,
    invite_refuses_bad_days_remarks_and_bodies_with_422,
    invitation_routes_answer_401_without_auth_and_403_to_a_non_superuser,
    the_list_is_newest_first_with_the_total_count_and_pages,
    the_list_refuses_a_limit_or_offset_out_of_range_with_422,
    get_one_answers_the_invitation_and_404_for_unknown_or_malformed_ids,
    delete_revokes_keeps_the_record_and_kills_the_token,
    accept_makes_an_active_verified_user_with_the_invited_address,
    an_invitation_token_works_once,
    forged_tokens_and_malformed_accept_bodies_are_refused,
    an_expired_invitations_token_is_refused_and_the_address_can_be_invited_again,
    a_refused_password_answers_invitation_invalid_password_and_leaves_the_token_usable,
    accept_for_an_address_that_got_an_account_meanwhile_is_refused_and_leaves_the_token_usable,
    invite_refuses_an_address_that_has_a_user_in_any_case,
    invite_refuses_an_address_with_a_pending_invitation_until_it_is_revoked_or_accepted,
    concurrent_accepts_of_one_token_make_exactly_one_account,
    concurrent_invites_of_one_address_make_exactly_one_pending_invitation,
    with_usernames_accept_takes_a_username_with_the_register_codes,
    without_usernames_accept_ignores_a_username,
    without_usernames_accept_ignores_a_username_key_of_any_json_type,
    an_error_from_on_after_invite_answers_with_it_and_the_invitation_stays_pending,
    invite_only_has_no_register_route_and_accounts_come_from_invitations,
    invite_only_refuses_an_oauth_login_that_would_create_an_account,
);

// ---------------------------------------------------------------------------
// Hooks that record what the invitation hooks receive.

#[derive(Debug, Clone)]
enum Event {
    Invited {
        invitation: Invitation,
        token: String,
        with_request: bool,
    },
    Registered {
        user_id: Uuid,
    },
    Accepted {
        user_id: Uuid,
        email: String,
        invitation: Invitation,
    },
}

#[derive(Clone, Default)]
struct InviteHooks {
    events: Shared<Vec<Event>>,
    /// `on_after_invite` fails (after recording the token).
    fail_invite: bool,
}

impl InviteHooks {
    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// The token `on_after_invite` received for the invitation `id`.
    fn token(&self, id: &str) -> String {
        let tokens: Vec<String> = self
            .events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Invited {
                    invitation, token, ..
                } if invitation.id.to_string() == id => Some(token),
                _ => None,
            })
            .collect();
        assert_eq!(tokens.len(), 1, "one token for the invitation {id}");
        tokens.into_iter().next().unwrap()
    }

    /// What `on_after_accept_invitation` received: the user's id and
    /// address, and the invitation.
    fn accepted(&self) -> Vec<(Uuid, String, Invitation)> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Accepted {
                    user_id,
                    email,
                    invitation,
                } => Some((user_id, email, invitation)),
                _ => None,
            })
            .collect()
    }
}

#[axum_users::async_trait]
impl UserHooks<User> for InviteHooks {
    async fn on_after_invite(
        &self,
        invitation: &Invitation,
        token: &str,
        request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        self.events.lock().unwrap().push(Event::Invited {
            invitation: invitation.clone(),
            token: token.to_owned(),
            with_request: request.is_some(),
        });
        match self.fail_invite {
            true => Err(Error::Internal("the mail server is down".into())),
            false => Ok(()),
        }
    }

    async fn on_after_register(
        &self,
        user: &User,
        _request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        self.events
            .lock()
            .unwrap()
            .push(Event::Registered { user_id: user.id });
        Ok(())
    }

    async fn on_after_accept_invitation(
        &self,
        user: &User,
        invitation: &Invitation,
        _request: Option<&axum_users::http::request::Parts>,
    ) -> axum_users::Result<()> {
        self.events.lock().unwrap().push(Event::Accepted {
            user_id: user.id,
            email: user.data.email.clone(),
            invitation: invitation.clone(),
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The app: the example server's routes and the invitation routes.

type App<S> = TestApp<S, InviteHooks>;

#[derive(Clone, Copy, Default)]
struct Config {
    usernames: bool,
    /// `invite_only(true)`, and no register route.
    invite_only: bool,
    fail_invite: bool,
}

/// The app under test, its hooks, and a superuser's and a plain user's
/// tokens (`admin@example.com`, `user@example.com`).
struct Fixture<S: UserStore<User = User>> {
    app: App<S>,
    hooks: InviteHooks,
    admin_token: String,
    user_token: String,
}

fn app_over<S: UserStore<User = User> + InvitationStore>(
    store: S,
    config: Config,
) -> (App<S>, InviteHooks) {
    let hooks = InviteHooks {
        fail_invite: config.fail_invite,
        ..InviteHooks::default()
    };
    let manager = UserManager::builder(store)
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .usernames(config.usernames)
        .invite_only(config.invite_only)
        .hooks(hooks.clone())
        .build();
    let (bearer, cookie) = backends();
    let users = AxumUsers::new(manager, vec![bearer.clone(), cookie]);
    let mut routes = users.routes().auth("/auth/jwt", &bearer);
    if !config.invite_only {
        routes = routes.register("/auth");
    }
    let router: Router = routes
        .users("/users")
        .invitations("/users", "/auth")
        .into_router()
        .layer(users.layer());
    (TestApp { router, users }, hooks)
}

async fn fixture_with<S: UserStore<User = User> + InvitationStore>(
    store: S,
    config: Config,
) -> Fixture<S> {
    let (app, hooks) = app_over(store, config);
    app.create_user("admin@example.com", true, true, true).await;
    app.create_user("user@example.com", true, true, false).await;
    let admin_token = app.login("admin@example.com").await;
    let user_token = app.login("user@example.com").await;
    // The hooks record from here on.
    hooks.events.lock().unwrap().clear();
    Fixture {
        app,
        hooks,
        admin_token,
        user_token,
    }
}

async fn fixture<S: UserStore<User = User> + InvitationStore>(store: S) -> Fixture<S> {
    fixture_with(store, Config::default()).await
}

const INVITATIONS: &str = "/users/invitations";
const ACCEPT: &str = "/auth/accept-invitation";
const UNKNOWN_ID: &str = "0b6c4c3e-8b7a-4f0e-9a57-4d2a1c3b5e6f";
const NEW_PASSWORD: &str = "a-brand-new-secret";

fn invite_request(token: Option<&str>, body: &Value) -> Request<Body> {
    json_request("POST", INVITATIONS, token, body)
}

fn accept_request(body: &Value) -> Request<Body> {
    json_request("POST", ACCEPT, None, body)
}

fn accept(token: &str, password: &str) -> Request<Body> {
    accept_request(&json!({"token": token, "password": password}))
}

fn delete(uri: &str, token: Option<&str>) -> Request<Body> {
    raw_request("DELETE", uri, token, None, Body::empty())
}

fn invitation_uri(id: &str) -> String {
    format!("{INVITATIONS}/{id}")
}

impl<S: UserStore<User = User> + InvitationStore> Fixture<S> {
    /// Invites `body` as the superuser: the invitation's JSON and its token.
    async fn invite_with(&self, body: Value) -> (Value, String) {
        let (status, invitation) = self
            .app
            .call(invite_request(Some(&self.admin_token), &body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "invite {body}: {invitation}");
        let token = self.hooks.token(invitation["id"].as_str().unwrap());
        (invitation, token)
    }

    /// Invites `email` as the superuser: the invitation's JSON and its token.
    async fn invite(&self, email: &str) -> (Value, String) {
        self.invite_with(json!({ "email": email })).await
    }

    async fn call_admin(&self, request: Request<Body>) -> (StatusCode, Value) {
        self.app.call(request).await
    }

    /// `GET /users/invitations/{id}` as the superuser: 200 and the body.
    async fn get_invitation(&self, id: &Value) -> Value {
        let uri = invitation_uri(id.as_str().unwrap());
        let (status, body) = self.app.call(get(&uri, Some(&self.admin_token))).await;
        assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
        body
    }

    /// `GET /users/invitations?{query}` as the superuser.
    async fn list(&self, query: &str) -> (StatusCode, Value) {
        self.app
            .call(get(
                &format!("{INVITATIONS}?{query}"),
                Some(&self.admin_token),
            ))
            .await
    }

    async fn user(&self, email: &str) -> Option<User> {
        self.app.users.manager().get_by_email(email).await.ok()
    }

    async fn count(&self) -> u64 {
        let (status, body) = self.list("").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["count"].as_u64().unwrap()
    }
}

/// 400 `{"detail": "<code>"}`.
fn assert_code(status: StatusCode, body: &Value, code: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, &json!({ "detail": code }));
}

/// 400 `{"detail": {"code": <code>, "reason": <non-empty>}}`.
fn assert_code_with_reason(status: StatusCode, body: &Value, code: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_object().expect("detail is an object");
    assert_eq!(detail.len(), 2, "{body}");
    assert_eq!(detail["code"], code, "{body}");
    let reason = detail["reason"].as_str().expect("the reason is a string");
    assert!(!reason.is_empty(), "{body}");
}

/// 422 whose (first) error is at `loc`.
fn assert_422_at(status: StatusCode, body: &Value, loc: &[&str], what: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    assert_eq!(body["detail"][0]["loc"], json!(loc), "{what}: {body}");
}

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

/// A time of the API: an RFC 3339 UTC string with seconds
/// (`2025-01-02T03:04:05Z`).
fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time is a string: {value}"));
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "RFC 3339 UTC with seconds: {text}"
    );
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// The exact keys of an invitation, and its times well formed.
fn assert_invitation_object(body: &Value) {
    assert_eq!(
        keys(body),
        [
            "accepted_at",
            "created_at",
            "email",
            "expires_at",
            "id",
            "remark",
            "revoked"
        ],
        "{body}"
    );
    assert!(
        Uuid::parse_str(body["id"].as_str().expect("the id is a string")).is_ok(),
        "{body}"
    );
    time(&body["created_at"]);
    time(&body["expires_at"]);
    if !body["accepted_at"].is_null() {
        time(&body["accepted_at"]);
    }
    assert!(body["revoked"].is_boolean(), "{body}");
}

/// The exact keys of a user object without usernames.
fn assert_plain_user_object(body: &Value) {
    assert_user_object(body);
}

/// `requests` sent at once (a task each, on the test's multi-thread
/// runtime): each answer's status and body.
async fn all_at_once<S: UserStore<User = User>, H: UserHooks<User>>(
    app: &TestApp<S, H>,
    requests: Vec<Request<Body>>,
) -> Vec<(StatusCode, Value)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
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

/// A token and the digest a store keeps of it, minted by a throwaway
/// manager over a memory store (the invitation it made there is dropped):
/// to store an invitation of our own making, such as an expired one.
async fn minted_token() -> (String, String) {
    let hooks = InviteHooks::default();
    let manager = UserManager::builder(MemoryStore::<User>::new())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .hooks(hooks.clone())
        .build();
    let invitation = manager
        .invite(&Email::parse("mint@example.com").unwrap(), 1, None, None)
        .await
        .unwrap();
    let token = hooks.token(&invitation.id.to_string());
    (token, invitation.token_digest)
}

// ---------------------------------------------------------------------------
// POST /users/invitations

async fn invite_answers_201_with_the_invitation_and_hands_its_token_to_the_hook_only<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let before = Utc::now();
    let response = f
        .app
        .send(invite_request(
            Some(&f.admin_token),
            &json!({"email": "Guest.Star@example.com", "remark": "from the board"}),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let text = String::from_utf8(
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_invitation_object(&body);
    assert_eq!(body["email"], "Guest.Star@example.com", "as written");
    assert_eq!(body["remark"], "from the board");
    assert_eq!(body["accepted_at"], Value::Null);
    assert_eq!(body["revoked"], false);
    // Made now, lasting 7 days by default.
    let created = time(&body["created_at"]);
    let expires = time(&body["expires_at"]);
    assert!(
        created >= before - chrono::Duration::seconds(1)
            && created <= Utc::now() + chrono::Duration::seconds(1),
        "{body}"
    );
    assert_eq!(expires - created, chrono::Duration::days(7), "{body}");
    // The hook received the invitation and its token, with the request.
    let events = f.hooks.events();
    let [
        Event::Invited {
            invitation,
            token,
            with_request,
        },
    ] = events.as_slice()
    else {
        panic!("one on_after_invite: {events:?}");
    };
    assert_eq!(invitation.id.to_string(), body["id"].as_str().unwrap());
    assert_eq!(invitation.email, "Guest.Star@example.com");
    assert!(*with_request);
    assert!(token.len() >= 32, "a long random token: {token}");
    // The token is in no answer, and the store keeps only its digest.
    let stored = f
        .app
        .users
        .manager()
        .store()
        .invitation(&invitation.id)
        .await
        .unwrap()
        .expect("stored");
    assert_ne!(stored.token_digest, *token);
    assert!(!stored.token_digest.contains(token.as_str()));
    assert!(!text.contains(token.as_str()), "{text}");
    assert!(!text.contains(&stored.token_digest), "{text}");
    let got = f.get_invitation(&body["id"]).await;
    assert_eq!(got, body, "GET answers what POST did");
    let (status, list) = f.list("").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.to_string().contains(token.as_str()), "{list}");
    assert!(!list.to_string().contains(&stored.token_digest), "{list}");
    // Without a remark: null. The bounds of expires_in_days.
    for days in [1, 90] {
        let (body, _) = f
            .invite_with(
                json!({"email": format!("days{days}@example.com"), "expires_in_days": days}),
            )
            .await;
        assert_invitation_object(&body);
        assert_eq!(body["remark"], Value::Null);
        assert_eq!(
            time(&body["expires_at"]) - time(&body["created_at"]),
            chrono::Duration::days(days),
            "{body}"
        );
    }
    // The longest remark, in characters (not bytes).
    let remark = "\u{e9}".repeat(1000);
    let (body, _) = f
        .invite_with(json!({"email": "long@example.com", "remark": remark}))
        .await;
    assert_eq!(body["remark"], remark.as_str());
    // An explicit null remark is none.
    let (body, _) = f
        .invite_with(json!({"email": "null@example.com", "remark": null}))
        .await;
    assert_eq!(body["remark"], Value::Null);
}

async fn invite_refuses_bad_days_remarks_and_bodies_with_422<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let days_loc = ["body", "expires_in_days"];
    for days in [
        json!(0),
        json!(91),
        json!(-1),
        json!(-7),
        json!(1000),
        json!(4294967297_u64),
        json!(9223372036854775807_i64),
        json!(u64::MAX),
        json!(1e20),
        json!(1.5),
        json!(7.0),
        json!("7"),
        json!(true),
        json!([7]),
    ] {
        let (status, body) = f
            .call_admin(invite_request(
                Some(&f.admin_token),
                &json!({"email": "days@example.com", "expires_in_days": days}),
            ))
            .await;
        assert_422_at(status, &body, &days_loc, &format!("expires_in_days={days}"));
    }
    // Remarks: over 1000 characters, or not a string.
    let (status, body) = f
        .call_admin(invite_request(
            Some(&f.admin_token),
            &json!({"email": "remark@example.com", "remark": "r".repeat(1001)}),
        ))
        .await;
    assert_422_at(status, &body, &["body", "remark"], "a remark of 1001");
    let (status, body) = f
        .call_admin(invite_request(
            Some(&f.admin_token),
            &json!({"email": "remark@example.com", "remark": "\u{e9}".repeat(1001)}),
        ))
        .await;
    assert_422_at(status, &body, &["body", "remark"], "a remark of 1001 é");
    let (status, body) = f
        .call_admin(invite_request(
            Some(&f.admin_token),
            &json!({"email": "remark@example.com", "remark": 5}),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The address: missing, malformed, of the wrong type.
    for body in [
        json!({}),
        json!({"email": "not-an-email"}),
        json!({"email": "user@"}),
        json!({"email": ""}),
        json!({"email": null}),
        json!({"email": 5}),
        json!(["guest@example.com"]),
    ] {
        let (status, answer) = f
            .call_admin(invite_request(Some(&f.admin_token), &body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    // Not JSON.
    for (content_type, text) in [
        (Some("text/plain"), r#"{"email": "guest@example.com"}"#),
        (None, r#"{"email": "guest@example.com"}"#),
        (Some("application/json"), "{not json"),
        (Some("application/json"), ""),
    ] {
        let (status, answer) = f
            .call_admin(raw_request(
                "POST",
                INVITATIONS,
                Some(&f.admin_token),
                content_type,
                text,
            ))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type:?} {text:?}: {answer}"
        );
    }
    // Nothing was made, nothing was sent.
    assert_eq!(f.count().await, 0);
    assert!(f.hooks.events().is_empty(), "{:?}", f.hooks.events());
}

async fn invitation_routes_answer_401_without_auth_and_403_to_a_non_superuser<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, token) = f.invite("guest@example.com").await;
    let id = invitation["id"].as_str().unwrap();
    for (who, bearer, expected) in [
        ("nobody", None, StatusCode::UNAUTHORIZED),
        (
            "a forged token",
            Some("not-a-token"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a plain user",
            Some(f.user_token.as_str()),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let mut requests = vec![
            (
                "POST",
                invite_request(bearer, &json!({"email": "other@example.com"})),
            ),
            ("POST bad", invite_request(bearer, &json!({"email": 5}))),
            (
                "POST not json",
                raw_request("POST", INVITATIONS, bearer, Some("text/plain"), "{"),
            ),
            ("GET list", get(INVITATIONS, bearer)),
            (
                "GET list bad limit",
                get(&format!("{INVITATIONS}?limit=0"), bearer),
            ),
        ];
        for target in [id, UNKNOWN_ID, "not-a-uuid"] {
            requests.push(("GET one", get(&invitation_uri(target), bearer)));
            requests.push(("DELETE", delete(&invitation_uri(target), bearer)));
        }
        for (what, request) in requests {
            let (status, body) = f.app.call(request).await;
            assert_eq!(status, expected, "{who}: {what}: {body}");
        }
    }
    // Nothing changed: one invitation, still pending, its token working.
    assert_eq!(f.count().await, 1);
    assert_eq!(f.get_invitation(&invitation["id"]).await, invitation);
    let (status, body) = f.app.call(accept(&token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

// ---------------------------------------------------------------------------
// GET /users/invitations

async fn the_list_is_newest_first_with_the_total_count_and_pages<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (status, body) = f.list("").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"count": 0, "items": []}));
    let mut made = Vec::new();
    for i in 0..5 {
        let (invitation, _) = f.invite(&format!("guest{i}@example.com")).await;
        made.push(invitation);
    }
    // A revoked invitation is still listed.
    let (status, _) = f
        .app
        .call(delete(
            &invitation_uri(made[1]["id"].as_str().unwrap()),
            Some(&f.admin_token),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    made[1]["revoked"] = json!(true);
    let newest_first: Vec<Value> = made.iter().rev().cloned().collect();
    let (status, body) = f.list("").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(keys(&body), ["count", "items"]);
    assert_eq!(body["count"], 5);
    assert_eq!(body["items"], json!(newest_first), "newest first");
    for (query, from, to) in [
        ("offset=0&limit=50", 0, 5),
        ("limit=2", 0, 2),
        ("offset=2&limit=2", 2, 4),
        ("limit=2&offset=4", 4, 5),
        ("offset=5", 5, 5),
        ("offset=1000", 5, 5),
        ("limit=1", 0, 1),
        ("limit=100", 0, 5),
        ("offset=3", 3, 5),
        ("offset=9223372036854775807", 5, 5),
        ("unknown=1&limit=3", 0, 3),
    ] {
        let (status, body) = f.list(query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(body["count"], 5, "{query}: {body}");
        assert_eq!(
            body["items"],
            json!(newest_first[from..to]),
            "{query}: {body}"
        );
    }
    // An offset past i64: an empty page or a 422 on the offset, never a 500.
    for offset in ["9223372036854775808", "18446744073709551615"] {
        let (status, body) = f.list(&format!("offset={offset}")).await;
        match status {
            StatusCode::OK => assert_eq!(body, json!({"count": 5, "items": []}), "{offset}"),
            _ => assert_422_at(status, &body, &["query", "offset"], offset),
        }
    }
}

async fn the_list_refuses_a_limit_or_offset_out_of_range_with_422<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    f.invite("guest@example.com").await;
    for limit in [
        "0",
        "-1",
        "101",
        "1000",
        "18446744073709551615",
        "99999999999999999999999",
        "abc",
        "1.5",
        "",
        "1e2",
        "%205",
        "%00",
    ] {
        let (status, body) = f.list(&format!("limit={limit}")).await;
        assert_422_at(
            status,
            &body,
            &["query", "limit"],
            &format!("limit={limit}"),
        );
    }
    for offset in ["-1", "abc", "1.5", "", "99999999999999999999999"] {
        let (status, body) = f.list(&format!("offset={offset}")).await;
        assert_422_at(
            status,
            &body,
            &["query", "offset"],
            &format!("offset={offset}"),
        );
    }
}

// ---------------------------------------------------------------------------
// GET and DELETE /users/invitations/{id}

async fn get_one_answers_the_invitation_and_404_for_unknown_or_malformed_ids<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, _) = f
        .invite_with(
            json!({"email": "guest@example.com", "remark": "hello", "expires_in_days": 30}),
        )
        .await;
    let body = f.get_invitation(&invitation["id"]).await;
    assert_invitation_object(&body);
    assert_eq!(body, invitation);
    // The id in capitals names it too.
    let upper = invitation["id"].as_str().unwrap().to_uppercase();
    let (status, body) = f
        .app
        .call(get(&invitation_uri(&upper), Some(&f.admin_token)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, invitation);
    for id in [UNKNOWN_ID, "not-a-uuid", "123", "%00", "0b6c4c3e"] {
        let (status, body) = f
            .app
            .call(get(&invitation_uri(id), Some(&f.admin_token)))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {id}: {body}");
    }
}

async fn delete_revokes_keeps_the_record_and_kills_the_token<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, token) = f.invite("guest@example.com").await;
    let uri = invitation_uri(invitation["id"].as_str().unwrap());
    let (status, text) = f.app.call_text(delete(&uri, Some(&f.admin_token))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(text, "", "204 has no body");
    // The record stays, revoked.
    let body = f.get_invitation(&invitation["id"]).await;
    let mut expected = invitation.clone();
    expected["revoked"] = json!(true);
    assert_eq!(body, expected);
    let (_, list) = f.list("").await;
    assert_eq!(list, json!({"count": 1, "items": [expected]}));
    // Revoking again: 204, nothing changes.
    let (status, _) = f.app.call(delete(&uri, Some(&f.admin_token))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(f.get_invitation(&invitation["id"]).await, expected);
    // The token is dead.
    let (status, body) = f.app.call(accept(&token, PASSWORD)).await;
    assert_code(status, &body, "INVITATION_BAD_TOKEN");
    assert!(f.user("guest@example.com").await.is_none());
    // Unknown and malformed ids.
    for id in [UNKNOWN_ID, "not-a-uuid", "123"] {
        let (status, body) = f
            .app
            .call(delete(&invitation_uri(id), Some(&f.admin_token)))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {id}: {body}");
    }
}

// ---------------------------------------------------------------------------
// POST /auth/accept-invitation

async fn accept_makes_an_active_verified_user_with_the_invited_address<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, token) = f.invite("Guest.Star@example.com").await;
    let response = f
        .app
        .send(accept_request(&json!({
            "token": token,
            "password": NEW_PASSWORD,
            // Ignored: the address is the invitation's, the flags the rule's.
            "email": "other@example.com",
            "is_superuser": true,
            "is_active": false,
            "is_verified": false,
            "id": UNKNOWN_ID,
        })))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let user = body_json(response).await;
    assert_plain_user_object(&user);
    assert_eq!(user["email"], "Guest.Star@example.com", "as written");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_verified"], true);
    assert_eq!(user["is_superuser"], false);
    assert_ne!(user["id"], UNKNOWN_ID);
    assert!(f.user("other@example.com").await.is_none());
    // The account logs in with its password, by its address in any case.
    let token_of_user = f.app.login_as("guest.star@example.com", NEW_PASSWORD).await;
    let (status, me) = f.app.call(get("/users/me", Some(&token_of_user))).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me, user);
    // The invitation is accepted.
    let after = f.get_invitation(&invitation["id"]).await;
    assert_invitation_object(&after);
    let accepted_at = time(&after["accepted_at"]);
    assert!(accepted_at >= time(&invitation["created_at"]), "{after}");
    assert_eq!(after["revoked"], false);
    let mut expected = invitation.clone();
    expected["accepted_at"] = after["accepted_at"].clone();
    assert_eq!(after, expected, "only accepted_at changed");
    // The hooks: on_after_register, then on_after_accept_invitation with the
    // user and the invitation as accepted.
    let user_id = Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    let events = f.hooks.events();
    let tail: Vec<&Event> = events
        .iter()
        .filter(|event| !matches!(event, Event::Invited { .. }))
        .collect();
    assert!(
        matches!(
            tail.as_slice(),
            [Event::Registered { user_id: registered }, Event::Accepted { user_id: accepted, .. }]
                if *registered == user_id && *accepted == user_id
        ),
        "{events:?}"
    );
    let accepted = f.hooks.accepted();
    let (_, email, accepted_invitation) = &accepted[0];
    assert_eq!(email, "Guest.Star@example.com");
    assert_eq!(
        accepted_invitation.id.to_string(),
        invitation["id"].as_str().unwrap()
    );
    assert!(accepted_invitation.accepted_at.is_some());
    assert!(!accepted_invitation.revoked);
    // Revoking an accepted invitation leaves the account alone.
    let (status, _) = f
        .app
        .call(delete(
            &invitation_uri(invitation["id"].as_str().unwrap()),
            Some(&f.admin_token),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, me) = f.app.call(get("/users/me", Some(&token_of_user))).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let after = f.get_invitation(&invitation["id"]).await;
    assert_eq!(after["revoked"], true);
    assert_eq!(time(&after["accepted_at"]), accepted_at);
}

async fn an_invitation_token_works_once<S: UserStore<User = User> + InvitationStore>(store: S) {
    let f = fixture(store).await;
    let (_, token) = f.invite("guest@example.com").await;
    let (status, first) = f.app.call(accept(&token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for password in [PASSWORD, NEW_PASSWORD] {
        let (status, body) = f.app.call(accept(&token, password)).await;
        assert_code(status, &body, "INVITATION_BAD_TOKEN");
    }
    // The account kept its first password.
    f.app.login("guest@example.com").await;
    let (status, body) = f
        .app
        .call(login_request(
            "/auth/jwt/login",
            "guest@example.com",
            NEW_PASSWORD,
        ))
        .await;
    assert_code(status, &body, "LOGIN_BAD_CREDENTIALS");
    assert_eq!(f.hooks.accepted().len(), 1);
}

async fn forged_tokens_and_malformed_accept_bodies_are_refused<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, token) = f.invite("guest@example.com").await;
    let stored = f
        .app
        .users
        .manager()
        .store()
        .invitation(&Uuid::parse_str(invitation["id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut changed: Vec<char> = token.chars().collect();
    let middle = changed.len() / 2;
    changed[middle] = if changed[middle] == 'A' { 'B' } else { 'A' };
    let changed: String = changed.into_iter().collect();
    let (other_token, _) = minted_token().await;
    for forged in [
        String::new(),
        "x".to_owned(),
        changed,
        token[..token.len() - 1].to_owned(),
        format!("{token}A"),
        format!("{token} "),
        format!(" {token}"),
        token.to_uppercase(),
        stored.token_digest.clone(),
        invitation["id"].as_str().unwrap().to_owned(),
        other_token,
        "\u{0}".repeat(43),
        "a".repeat(10_000),
    ] {
        let (status, body) = f.app.call(accept(&forged, PASSWORD)).await;
        assert_code(status, &body, "INVITATION_BAD_TOKEN");
    }
    // Schema errors: 422.
    for body in [
        json!({"password": PASSWORD}),
        json!({"token": token}),
        json!({"token": 5, "password": PASSWORD}),
        json!({"token": null, "password": PASSWORD}),
        json!({"token": token, "password": 5}),
        json!({"token": token, "password": null}),
        json!([token, PASSWORD]),
    ] {
        let (status, answer) = f.app.call(accept_request(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    let good = json!({"token": token, "password": PASSWORD}).to_string();
    for content_type in [None, Some("text/plain")] {
        let (status, answer) = f
            .app
            .call(raw_request(
                "POST",
                ACCEPT,
                None,
                content_type,
                good.clone(),
            ))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type:?}: {answer}"
        );
    }
    // Another method on the route.
    let (status, _) = f.app.call(get(ACCEPT, None)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // The real token still works.
    assert!(f.user("guest@example.com").await.is_none());
    let (status, body) = f.app.call(accept(&token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn an_expired_invitations_token_is_refused_and_the_address_can_be_invited_again<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    // An invitation made two days ago for one day.
    let (token, digest) = minted_token().await;
    let made = Utc::now() - chrono::Duration::days(2);
    let expired = Invitation::new("late@example.com", None, made, 1, digest);
    f.app
        .users
        .manager()
        .store()
        .create_invitation(expired.clone())
        .await
        .unwrap();
    let (status, body) = f.app.call(accept(&token, PASSWORD)).await;
    assert_code(status, &body, "INVITATION_BAD_TOKEN");
    assert!(f.user("late@example.com").await.is_none());
    // It is listed as it is: not accepted, not revoked, expired.
    let body = f.get_invitation(&json!(expired.id.to_string())).await;
    assert_invitation_object(&body);
    assert_eq!(body["accepted_at"], Value::Null);
    assert_eq!(body["revoked"], false);
    assert!(time(&body["expires_at"]) < Utc::now());
    // No longer pending: the address may be invited again, in any case.
    let (again, new_token) = f.invite("LATE@example.com").await;
    assert_ne!(again["id"], body["id"]);
    let (status, body) = f.app.call(accept(&token, PASSWORD)).await;
    assert_code(status, &body, "INVITATION_BAD_TOKEN");
    let (status, user) = f.app.call(accept(&new_token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "LATE@example.com");
}

async fn a_refused_password_answers_invitation_invalid_password_and_leaves_the_token_usable<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, token) = f.invite("guest@example.com").await;
    for password in [
        "",
        "short",
        "\u{e4}".repeat(7).as_str(),
        "12345678",
        "password",
        "my guest@example.com pw",
        "x-GUEST@EXAMPLE.COM-x",
        "x".repeat(2000).as_str(),
    ] {
        let (status, body) = f.app.call(accept(&token, password)).await;
        assert_code_with_reason(status, &body, "INVITATION_INVALID_PASSWORD");
    }
    assert!(f.user("guest@example.com").await.is_none());
    assert_eq!(f.get_invitation(&invitation["id"]).await, invitation);
    assert!(f.hooks.accepted().is_empty());
    let (status, body) = f.app.call(accept(&token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn accept_for_an_address_that_got_an_account_meanwhile_is_refused_and_leaves_the_token_usable<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, token) = f.invite("Meanwhile@example.com").await;
    // Someone registers the address, in another case.
    let (status, registered) = f
        .app
        .call(json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "MEANWHILE@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    for _ in 0..2 {
        let (status, body) = f.app.call(accept(&token, NEW_PASSWORD)).await;
        assert_code(status, &body, "REGISTER_USER_ALREADY_EXISTS");
    }
    // The invitation is not used up, and the registered account is untouched.
    assert_eq!(f.get_invitation(&invitation["id"]).await, invitation);
    assert!(f.hooks.accepted().is_empty());
    let stored = f.user("meanwhile@example.com").await.unwrap();
    assert_eq!(stored.data.email, "MEANWHILE@example.com");
    assert!(!stored.data.is_verified);
    f.app.login("meanwhile@example.com").await;
    // Once the address is free again, the same token makes the account.
    let (status, _) = f
        .app
        .call(delete(
            &format!("/users/{}", registered["id"].as_str().unwrap()),
            Some(&f.admin_token),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, user) = f.app.call(accept(&token, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "Meanwhile@example.com");
    assert_eq!(user["is_verified"], true);
}

// ---------------------------------------------------------------------------
// Who may be invited.

async fn invite_refuses_an_address_that_has_a_user_in_any_case<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    for email in [
        "admin@example.com",
        "ADMIN@example.com",
        "user@example.com",
        "User@EXAMPLE.com",
        "uSeR@example.com",
    ] {
        let (status, body) = f
            .call_admin(invite_request(
                Some(&f.admin_token),
                &json!({ "email": email }),
            ))
            .await;
        assert_code(status, &body, "INVITATION_USER_ALREADY_EXISTS");
    }
    assert_eq!(f.count().await, 0);
    assert!(f.hooks.events().is_empty());
}

async fn invite_refuses_an_address_with_a_pending_invitation_until_it_is_revoked_or_accepted<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (first, first_token) = f.invite("pending@example.com").await;
    for email in [
        "pending@example.com",
        "PENDING@example.com",
        "Pending@Example.COM",
    ] {
        let (status, body) = f
            .call_admin(invite_request(
                Some(&f.admin_token),
                &json!({ "email": email }),
            ))
            .await;
        assert_code(status, &body, "INVITATION_ALREADY_PENDING");
    }
    assert_eq!(f.count().await, 1);
    // Revoked: the address may be invited again.
    let (status, _) = f
        .app
        .call(delete(
            &invitation_uri(first["id"].as_str().unwrap()),
            Some(&f.admin_token),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (second, second_token) = f.invite("PENDING@example.com").await;
    assert_eq!(second["email"], "PENDING@example.com");
    assert_eq!(f.count().await, 2);
    let (status, body) = f
        .call_admin(invite_request(
            Some(&f.admin_token),
            &json!({"email": "pending@example.com"}),
        ))
        .await;
    assert_code(status, &body, "INVITATION_ALREADY_PENDING");
    // Only the second token works.
    let (status, body) = f.app.call(accept(&first_token, PASSWORD)).await;
    assert_code(status, &body, "INVITATION_BAD_TOKEN");
    let (status, user) = f.app.call(accept(&second_token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "PENDING@example.com");
    // Accepted: the address has a user now.
    let (status, body) = f
        .call_admin(invite_request(
            Some(&f.admin_token),
            &json!({"email": "pending@example.com"}),
        ))
        .await;
    assert_code(status, &body, "INVITATION_USER_ALREADY_EXISTS");
}

// ---------------------------------------------------------------------------
// Races.

async fn concurrent_accepts_of_one_token_make_exactly_one_account<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (invitation, token) = f.invite("racer@example.com").await;
    let requests = (0..10)
        .map(|i| accept(&token, &format!("{PASSWORD}-{i}")))
        .collect();
    let answers = all_at_once(&f.app, requests).await;
    let created: Vec<&(StatusCode, Value)> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 201: {answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{answers:?}");
            assert!(
                *body == json!({"detail": "INVITATION_BAD_TOKEN"})
                    || *body == json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}),
                "{body}"
            );
        }
    }
    let user = f.user("racer@example.com").await.expect("one account");
    assert_eq!(user.id.to_string(), created[0].1["id"].as_str().unwrap());
    assert_eq!(f.hooks.accepted().len(), 1);
    let after = f.get_invitation(&invitation["id"]).await;
    assert!(!after["accepted_at"].is_null(), "{after}");
    // The token is used up.
    let (status, body) = f.app.call(accept(&token, PASSWORD)).await;
    assert_code(status, &body, "INVITATION_BAD_TOKEN");
}

async fn concurrent_invites_of_one_address_make_exactly_one_pending_invitation<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    // A race is not lost every time: 20 rounds of 10 invites at once, each
    // of an address of its own, in several cases.
    let cases = ["racer", "RACER", "Racer", "rAcEr", "racer"];
    let mut answers_by_round = Vec::new();
    for round in 0..20 {
        let requests = (0..10)
            .map(|i| {
                let email = format!("{}{round}@example.com", cases[i % cases.len()]);
                invite_request(Some(&f.admin_token), &json!({ "email": email }))
            })
            .collect();
        answers_by_round.push(all_at_once(&f.app, requests).await);
    }
    let mut rounds_with_two = 0;
    for answers in &answers_by_round {
        let created = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count();
        assert!(created >= 1, "{answers:?}");
        rounds_with_two += usize::from(created > 1);
        for (status, body) in answers {
            if *status != StatusCode::CREATED {
                assert_code(*status, body, "INVITATION_ALREADY_PENDING");
            }
        }
    }
    assert_eq!(
        rounds_with_two, 0,
        "rounds in which one address got more than one pending invitation"
    );
    assert_eq!(f.count().await, 20);
}

// ---------------------------------------------------------------------------
// Usernames on the accept route.

async fn with_usernames_accept_takes_a_username_with_the_register_codes<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture_with(
        store,
        Config {
            usernames: true,
            ..Config::default()
        },
    )
    .await;
    // A taken name.
    let (status, body) = f
        .app
        .call(json_request(
            "PATCH",
            "/users/me",
            Some(&f.user_token),
            &json!({"username": "Arthur"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (invitation, token) = f.invite("guest@example.com").await;
    let long = "x".repeat(33);
    for name in [
        "\u{212A}ing",
        "\u{FF4B}ing",
        "\u{0430}rthur",
        "a b",
        "a@b.c",
        "ab",
        "",
        long.as_str(),
    ] {
        let (status, body) = f
            .app
            .call(accept_request(
                &json!({"token": token, "password": PASSWORD, "username": name}),
            ))
            .await;
        assert_code_with_reason(status, &body, "INVALID_USERNAME");
    }
    for name in ["Arthur", "arthur", "ARTHUR"] {
        let (status, body) = f
            .app
            .call(accept_request(
                &json!({"token": token, "password": PASSWORD, "username": name}),
            ))
            .await;
        assert_code(status, &body, "REGISTER_USERNAME_ALREADY_EXISTS");
    }
    let (status, body) = f
        .app
        .call(accept_request(
            &json!({"token": token, "password": PASSWORD, "username": 5}),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The token survived every refusal.
    assert!(f.user("guest@example.com").await.is_none());
    assert_eq!(f.get_invitation(&invitation["id"]).await, invitation);
    let (status, user) = f
        .app
        .call(accept_request(
            &json!({"token": token, "password": PASSWORD, "username": "Sir.Guest_1"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(
        keys(&user),
        [
            "email",
            "id",
            "is_active",
            "is_superuser",
            "is_verified",
            "username"
        ]
    );
    assert_eq!(user["username"], "Sir.Guest_1", "as written");
    assert_eq!(user["is_verified"], true);
    let (status, body) = f
        .app
        .call(login_request("/auth/jwt/login", "sir.guest_1", PASSWORD))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Without a name: null.
    let (_, token) = f.invite("nameless@example.com").await;
    let (status, user) = f.app.call(accept(&token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["username"], Value::Null);
}

async fn without_usernames_accept_ignores_a_username<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture(store).await;
    let (_, token) = f.invite("guest@example.com").await;
    let (status, user) = f
        .app
        .call(accept_request(
            &json!({"token": token, "password": PASSWORD, "username": "\u{212A}@ x"}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_plain_user_object(&user);
    assert_eq!(
        f.user("guest@example.com").await.unwrap().data.username,
        None
    );
}

async fn without_usernames_accept_ignores_a_username_key_of_any_json_type<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    // CONTRACT.md §2: unknown JSON keys are ignored; without usernames,
    // `username` is one.
    let f = fixture(store).await;
    let (_, token) = f.invite("guest@example.com").await;
    let (status, user) = f
        .app
        .call(accept_request(
            &json!({"token": token, "password": PASSWORD, "username": 5}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_plain_user_object(&user);
}

// ---------------------------------------------------------------------------
// Hooks.

async fn an_error_from_on_after_invite_answers_with_it_and_the_invitation_stays_pending<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture_with(
        store,
        Config {
            fail_invite: true,
            ..Config::default()
        },
    )
    .await;
    let (status, body) = f
        .call_admin(invite_request(
            Some(&f.admin_token),
            &json!({"email": "guest@example.com"}),
        ))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        !body.to_string().contains("mail server"),
        "no detail leaks: {body}"
    );
    // The invitation stays, pending (its token was handed over).
    let (status, list) = f.list("").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], 1, "{list}");
    let (status, body) = f
        .call_admin(invite_request(
            Some(&f.admin_token),
            &json!({"email": "guest@example.com"}),
        ))
        .await;
    assert_code(status, &body, "INVITATION_ALREADY_PENDING");
}

// ---------------------------------------------------------------------------
// Registration by invitation only.

async fn invite_only_has_no_register_route_and_accounts_come_from_invitations<
    S: UserStore<User = User> + InvitationStore,
>(
    store: S,
) {
    let f = fixture_with(
        store,
        Config {
            invite_only: true,
            ..Config::default()
        },
    )
    .await;
    let (status, _) = f
        .app
        .call(json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "walk-in@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(f.user("walk-in@example.com").await.is_none());
    let (_, token) = f.invite("walk-in@example.com").await;
    let (status, user) = f.app.call(accept(&token, PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["is_verified"], true);
    f.app.login("walk-in@example.com").await;
}

fn oauth_login(email: &str, account_id: &str) -> OAuthLogin {
    OAuthLogin {
        oauth_name: "oidc".to_owned(),
        account_id: account_id.to_owned(),
        email: Some(email.to_owned()),
        email_verified: true,
        access_token: ProviderToken::new("provider-access-token"),
        refresh_token: None,
        expires_at: None,
    }
}

async fn invite_only_refuses_an_oauth_login_that_would_create_an_account<
    S: OAuthAccountStore<User = User> + InvitationStore + Clone,
>(
    store: S,
) {
    let manager = UserManager::builder(store.clone())
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .invite_only(true)
        .build();
    let mut options = OAuthCallbackOptions::default();
    options.associate_by_email = true;
    options.is_verified_by_default = true;
    // A new address: refused, with the code on the wire, and no account.
    let refused = manager
        .oauth_callback(
            oauth_login("newcomer@example.com", "sub-new"),
            options,
            None,
        )
        .await
        .expect_err("no account by OAuth while registration is by invitation");
    assert!(
        matches!(refused, Error::Code(ErrorCode::OAuthRegistrationClosed)),
        "{refused:?}"
    );
    let response = refused.into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(response).await,
        json!({"detail": "OAUTH_REGISTRATION_CLOSED"})
    );
    assert!(manager.get_by_email("newcomer@example.com").await.is_err());
    // An invitation does not open OAuth: it is accepted on its own route.
    manager
        .invite(&Email::parse("invited@example.com").unwrap(), 7, None, None)
        .await
        .unwrap();
    let refused = manager
        .oauth_callback(
            oauth_login("invited@example.com", "sub-invited"),
            options,
            None,
        )
        .await
        .expect_err("an invited address has no account yet");
    assert!(matches!(
        refused,
        Error::Code(ErrorCode::OAuthRegistrationClosed)
    ));
    assert!(manager.get_by_email("invited@example.com").await.is_err());
    // An existing user still logs in by OAuth (linked by a verified address),
    // and again by the link.
    let mut create =
        axum_users::UserCreate::new(Email::parse("member@example.com").unwrap(), PASSWORD);
    create.is_verified = Some(true);
    let member = manager.create(create, false, None).await.unwrap();
    for _ in 0..2 {
        let user = manager
            .oauth_callback(
                oauth_login("MEMBER@example.com", "sub-member"),
                options,
                None,
            )
            .await
            .unwrap();
        assert_eq!(user.id, member.id);
    }
    // Without linking by address, a user's address keeps its own code, and
    // a new one is still closed.
    let refused = manager
        .oauth_callback(
            oauth_login("member@example.com", "sub-other"),
            OAuthCallbackOptions::default(),
            None,
        )
        .await
        .expect_err("not linked by address");
    assert!(
        matches!(refused, Error::Code(ErrorCode::OAuthUserAlreadyExists)),
        "{refused:?}"
    );
    let refused = manager
        .oauth_callback(
            oauth_login("stranger@example.com", "sub-stranger"),
            OAuthCallbackOptions::default(),
            None,
        )
        .await
        .expect_err("no account by OAuth");
    assert!(matches!(
        refused,
        Error::Code(ErrorCode::OAuthRegistrationClosed)
    ));
    // The same logins open accounts when registration is open.
    let open = UserManager::builder(store)
        .hasher(fast_hasher())
        .token_secret(SECRET)
        .build();
    let user = open
        .oauth_callback(
            oauth_login("newcomer@example.com", "sub-new"),
            options,
            None,
        )
        .await
        .unwrap();
    assert_eq!(user.data.email, "newcomer@example.com");
    assert!(user.data.is_active && user.data.is_verified);
}
