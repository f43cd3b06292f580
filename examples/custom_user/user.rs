//! The application's user: an integer id, the core fields every user has
//! ([`UserData`]: e-mail, password hash, flags) and the application's own
//! fields ([`Profile`]).

use axum_users::{UpdatedBy, UserData, UserFields, UserModel};
use serde::{Deserialize, Deserializer, Serialize, de};

/// The application's user type.
///
/// [`UserModel`] hands out the core fields as one [`UserData`], so the struct
/// holds one beside its id (it is laid out as the ready-made
/// `axum_users::User<Profile, i64>`). Being the application's own type, it can
/// have methods and trait implementations of its own, such as [`AppUser::greeting`].
#[derive(Debug, Clone)]
pub struct AppUser {
    /// Assigned by the store: 1, 2, 3, … (`/users/{id}` takes it as an integer).
    pub id: i64,
    /// The e-mail address, password hash, flags and [`Profile`].
    pub data: UserData<Profile>,
}

impl UserModel for AppUser {
    type Id = i64; // any integer type works: the crate implements `UserId` for them
    type Fields = Profile;

    fn from_parts(id: i64, data: UserData<Profile>) -> Self {
        AppUser { id, data }
    }
    fn id(&self) -> &i64 {
        &self.id
    }
    fn data(&self) -> &UserData<Profile> {
        &self.data
    }
    fn data_mut(&mut self) -> &mut UserData<Profile> {
        &mut self.data
    }
}

impl AppUser {
    /// A greeting in the user's language, by the name they chose.
    pub fn greeting(&self) -> String {
        let name = &self.data.fields.display_name;
        match self.data.fields.locale.as_deref() {
            Some(locale) if locale.starts_with("fr") => format!("Bonjour, {name} !"),
            Some(locale) if locale.starts_with("de") => format!("Hallo, {name}!"),
            _ => format!("Hello, {name}!"),
        }
    }
}

/// The application's own fields, as stored and as responses show them:
/// flattened into the user object beside `id`, `email`, `is_active`, ….
///
/// `Default` is only what the crate's store test suite creates its users with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// The name shown to other users.
    pub display_name: String,
    /// A BCP 47 language tag such as `fr-FR`, if the user chose one.
    pub locale: Option<String>,
    /// What the user may do in the application (`member`, `moderator`):
    /// readable by the user, set by superusers only.
    pub role: String,
}

/// The role of a new user.
pub const DEFAULT_ROLE: &str = "member";

/// What `POST /auth/register` takes beside `email` and `password`:
/// `display_name` is required and must not be blank (else 422).
#[derive(Debug, Deserialize)]
pub struct ProfileCreate {
    #[serde(deserialize_with = "non_blank")]
    display_name: String,
    #[serde(default)]
    locale: Option<String>,
}

/// What `PATCH /users/me` (and `/users/{id}`) takes beside the core fields: a
/// missing key keeps the value, `"locale": null` clears the locale. `role` is
/// read from every PATCH but applied only to a superuser's (`PATCH
/// /users/{id}`), as `is_superuser` is.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileUpdate {
    #[serde(default, deserialize_with = "some_non_blank")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "some_non_blank")]
    role: Option<String>,
}

impl UserFields for Profile {
    type Create = ProfileCreate;
    type Update = ProfileUpdate;

    fn create(input: ProfileCreate) -> Self {
        Profile {
            display_name: input.display_name,
            locale: input.locale,
            // Registration is the user's own request: never a role of their choice.
            role: DEFAULT_ROLE.to_owned(),
        }
    }

    fn update(&mut self, update: ProfileUpdate, by: UpdatedBy) {
        if let Some(display_name) = update.display_name {
            self.display_name = display_name;
        }
        if let Some(locale) = update.locale {
            self.locale = locale;
        }
        // Admin-only: a user's own PATCH /users/me cannot change it.
        if let Some(role) = update.role
            && by == UpdatedBy::Superuser
        {
            self.role = role;
        }
    }
}

/// A trimmed, non-empty string. `UserFields::create` and `update` cannot fail,
/// so the application's fields are validated as they are deserialised: a bad
/// value answers 422, as any malformed body.
fn non_blank<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.trim() {
        "" => Err(de::Error::custom("must not be blank")),
        trimmed => Ok(trimmed.to_owned()),
    }
}

fn some_non_blank<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    non_blank(deserializer).map(Some)
}

/// A key that is present, even as `null`, is `Some(…)`: `Some(None)` clears.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}
