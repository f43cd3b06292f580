//! The user model: the core fields every user has, the application's own fields,
//! and the bodies of register and update requests.
//!
//! Most applications use the ready-made [`User`] type, choosing their own fields
//! with its `F` parameter (see [`UserFields`]) and their id type with `Id`.
//! An application with its own user struct implements [`UserModel`] instead.

use std::fmt::{self, Debug, Display};
use std::hash::Hash;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::email::Email;

/// A user id type: UUID by default, integers possible.
///
/// The id travels as a string in tokens (`sub`) and in paths (`/users/{id}`), so it
/// must print with [`Display`] and parse back with [`FromStr`]. In JSON responses it
/// is serialised with [`Serialize`].
pub trait UserId:
    Clone + Eq + Hash + Debug + Display + FromStr + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// A fresh id for a new user, for stores that assign ids themselves (the
    /// memory store). `seq` counts up from 1 in that store; random ids ignore it.
    fn generate(seq: u64) -> Self;

    /// The JSON Schema of the id as responses and paths show it, for OpenAPI
    /// documents: `{"type": "string"}` unless the id type says more (UUIDs
    /// are strings of format `uuid`, the integer ids integers).
    fn json_schema() -> serde_json::Value {
        serde_json::json!({"type": "string"})
    }
}

impl UserId for Uuid {
    fn generate(_seq: u64) -> Self {
        Uuid::new_v4()
    }
    fn json_schema() -> serde_json::Value {
        serde_json::json!({"type": "string", "format": "uuid"})
    }
}

macro_rules! int_user_id {
    ($($t:ty => $schema:tt),*) => {$(
        impl UserId for $t {
            fn generate(seq: u64) -> Self {
                <$t>::try_from(seq).unwrap_or(<$t>::MAX)
            }
            fn json_schema() -> serde_json::Value {
                serde_json::json!($schema)
            }
        }
    )*};
}
int_user_id!(
    i32 => {"type": "integer", "format": "int32"},
    i64 => {"type": "integer", "format": "int64"},
    u32 => {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295_u32},
    u64 => {"type": "integer", "minimum": 0, "maximum": 18446744073709551615_u64}
);

/// The application's own fields on a user (`display_name`, …), beside the core ones.
///
/// They flow through register, update and read without the application rewriting a
/// router: the register body is flattened into [`UserFields::Create`], the PATCH body
/// into [`UserFields::Update`], and responses include the fields as [`Serialize`]
/// writes them (so only put there what the API may show).
///
/// For OpenAPI documents (feature `openapi`), [`UserFields::read_schema`],
/// [`UserFields::create_schema`] and [`UserFields::update_schema`] describe the
/// fields as JSON Schemas (2020-12, as OpenAPI 3.1 uses): object schemas whose
/// `properties` and `required` are merged into the user object, the register
/// body and the PATCH body. The defaults say "an object" and nothing more; an
/// application writes its own with [`serde_json::json!`] or from a schema
/// generator (schemars, utoipa) serialised to JSON.
///
/// A field only a superuser may set (`plan` here) is ignored in an update by
/// the user themselves, as `is_superuser` is: [`UserFields::update`] is told
/// who asks ([`UpdatedBy`]).
///
/// ```
/// use axum_users::{UpdatedBy, UserFields};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Default, Serialize, Deserialize)]
/// struct Profile {
///     display_name: Option<String>,
///     plan: String,
/// }
///
/// #[derive(Debug, Default, Deserialize)]
/// struct ProfileUpdate {
///     // A missing key keeps the value.
///     display_name: Option<String>,
///     plan: Option<String>,
/// }
///
/// impl UserFields for Profile {
///     type Create = Profile;
///     type Update = ProfileUpdate;
///     fn create(input: Profile) -> Self {
///         // Registration is the user's own request: no plan of their choice.
///         Profile { plan: "free".into(), ..input }
///     }
///     fn update(&mut self, update: ProfileUpdate, by: UpdatedBy) {
///         if let Some(name) = update.display_name {
///             self.display_name = Some(name);
///         }
///         if let Some(plan) = update.plan
///             && by == UpdatedBy::Superuser
///         {
///             self.plan = plan;
///         }
///     }
/// }
///
/// let mut profile = Profile::default();
/// let upgrade = || ProfileUpdate { plan: Some("gold".into()), ..Default::default() };
/// profile.update(upgrade(), UpdatedBy::Owner);
/// assert_eq!(profile.plan, "");
/// profile.update(upgrade(), UpdatedBy::Superuser);
/// assert_eq!(profile.plan, "gold");
/// ```
pub trait UserFields: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What the register body may carry for these fields (flattened into it).
    type Create: DeserializeOwned + Send + 'static;
    /// What a PATCH body may carry for these fields (flattened into it).
    type Update: DeserializeOwned + Default + Send + 'static;
    /// The fields of a new user.
    fn create(input: Self::Create) -> Self;
    /// Applies a PATCH asked for `by` the user themselves or a superuser:
    /// ignore in an [`UpdatedBy::Owner`] update the fields a user must not set
    /// on their own account (a role, a plan).
    fn update(&mut self, update: Self::Update, by: UpdatedBy);

    /// The JSON Schema of these fields as responses show them (see the trait's
    /// documentation); by default any object. `additionalProperties: false`
    /// here closes the user object to the listed keys.
    fn read_schema() -> serde_json::Value {
        serde_json::json!({"type": "object"})
    }
    /// The JSON Schema of [`UserFields::Create`] in the register body; by
    /// default any object.
    fn create_schema() -> serde_json::Value {
        serde_json::json!({"type": "object"})
    }
    /// The JSON Schema of [`UserFields::Update`] in the PATCH body; by default
    /// any object.
    fn update_schema() -> serde_json::Value {
        serde_json::json!({"type": "object"})
    }
}

