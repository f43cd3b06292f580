//! The `custom_user` example's store keeps every `UserStore` rule: the crate's
//! shared store test suite runs against it. Its profile fields are checked too.

// The example's modules, compiled into this test. What only the example's
// server uses (`AppUser::greeting`) is dead code here.
#[allow(dead_code)]
#[path = "../examples/custom_user/user.rs"]
mod user;

#[path = "../examples/custom_user/store.rs"]
mod store;

use axum_users::{UserCreate, UserFields, UserUpdate};
use serde_json::json;

use crate::user::{Profile, ProfileCreate, ProfileUpdate};

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
}

#[test]
fn a_patch_changes_only_the_keys_it_has_and_null_clears_the_locale() {
    let mut profile = Profile {
        display_name: "Arthur".into(),
        locale: Some("fr-FR".into()),
    };
    let patch = |body| {
        serde_json::from_value::<UserUpdate<ProfileUpdate>>(body)
            .unwrap()
            .fields
    };

    profile.update(patch(json!({"email": "king@camelot.bt"})));
    assert_eq!(
        (profile.display_name.as_str(), profile.locale.as_deref()),
        ("Arthur", Some("fr-FR"))
    );
    profile.update(patch(json!({"display_name": "King Arthur"})));
    assert_eq!(
        (profile.display_name.as_str(), profile.locale.as_deref()),
        ("King Arthur", Some("fr-FR"))
    );
    profile.update(patch(json!({"locale": null})));
    assert_eq!(
        (profile.display_name.as_str(), profile.locale.as_deref()),
        ("King Arthur", None)
    );

    let blank = json!({"display_name": ""});
    assert!(serde_json::from_value::<UserUpdate<ProfileUpdate>>(blank).is_err());
}
