//! The `custom_user` example's store keeps every `UserStore` rule: the crate's
//! shared store test suite runs against it. Its profile fields are checked too.

use axum::Router;
use axum::http::StatusCode;
use axum_users::auth::{AuthBackend, BearerTransport, JwtStrategy};
use axum_users::{AxumUsers, Email, UpdatedBy, UserCreate, UserFields, UserManager, UserUpdate};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common;
use crate::store;
use crate::user::{AppUser, DEFAULT_ROLE, Profile, ProfileCreate, ProfileUpdate};

// Several threads, so that the suite's concurrent registrations really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_example_store_passes_the_store_suite() {
    axum_users::store::suite::run(|| async { store::AppStore::new() }).await;
}

#[test]
fn the_profile_is_required_at_registration_and_trimmed() {
    let body = json!({"email": "arthur@camelot.bt", "password": "guinevere-1"});
    assert!(serde_json::from_value::<UserCreate<ProfileCreate>>(body).is_err());
    let body =
        json!({"email": "arthur@camelot.bt", "password": "guinevere-1", "display_name": " "});
    assert!(serde_json::from_value::<UserCreate<ProfileCreate>>(body).is_err());

    let body = json!({"email": "arthur@camelot.bt", "password": "guinevere-1", "display_name": " Arthur "});
    let create: UserCreate<ProfileCreate> = serde_json::from_value(body).unwrap();
    let profile = Profile::create(create.fields);
    assert_eq!(profile.display_name, "Arthur");
    assert_eq!(profile.locale, None);
    assert_eq!(profile.role, DEFAULT_ROLE, "no role of the user's choice");
}

#[test]
fn a_patch_changes_only_the_keys_it_has_and_null_clears_the_locale() {
    let mut profile = Profile {
        display_name: "Arthur".into(),
        locale: Some("fr-FR".into()),
        role: DEFAULT_ROLE.into(),
    };
    let patch = |body| {
        serde_json::from_value::<UserUpdate<ProfileUpdate>>(body)
            .unwrap()
            .fields
    };

    profile.update(patch(json!({"email": "king@camelot.bt"})), UpdatedBy::Owner);
    assert_eq!(
        (profile.display_name.as_str(), profile.locale.as_deref()),
        ("Arthur", Some("fr-FR"))
    );
    profile.update(
        patch(json!({"display_name": "King Arthur"})),
        UpdatedBy::Owner,
    );
    assert_eq!(
        (profile.display_name.as_str(), profile.locale.as_deref()),
        ("King Arthur", Some("fr-FR"))
    );
    profile.update(patch(json!({"locale": null})), UpdatedBy::Owner);
    assert_eq!(
        (profile.display_name.as_str(), profile.locale.as_deref()),
        ("King Arthur", None)
    );

    let blank = json!({"display_name": ""});
    assert!(serde_json::from_value::<UserUpdate<ProfileUpdate>>(blank).is_err());
}

// ---------------------------------------------------------------------------
// An admin-only field over HTTP: the example's `role`.

/// The example's routes over its store, in process.
fn app() -> (Router, UserManager<store::AppStore>) {
    let bearer: AuthBackend<AppUser> = AuthBackend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::hs256(common::SECRET).unwrap(),
    );
    let manager = UserManager::builder(store::AppStore::new())
        .hasher(common::fast_hasher())
        .token_secret(common::SECRET)
        .build();
    let users = AxumUsers::new(manager.clone(), vec![bearer.clone()]);
    let router = Router::new()
        .nest("/auth/jwt", users.auth_router(&bearer))
        .nest("/auth", users.register_router())
        .nest("/users", users.users_router())
        .layer(users.layer());
    (router, manager)
}

async fn call(
    router: &Router,
    request: axum::http::Request<axum::body::Body>,
) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, common::body_json(response).await)
}

async fn login(router: &Router, email: &str) -> String {
    let (status, body) = call(
        router,
        common::login_request("/auth/jwt/login", email, common::PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_cannot_set_an_admin_only_field_but_a_superuser_can() {
    let (router, manager) = app();
    let (status, body) = call(
        &router,
        common::json_request(
            "POST",
            "/auth/register",
            None,
            &json!({"email": "arthur@camelot.bt", "password": common::PASSWORD,
                    "display_name": "Arthur", "role": "moderator"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], DEFAULT_ROLE, "not at registration");
    let id = body["id"].as_i64().unwrap();
    let token = login(&router, "arthur@camelot.bt").await;

    // The user's own PATCH: the role is ignored, the rest applies.
    let (status, body) = call(
        &router,
        common::json_request(
            "PATCH",
            "/users/me",
            Some(&token),
            &json!({"role": "moderator", "display_name": "King Arthur"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], DEFAULT_ROLE, "{body}");
    assert_eq!(body["display_name"], "King Arthur");
    let stored = manager.get(&id).await.unwrap();
    assert_eq!(stored.data.fields.role, DEFAULT_ROLE, "nothing stored");

    // A superuser's PATCH /users/{id} sets it.
    let mut create = UserCreate::with_fields(
        Email::parse("merlin@camelot.bt").unwrap(),
        common::PASSWORD,
        serde_json::from_value::<ProfileCreate>(json!({"display_name": "Merlin"})).unwrap(),
    );
    create.is_superuser = Some(true);
    manager.create(create, false, None).await.unwrap();
    let admin = login(&router, "merlin@camelot.bt").await;
    let (status, body) = call(
        &router,
        common::json_request(
            "PATCH",
            &format!("/users/{id}"),
            Some(&admin),
            &json!({"role": "moderator"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "moderator");
    assert_eq!(
        manager.get(&id).await.unwrap().data.fields.role,
        "moderator"
    );
    // And the user sees it, without being able to change it back.
    let (_, body) = call(&router, common::get("/users/me", Some(&token))).await;
    assert_eq!(body["role"], "moderator");
}