/// Who asks for an update of a user's fields, as [`UserFields::update`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdatedBy {
    /// The user themselves: `PATCH /users/me`, a *safe*
    /// [`UserManager::update`](crate::UserManager::update).
    Owner,
    /// A superuser (`PATCH /users/{id}`), or the application's own code: an
    /// unsafe [`UserManager::update`](crate::UserManager::update).
    Superuser,
}

/// No fields of the application's own: the user object is exactly the core one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoFields {}

impl UserFields for NoFields {
    type Create = NoFields;
    type Update = NoFields;
    fn create(input: Self::Create) -> Self {
        input
    }
    fn update(&mut self, _update: Self::Update, _by: UpdatedBy) {}
    fn read_schema() -> serde_json::Value {
        // The user object is exactly the core one.
        serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false})
    }
    fn create_schema() -> serde_json::Value {
        // Unknown keys in a body are ignored, not refused.
        serde_json::json!({"type": "object", "properties": {}})
    }
    fn update_schema() -> serde_json::Value {
        serde_json::json!({"type": "object", "properties": {}})
    }
}

/// A password hash in PHC or bcrypt format. Its `Debug` output is redacted and it
/// is never serialised into a response.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a stored hash.
    pub fn new(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }
    /// The hash string as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything a user is, but the id: the core fields and the application's own.
#[derive(Debug, Clone)]
pub struct UserData<F> {
    /// The address, unique among users (ASCII-case-insensitively).
    pub email: String,
    /// The password hash (argon2id by default; bcrypt and other argon2 parameters
    /// verify too).
    pub hashed_password: PasswordHash,
    /// Inactive users cannot log in nor use their tokens.
    pub is_active: bool,
    /// Superusers may administer other users.
    pub is_superuser: bool,
    /// Whether the user proved they own the address.
    pub is_verified: bool,
    /// The application's own fields.
    pub fields: F,
    /// The username, when the application has usernames
    /// ([`UserManagerBuilder::usernames`](crate::UserManagerBuilder::usernames)):
    /// unique among users ASCII-case-insensitively, stored as written.
    /// `None` for a user without one (every user of an application without
    /// usernames).
    pub username: Option<String>,
    /// The generation of the user's tokens: raised when every token and
    /// session issued so far must end (a password reset, a superuser's
    /// password change, a deactivation, an OAuth login that takes the address
    /// back). Access tokens carry it (claim `gen`) and sessions are bound to
    /// it, so an older one is refused when the user is loaded. 0 for a new
    /// user; stores keep it and never lower it.
    pub token_generation: u32,
    /// The generation of the user's password: raised by the store whenever a
    /// new password is written (not when the same password is hashed again,
    /// an upgrade). Sessions are bound to it, so every password change ends
    /// the sessions opened before it, even one stored by a login that raced
    /// the change. 0 for a new user.
    pub password_generation: u32,
}

impl<F> UserData<F> {
    /// A new user's data: active, not a superuser, not verified, generations
    /// 0.
    ///
    /// ```
    /// use axum_users::{NoFields, UserData, user::PasswordHash};
    /// let data = UserData::new("king.arthur@camelot.bt", PasswordHash::new("$argon2id$…"), NoFields {});
    /// assert!(data.is_active && !data.is_superuser && !data.is_verified);
    /// ```
    pub fn new(email: impl Into<String>, hashed_password: PasswordHash, fields: F) -> Self {
        Self {
            email: email.into(),
            hashed_password,
            is_active: true,
            is_superuser: false,
            is_verified: false,
            fields,
            username: None,
            token_generation: 0,
            password_generation: 0,
        }
    }
}

/// What the crate needs of a user type.
///
/// Implemented by the ready-made [`User`]; an application with its own struct
/// implements it by giving access to a [`UserData`] and an id.
pub trait UserModel: Clone + Debug + Send + Sync + 'static {
    /// The id type (UUID by default).
    type Id: UserId;
    /// The application's own fields.
    type Fields: UserFields;

    /// Builds a user from an id and its data (used by stores).
    fn from_parts(id: Self::Id, data: UserData<Self::Fields>) -> Self;
    /// The user's id.
    fn id(&self) -> &Self::Id;
    /// The user's data.
    fn data(&self) -> &UserData<Self::Fields>;
    /// The user's data, mutably.
    fn data_mut(&mut self) -> &mut UserData<Self::Fields>;

    /// The user's e-mail address.
    fn email(&self) -> &str {
        &self.data().email
    }
    /// Whether the user may log in.
    fn is_active(&self) -> bool {
        self.data().is_active
    }
    /// Whether the user is a superuser.
    fn is_superuser(&self) -> bool {
        self.data().is_superuser
    }
    /// Whether the user verified their address.
    fn is_verified(&self) -> bool {
        self.data().is_verified
    }
    /// The user as a response shows it: id, core flags and the application's
    /// fields, never the password hash (and no username: see
    /// [`UserRead::with_username`]).
    fn read(&self) -> UserRead<'_, Self> {
        UserRead {
            user: self,
            username: false,
        }
    }
}

/// The ready-made user type: the core fields, the application's fields `F` and the
/// id type `Id`.
///
/// ```
/// use axum_users::{NoFields, User};
/// // The FastAPI Users user: UUID id, no extra fields.
/// type MyUser = User;
/// // With integer ids:
/// type IntUser = User<NoFields, i64>;
/// ```
#[derive(Debug, Clone)]
pub struct User<F = NoFields, Id = Uuid> {
    /// The id.
    pub id: Id,
    /// Everything else.
    pub data: UserData<F>,
}

impl<F: UserFields, Id: UserId> UserModel for User<F, Id> {
    type Id = Id;
    type Fields = F;
    fn from_parts(id: Id, data: UserData<F>) -> Self {
        User { id, data }
    }
    fn id(&self) -> &Id {
        &self.id
    }
    fn data(&self) -> &UserData<F> {
        &self.data
    }
    fn data_mut(&mut self) -> &mut UserData<F> {
        &mut self.data
    }
}

/// A user as the API shows it (`{"id", "email", "is_active", "is_superuser",
/// "is_verified", …app fields}`, and `"username"` when the application has
/// usernames); serialise it to answer with a user.
pub struct UserRead<'a, U: ?Sized> {
    user: &'a U,
    username: bool,
}

impl<'a, U: ?Sized> UserRead<'a, U> {
    /// Shows `"username"` too (a string, or `null` for a user without one)
    /// when `shown`: what the routers do when usernames are on
    /// ([`UserManager::read`](crate::UserManager::read)).
    pub fn with_username(mut self, shown: bool) -> Self {
        self.username = shown;
        self
    }
}

impl<U: UserModel> Serialize for UserRead<'_, U> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr<'a, Id, F> {
            id: &'a Id,
            email: &'a str,
            is_active: bool,
            is_superuser: bool,
            is_verified: bool,
            // Absent without usernames; `null` for a user without one.
            #[serde(skip_serializing_if = "Option::is_none")]
            username: Option<Option<&'a str>>,
            #[serde(flatten)]
            fields: &'a F,
        }
        let data = self.user.data();
        Repr {
            id: self.user.id(),
            email: &data.email,
            is_active: data.is_active,
            is_superuser: data.is_superuser,
            is_verified: data.is_verified,
            username: self.username.then_some(data.username.as_deref()),
            fields: &data.fields,
        }
        .serialize(serializer)
    }
}

/// A password as received: its `Debug` output is redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a plain-text password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }
    /// The plain text, to hash or validate it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The register body (`{"email", "password", …app fields}`) and the input of
/// [`UserManager::create`](crate::UserManager::create).
///
/// `is_active`, `is_superuser` and `is_verified` are honoured only by an unsafe
/// create (the application's own code); the register router ignores them.
#[derive(Debug, Deserialize)]
pub struct UserCreate<C> {
    /// The address.
    pub email: Email,
    /// The plain-text password.
    pub password: Password,
    /// Defaults to true.
    #[serde(default, deserialize_with = "non_null")]
    pub is_active: Option<bool>,
    /// Defaults to false.
    #[serde(default, deserialize_with = "non_null")]
    pub is_superuser: Option<bool>,
    /// Defaults to false.
    #[serde(default, deserialize_with = "non_null")]
    pub is_verified: Option<bool>,
    /// The username, as sent (checked by the manager when usernames are on,
    /// ignored otherwise, whatever its JSON type; `null` is no username).
    #[serde(default)]
    pub username: crate::username::UsernameInput,
    /// The application's own fields.
    #[serde(flatten)]
    pub fields: C,
}

impl<C: Default> UserCreate<C> {
    /// A create request with only an address and a password (the
    /// application's fields at their default; see
    /// [`with_fields`](UserCreate::with_fields) for fields without one).
    pub fn new(email: Email, password: impl Into<String>) -> Self {
        Self::with_fields(email, password, C::default())
    }
}

impl<C> UserCreate<C> {
    /// A create request with an address, a password and the application's
    /// fields: what [`UserManager::create`](crate::UserManager::create) takes
    /// to create a user from the application's own code (a command that
    /// creates the first superuser, say). Set `is_superuser`, `is_verified` or
    /// `is_active` on it before an unsafe create.
    ///
    /// ```
    /// # async fn run() -> axum_users::Result<()> {
    /// use axum_users::{Email, User, UserCreate, UserManager, store::MemoryStore};
    /// let manager = UserManager::new(MemoryStore::<User>::new());
    /// let mut admin = UserCreate::with_fields(
    ///     Email::parse("admin@example.com").expect("a valid address"),
    ///     "a long admin password",
    ///     axum_users::NoFields {},
    /// );
    /// admin.is_superuser = Some(true);
    /// admin.is_verified = Some(true);
    /// // Unsafe (`false`): the flags are honoured.
    /// let admin = manager.create(admin, false, None).await?;
    /// assert!(admin.data.is_superuser);
    /// # Ok(()) }
    /// ```
    pub fn with_fields(email: Email, password: impl Into<String>, fields: C) -> Self {
        Self {
            email,
            password: Password::new(password),
            is_active: None,
            is_superuser: None,
            is_verified: None,
            username: crate::username::UsernameInput::Absent,
            fields,
        }
    }
}

/// The PATCH body of `/users/me` and `/users/{id}`, and the input of
/// [`UserManager::update`](crate::UserManager::update). Absent keys change nothing;
/// `null` for a core field is rejected (422).
///
/// A safe update (`/users/me`) ignores `is_active`, `is_superuser` and `is_verified`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de> + Default"))]
pub struct UserUpdate<P> {
    /// A new address (sets `is_verified` to false when it differs).
    #[serde(default, deserialize_with = "non_null")]
    pub email: Option<Email>,
    /// A new password.
    #[serde(default, deserialize_with = "non_null")]
    pub password: Option<Password>,
    /// The current password: checked for a new password or address when
    /// the manager requires it
    /// ([`UserManagerBuilder::current_password_on_update`](crate::UserManagerBuilder::current_password_on_update)),
    /// ignored otherwise.
    #[serde(default, deserialize_with = "non_null")]
    pub current_password: Option<Password>,
    /// Superusers only.
    #[serde(default, deserialize_with = "non_null")]
    pub is_active: Option<bool>,
    /// Superusers only.
    #[serde(default, deserialize_with = "non_null")]
    pub is_superuser: Option<bool>,
    /// Superusers only.
    #[serde(default, deserialize_with = "non_null")]
    pub is_verified: Option<bool>,
    /// A new username, as sent (checked by the manager when usernames are
    /// on, ignored otherwise, whatever its JSON type; `null` changes
    /// nothing).
    #[serde(default)]
    pub username: crate::username::UsernameInput,
    /// The application's own fields.
    #[serde(flatten)]
    pub fields: P,
}

impl<P: Default> Default for UserUpdate<P> {
    fn default() -> Self {
        Self {
            email: None,
            password: None,
            current_password: None,
            is_active: None,
            is_superuser: None,
            is_verified: None,
            username: crate::username::UsernameInput::Absent,
            fields: P::default(),
        }
    }
}

/// Deserialises a present key as `Some(value)`, rejecting `null` (which serde would
/// otherwise read as an absent `Option`).
fn non_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}
