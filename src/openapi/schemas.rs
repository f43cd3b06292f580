//! The document's schemas in utoipa's model: the fixed ones (login form,
//! bearer response, validation errors, …), the user schemas (the core keys
//! merged with the application's fields), and the exact conversion of the
//! application's JSON Schemas ([`UserFields`], [`UserId`]) into the model.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayBuilder, KnownFormat, Object, ObjectBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

use crate::user::{UserFields, UserId, UserModel};

/// The component schemas being built, by name; `None` is a name taken (so
/// that a hoisted definition avoids it) whose schema comes later.
pub(super) type SchemaMap = BTreeMap<String, Option<RefOr<Schema>>>;

/// `{"$ref": "#/components/schemas/{name}"}`.
pub(super) fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// `{"type": "string"}`, to refine.
pub(super) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// `{"type": "string", "description": …}`.
pub(super) fn described_string(description: &str) -> RefOr<Schema> {
    string().description(Some(description)).into()
}

/// A format that utoipa does not name (`email`, `uri`): serialised as given.
pub(super) fn format(name: &str) -> Option<SchemaFormat> {
    Some(SchemaFormat::Custom(name.to_owned()))
}

/// `{"type": "string", "format": "password"}`, to refine.
fn password() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
}

fn boolean(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some(description))
        .into()
}

/// `{"type": "object", "required": ["detail"], "properties": {"detail":
/// {"type": "string", "enum": [text]}}}`: a body with exactly that `detail`.
pub(super) fn detail_schema(text: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .required("detail")
        .property("detail", string().enum_values(Some([text])))
        .into()
}

/// `{"type": "null"}`: the JSON `null` body of FastAPI Users' 202s.
pub(super) fn null() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Null).into()
}

/// `{"type": "string", "enum": values}`: the 400 `detail` codes.
pub(super) fn string_enum(values: &[&str]) -> RefOr<Schema> {
    string().enum_values(Some(values.iter().copied())).into()
}

/// An object schema: `required` keys, then `(name, schema)` properties.
pub(super) fn object<'a>(
    required: &[&str],
    properties: impl IntoIterator<Item = (&'a str, RefOr<Schema>)>,
) -> ObjectBuilder {
    let builder = required.iter().fold(ObjectBuilder::new(), |builder, name| {
        builder.required(*name)
    });
    properties
        .into_iter()
        .fold(builder, |builder, (name, schema)| {
            builder.property(name, schema)
        })
}

/// `additionalProperties: false`.
fn closed() -> AdditionalProperties<Schema> {
    AdditionalProperties::FreeForm(false)
}

/// `{"type": "string", "format": "date-time"}` with a description.
fn date_time(description: &str) -> RefOr<Schema> {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some(description))
        .into()
}

/// `{"type": ["string", "null"]}` with a description.
fn nullable_string(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(description))
        .into()
}

/// One session of `GET /users/me/sessions`.
fn session_schema() -> RefOr<Schema> {
    object(
        &[
            "id",
            "backend",
            "created_at",
            "last_used_at",
            "expires_at",
            "user_agent",
            "ip",
            "current",
        ],
        [
            (
                "id",
                described_string(
                    "The session's id: random, neither the token nor derived from it; \
                     `DELETE /users/me/sessions/{session_id}` takes it.",
                ),
            ),
            (
                "backend",
                described_string("The name of the backend that opened it."),
            ),
            ("created_at", date_time("When it was opened (UTC).")),
            (
                "last_used_at",
                date_time("When it was last used (UTC; recorded at most once a minute)."),
            ),
            (
                "expires_at",
                date_time(
                    "When it ends unless used again (UTC); a refresh moves it, up to the \
                     session's absolute lifetime.",
                ),
            ),
            (
                "user_agent",
                nullable_string("The login request's `User-Agent`, cut to 512 characters."),
            ),
            ("ip", nullable_string("The client's address at login.")),
            (
                "current",
                boolean("Whether the request was authenticated by this session."),
            ),
        ],
    )
    .additional_properties(Some(closed()))
    .into()
}

fn invitation_schema() -> RefOr<Schema> {
    object(
        &[
            "id",
            "email",
            "remark",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked",
        ],
        [
            ("id", string().format(format("uuid")).into()),
            ("email", email_schema()),
            (
                "remark",
                nullable_string("The inviting superuser's note, if any."),
            ),
            ("created_at", date_time("When it was made (UTC).")),
            (
                "expires_at",
                date_time("When its token stops working (UTC)."),
            ),
            (
                "accepted_at",
                ObjectBuilder::new()
                    .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                    .format(format("date-time"))
                    .description(Some("When it was accepted (UTC), or `null`."))
                    .into(),
            ),
            (
                "revoked",
                boolean("Whether it was revoked (deleted): its token no longer works."),
            ),
        ],
    )
    .into()
}

fn email_schema() -> RefOr<Schema> {
    string()
        .format(format("email"))
        .description(Some(
            "An e-mail address; internationalised addresses are accepted.",
        ))
        .into()
}

/// The schemas every document may use; [`super::document`] keeps those its
/// paths reach.
pub(super) fn fixed_schemas(schemas: &mut SchemaMap) {
    let accepted = |schema: ObjectBuilder| -> RefOr<Schema> {
        schema.description(Some("Accepted and ignored.")).into()
    };
    let fixed: [(&str, RefOr<Schema>); 19] = [
        (
            "BearerResponse",
            object(
                &["access_token", "token_type"],
                [
                    ("access_token", string().into()),
                    ("token_type", string().enum_values(Some(["bearer"])).into()),
                ],
            )
            .additional_properties(Some(closed()))
            .into(),
        ),
        (
            "RefreshBearerResponse",
            object(
                &["access_token", "token_type", "refresh_token", "expires_in"],
                [
                    (
                        "access_token",
                        described_string("A short-lived access token."),
                    ),
                    ("token_type", string().enum_values(Some(["bearer"])).into()),
                    (
                        "refresh_token",
                        described_string(
                            "A new refresh token, for `POST …/refresh` once the access \
                             token expires; each is good for one refresh.",
                        ),
                    ),
                    (
                        "expires_in",
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0))
                            .description(Some("The access token's lifetime in seconds."))
                            .into(),
                    ),
                ],
            )
            .additional_properties(Some(closed()))
            .into(),
        ),
        (
            "RefreshRequest",
            object(
                &["refresh_token"],
                [(
                    "refresh_token",
                    described_string("The refresh token of the last login or refresh."),
                )],
            )
            .into(),
        ),
        (
            "ChangePasswordRequest",
            object(
                &["current_password", "new_password"],
                [
                    (
                        "current_password",
                        described_string("The password as it is now."),
                    ),
                    ("new_password", described_string("The new password.")),
                ],
            )
            .into(),
        ),
        (
            "ChangeEmailRequest",
            object(
                &["email", "current_password"],
                [
                    (
                        "email",
                        described_string("The new address, which confirms with a mailed token."),
                    ),
                    (
                        "current_password",
                        described_string("The password as it is now."),
                    ),
                ],
            )
            .into(),
        ),
        (
            "EmptyObject",
            ObjectBuilder::new()
                .additional_properties(Some(closed()))
                .description(Some("`{}`."))
                .into(),
        ),
        ("Session", session_schema()),
        ("Invitation", invitation_schema()),
        (
            "InvitationPage",
            object(
                &["count", "items"],
                [
                    (
                        "count",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::Type(Type::Integer))
                            .minimum(Some(0))
                            .description(Some("How many invitations there are in all."))
                            .into(),
                    ),
                    (
                        "items",
                        ArrayBuilder::new()
                            .items(schema_ref("Invitation"))
                            .description(Some("The page's invitations, newest first."))
                            .into(),
                    ),
                ],
            )
            .into(),
        ),
        (
            "InviteRequest",
            object(
                &["email"],
                [
                    ("email", email_schema()),
                    (
                        "expires_in_days",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::Type(Type::Integer))
                            .minimum(Some(1))
                            .maximum(Some(90))
                            .default(Some(serde_json::json!(7)))
                            .description(Some("How long the token works, in days (1 to 90)."))
                            .into(),
                    ),
                    (
                        "remark",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                            .max_length(Some(1000))
                            .description(Some("A note, shown with the invitation."))
                            .into(),
                    ),
                ],
            )
            .into(),
        ),
        (
            "SessionList",
            ArrayBuilder::new()
                .items(schema_ref("Session"))
                .description(Some("Sessions, newest first."))
                .into(),
        ),
        (
            "LoginForm",
            object(
                &["username", "password"],
                [
                    (
                        "username",
                        string()
                            .min_length(Some(1))
                            .description(Some("The e-mail address."))
                            .into(),
                    ),
                    ("password", password().min_length(Some(1)).into()),
                    (
                        "grant_type",
                        string()
                            .pattern(Some("^(password)?$"))
                            .description(Some("`password` when given."))
                            .into(),
                    ),
                    ("scope", accepted(string())),
                    ("client_id", accepted(string())),
                    ("client_secret", accepted(password())),
                ],
            )
            .description(Some(
                "OAuth2 password-grant form, as FastAPI's `OAuth2PasswordRequestForm`. \
                 An empty value counts as absent.",
            ))
            .into(),
        ),
        (
            "EmailRequest",
            object(&["email"], [("email", email_schema())]).into(),
        ),
        (
            "ResetPasswordRequest",
            object(
                &["token", "password"],
                [
                    ("token", described_string("The token of the reset mail.")),
                    (
                        "password",
                        password().description(Some("The new password.")).into(),
                    ),
                ],
            )
            .into(),
        ),
        (
            "VerifyRequest",
            object(
                &["token"],
                [(
                    "token",
                    described_string("The token of the verification mail."),
                )],
            )
            .into(),
        ),
        (
            "VerifyTokenRequest",
            object(
                &["token"],
                [("token", described_string("The access token to check."))],
            )
            .into(),
        ),
        (
            "AuthorizationURL",
            object(
                &["authorization_url"],
                [("authorization_url", string().format(format("uri")).into())],
            )
            .into(),
        ),
        (
            "HTTPValidationError",
            object(
                &["detail"],
                [(
                    "detail",
                    ArrayBuilder::new()
                        .items(schema_ref("ValidationError"))
                        .into(),
                )],
            )
            .into(),
        ),
        (
            "ValidationError",
            object(
                &["type", "loc", "msg"],
                [
                    ("type", string().into()),
                    (
                        "loc",
                        ArrayBuilder::new()
                            .items(string())
                            .description(Some("Where: `[\"body\"]`, `[\"body\", \"email\"]`, …"))
                            .into(),
                    ),
                    ("msg", string().into()),
                ],
            )
            .into(),
        ),
    ];
    for (name, schema) in fixed {
        schemas.insert(name.to_owned(), Some(schema));
    }
}

/// `{"type": "integer", "minimum": 0}` with a description.
fn count(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .description(Some(description))
        .into()
}

/// `{"type": "object"}` with a description: a WebAuthn JSON object, passed
/// to the browser or from it as it is.
fn webauthn_object(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .into()
}

/// The schemas of multi-factor login (TOTP, recovery codes, passkeys): the
/// bodies and answers of the MFA router and of the auth routers' second
/// steps. Added only when a mount has multi-factor login, so that a document
/// without it keeps its names (and the application's hoisted `$defs` theirs).
pub(super) fn mfa_schemas(schemas: &mut SchemaMap) {
    let current_password = || described_string("The password as it is now.");
    let challenge_id = || {
        described_string(
            "The `challenge_id` of the options route's answer: good for 5 minutes, once.",
        )
    };
    let mfa: [(&str, RefOr<Schema>); 11] = [
        (
            "MfaStatus",
            object(
                &["totp", "recovery_codes_left", "passkeys"],
                [
                    ("totp", boolean("Whether TOTP is on (confirmed).")),
                    (
                        "recovery_codes_left",
                        count("How many unused recovery codes are left (0 with TOTP off)."),
                    ),
                    ("passkeys", count("How many passkeys the user has.")),
                ],
            )
            .additional_properties(Some(closed()))
            .into(),
        ),
        (
            "TotpEnrolment",
            object(
                &["secret", "otpauth_url"],
                [
                    (
                        "secret",
                        string()
                            .pattern(Some("^[A-Z2-7]+$"))
                            .min_length(Some(26))
                            .description(Some(
                                "The secret (160 random bits), base32 (RFC 4648, uppercase, \
                                 no padding), to type into an authenticator app.",
                            ))
                            .into(),
                    ),
                    (
                        "otpauth_url",
                        string()
                            .format(format("uri"))
                            .pattern(Some("^otpauth://totp/"))
                            .description(Some(
                                "The same secret as an `otpauth://totp/…` URL (SHA-1, 6 \
                                 digits, 30 s), for a QR code.",
                            ))
                            .into(),
                    ),
                ],
            )
            .additional_properties(Some(closed()))
            .into(),
        ),
        (
            "RecoveryCodes",
            object(
                &["recovery_codes"],
                [(
                    "recovery_codes",
                    ArrayBuilder::new()
                        .items(string().description(Some("A code, `xxxxx-xxxxx`.")))
                        .min_items(Some(crate::mfa::recovery::RecoveryCodes::COUNT))
                        .max_items(Some(crate::mfa::recovery::RecoveryCodes::COUNT))
                        .description(Some(
                            "10 codes, each good for one login instead of a TOTP code; a \
                             new set replaces the old one.",
                        ))
                        .into(),
                )],
            )
            .additional_properties(Some(closed()))
            .into(),
        ),
        (
            "PasskeyOptions",
            object(
                &["challenge_id", "publicKey"],
                [
                    (
                        "challenge_id",
                        described_string(
                            "The ceremony's id, to send back with the browser's answer.",
                        ),
                    ),
                    (
                        "publicKey",
                        webauthn_object(
                            "The WebAuthn options as JSON: \
                             `PublicKeyCredentialCreationOptionsJSON` to register a passkey \
                             (`residentKey` and `userVerification` `required`), \
                             `PublicKeyCredentialRequestOptionsJSON` to log in (no \
                             `allowCredentials`: any passkey of this site).",
                        ),
                    ),
                ],
            )
            .additional_properties(Some(closed()))
            .into(),
        ),
        (
            "Passkey",
            object(
                &["id", "name", "created_at", "last_used_at"],
                [
                    (
                        "id",
                        string()
                            .format(format("uuid"))
                            .description(Some(
                                "The passkey's id; `DELETE …/me/passkeys/{passkey_id}` takes it.",
                            ))
                            .into(),
                    ),
                    ("name", described_string("The name the user gave it.")),
                    ("created_at", date_time("When it was registered (UTC).")),
                    (
                        "last_used_at",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                            .format(format("date-time"))
                            .description(Some("When it last logged in (UTC), or `null`."))
                            .into(),
                    ),
                ],
            )
            .additional_properties(Some(closed()))
            .into(),
        ),
        (
            "PasskeyList",
            ArrayBuilder::new()
                .items(schema_ref("Passkey"))
                .description(Some("Passkeys, oldest first."))
                .into(),
        ),
        (
            "MfaLoginRequest",
            object(
                &["mfa_token", "code"],
                [
                    (
                        "mfa_token",
                        described_string(
                            "The `mfa_token` of the login's 400 `LOGIN_MFA_REQUIRED`: good \
                             for 5 minutes, once, and dead after 5 bad codes.",
                        ),
                    ),
                    (
                        "code",
                        described_string(
                            "A TOTP code of the authenticator app (6 digits), or an unused \
                             recovery code.",
                        ),
                    ),
                ],
            )
            .into(),
        ),
        (
            "MfaCodeRequest",
            object(
                &["code"],
                [(
                    "code",
                    described_string("A TOTP code of the authenticator app (6 digits)."),
                )],
            )
            .into(),
        ),
        (
            "CurrentPasswordRequest",
            object(
                &["current_password"],
                [("current_password", current_password())],
            )
            .into(),
        ),
        (
            "PasskeyRegistrationRequest",
            object(
                &["challenge_id", "credential"],
                [
                    ("challenge_id", challenge_id()),
                    (
                        "credential",
                        webauthn_object(
                            "The browser's `RegistrationResponseJSON` \
                             (`PublicKeyCredential.toJSON()` of `navigator.credentials.create`).",
                        ),
                    ),
                    (
                        "name",
                        string()
                            .max_length(Some(crate::mfa::MAX_PASSKEY_NAME_CHARS))
                            .description(Some(
                                "A name for the passkey, trimmed; `Passkey` when absent or \
                                 empty.",
                            ))
                            .into(),
                    ),
                ],
            )
            .into(),
        ),
        (
            "PasskeyLoginRequest",
            object(
                &["challenge_id", "credential"],
                [
                    ("challenge_id", challenge_id()),
                    (
                        "credential",
                        webauthn_object(
                            "The browser's `AuthenticationResponseJSON` \
                             (`PublicKeyCredential.toJSON()` of `navigator.credentials.get`).",
                        ),
                    ),
                ],
            )
            .into(),
        ),
    ];
    for (name, schema) in mfa {
        schemas.insert(name.to_owned(), Some(schema));
    }
}

/// `User`, `UserCreate` and `UserUpdate`: the core keys, with the
/// application's fields ([`UserFields`]) and id type ([`UserId`]). Call after
/// [`fixed_schemas`], so that the application's definitions avoid every name
/// the document uses.
pub(super) fn user_schemas<U: UserModel>(schemas: &mut SchemaMap, usernames: bool) {
    let mut read_keys = vec!["id", "email", "is_active", "is_superuser", "is_verified"];
    if usernames {
        read_keys.push("username");
    }
    let read = object(
        &read_keys,
        [
            ("id", from_json(<U::Id as UserId>::json_schema())),
            ("email", email_schema()),
            (
                "is_active",
                boolean("Inactive users cannot log in nor use their tokens."),
            ),
            (
                "is_superuser",
                boolean("Superusers administer the other users."),
            ),
            (
                "is_verified",
                boolean("Whether the user proved they own the address."),
            ),
        ],
    );
    let read = match usernames {
        true => read.property(
            "username",
            ObjectBuilder::new()
                .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                .description(Some("The username, or `null` for a user without one.")),
        ),
        false => read,
    }
    .build();
    let create = object(
        &["email", "password"],
        [
            ("email", email_schema()),
            ("password", password().into()),
            ("is_active", boolean("Ignored by the register route.")),
            ("is_superuser", boolean("Ignored by the register route.")),
            ("is_verified", boolean("Ignored by the register route.")),
        ],
    );
    let create = with_username(create, usernames, "Optional.").build();
    let update = object(
        &[],
        [
            ("email", email_schema()),
            ("password", password().into()),
            (
                "current_password",
                described_string(
                    "The password as it is now: required with a new `email` or `password` \
                     when the application asks for it (400 `INVALID_CURRENT_PASSWORD`), \
                     ignored otherwise.",
                ),
            ),
            (
                "is_active",
                boolean("Applied by the superusers' route only."),
            ),
            (
                "is_superuser",
                boolean("Applied by the superusers' route only."),
            ),
            (
                "is_verified",
                boolean("Applied by the superusers' route only."),
            ),
        ],
    )
    .description(Some("Absent keys change nothing; `null` is refused (422)."));
    let update = with_username(update, usernames, "A new username.").build();
    // The accept-invitation body: the token, a password, a username when on,
    // and the application's fields of a new user.
    let accept = object(
        &["token", "password"],
        [
            (
                "token",
                described_string("The invitation's token, from the mailed link."),
            ),
            ("password", password().into()),
        ],
    );
    let accept = with_username(accept, usernames, "Optional.").build();
    let fields = [
        ("User", read, <U::Fields as UserFields>::read_schema()),
        (
            "UserCreate",
            create,
            <U::Fields as UserFields>::create_schema(),
        ),
        (
            "UserUpdate",
            update,
            <U::Fields as UserFields>::update_schema(),
        ),
        (
            "AcceptInvitationRequest",
            accept,
            <U::Fields as UserFields>::create_schema(),
        ),
    ];
    // The user schemas' names are taken first, so that hoisted `$defs` avoid
    // them.
    for (name, _, _) in &fields {
        schemas.insert((*name).to_owned(), None);
    }
    for (name, core, app) in fields {
        let merged = merge_fields(core, app, schemas);
        schemas.insert(name.to_owned(), Some(merged));
    }
}

/// `builder` with a `username` property (the rules of
/// [`crate::username`]) when usernames are on.
fn with_username(builder: ObjectBuilder, usernames: bool, note: &str) -> ObjectBuilder {
    if !usernames {
        return builder;
    }
    builder.property(
        "username",
        string()
            .min_length(Some(crate::username::MIN_LEN))
            .max_length(Some(crate::username::MAX_LEN))
            .pattern(Some("^[A-Za-z0-9._-]+$"))
            .description(Some(format!(
                "{note} 3 to 32 of `a-z 0-9 . _ -`, unique ASCII-case-insensitively; \
                 checked as sent (400 `INVALID_USERNAME` with a reason)."
            ))),
    )
}

/// The application's JSON Schema `value` in utoipa's model, saying exactly
/// what `value` says: the typed model when it serialises back to the same
/// JSON, otherwise an untyped schema object that carries `value`'s keys as
/// they are (utoipa's model has no field for every JSON Schema keyword, such
/// as `const`, `not` or `$defs`). `true` is `{}` and `false` is
/// `{"not": {}}`, their object forms; a value that is no JSON Schema (neither
/// an object nor a boolean) is documented as `{}`, with a warning.
pub(super) fn from_json(value: Value) -> RefOr<Schema> {
    let map = match value {
        Value::Object(map) => map,
        Value::Bool(true) => Map::new(),
        Value::Bool(false) => {
            let mut map = Map::new();
            map.insert("not".to_owned(), Value::Object(Map::new()));
            map
        }
        other => {
            tracing::warn!(
                schema = %other,
                "a UserFields or UserId schema is not a JSON Schema (an object or a boolean); \
                 the OpenAPI document shows it as {{}}"
            );
            Map::new()
        }
    };
    if let Ok(typed) = serde_json::from_value::<RefOr<Schema>>(Value::Object(map.clone()))
        && serde_json::to_value(&typed).is_ok_and(|back| back.as_object() == Some(&map))
    {
        return typed;
    }
    raw(map)
}

/// An untyped schema object whose serialised keys are exactly `map`'s.
fn raw(map: Map<String, Value>) -> RefOr<Schema> {
    let mut object = Object::with_type(SchemaType::AnyValue);
    // Every other field of the object is empty and skipped when serialised;
    // the extensions are flattened into it, key by key.
    object.extensions = Some(map.into_iter().collect());
    RefOr::T(Schema::Object(object))
}

/// `additionalProperties` from JSON: a boolean or a schema.
fn additional_from_json(value: Value) -> AdditionalProperties<Schema> {
    match value {
        Value::Bool(allowed) => AdditionalProperties::FreeForm(allowed),
        schema => AdditionalProperties::RefOr(from_json(schema)),
    }
}

/// Merges the application's fields schema into a core object schema: its
/// `properties` and `required` join the core ones when it is a plain object
/// schema; otherwise the two are combined with `allOf`. `$defs` are hoisted
/// into the components (renamed when a name is taken) and `$ref`s rewritten.
pub(super) fn merge_fields(mut core: Object, app: Value, schemas: &mut SchemaMap) -> RefOr<Schema> {
    let mut app = match app {
        Value::Object(app) => app,
        // Any object: nothing to add.
        Value::Bool(true) => return core.into(),
        other => return all_of(core, from_json(other)),
    };
    app.remove("$schema");
    app.remove("$id");
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    for key in ["$defs", "definitions"] {
        let Some(Value::Object(defs)) = app.remove(key) else {
            continue;
        };
        for (name, schema) in defs {
            let target = match schemas.get(&name) {
                None => name.clone(),
                Some(Some(existing)) if *existing == from_json(schema.clone()) => name.clone(),
                Some(_) => {
                    let mut n = 2;
                    while schemas.contains_key(&format!("{name}{n}")) {
                        n += 1;
                    }
                    format!("{name}{n}")
                }
            };
            // Reserve the name now, so that two defs do not take the same one.
            schemas.entry(target.clone()).or_insert(None);
            renames.push((format!("#/{key}/{name}"), target.clone()));
            hoisted.push((target, schema));
        }
    }
    for (target, mut schema) in hoisted {
        rewrite_refs(&mut schema, &renames);
        schemas.insert(target, Some(from_json(schema)));
    }
    rewrite_map_refs(&mut app, &renames);

    const PLAIN: [&str; 6] = [
        "type",
        "properties",
        "required",
        "additionalProperties",
        "title",
        "description",
    ];
    let plain = app.keys().all(|k| PLAIN.contains(&k.as_str()))
        && app.get("type").is_none_or(|t| t == "object")
        && app.get("properties").is_none_or(Value::is_object)
        && app
            .get("required")
            .is_none_or(|r| r.as_array().is_some_and(|r| r.iter().all(Value::is_string)));
    if !plain {
        return all_of(core, from_json(Value::Object(app)));
    }
    if let Some(Value::Object(properties)) = app.remove("properties") {
        for (name, schema) in properties {
            // A key of the core object keeps its core schema.
            core.properties
                .entry(name)
                .or_insert_with(|| from_json(schema));
        }
    }
    if let Some(Value::Array(required)) = app.remove("required") {
        for name in required {
            if let Value::String(name) = name
                && !core.required.contains(&name)
            {
                core.required.push(name);
            }
        }
    }
    if let Some(additional) = app.remove("additionalProperties") {
        core.additional_properties = Some(Box::new(additional_from_json(additional)));
    }
    core.into()
}

fn all_of(core: Object, app: RefOr<Schema>) -> RefOr<Schema> {
    AllOfBuilder::new().item(core).item(app).into()
}

/// Rewrites every `$ref` that names a hoisted definition.
fn rewrite_refs(value: &mut Value, renames: &[(String, String)]) {
    match value {
        Value::Object(map) => rewrite_map_refs(map, renames),
        Value::Array(items) => {
            for item in items {
                rewrite_refs(item, renames);
            }
        }
        _ => {}
    }
}

fn rewrite_map_refs(map: &mut Map<String, Value>, renames: &[(String, String)]) {
    for (key, child) in map.iter_mut() {
        if key == "$ref"
            && let Value::String(reference) = child
            && let Some((_, target)) = renames.iter().find(|(from, _)| from == reference)
        {
            *reference = format!("#/components/schemas/{target}");
            continue;
        }
        rewrite_refs(child, renames);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn to_json<T: serde::Serialize>(value: &T) -> Value {
        serde_json::to_value(value).unwrap()
    }

    fn core(properties: Value, required: &[&str]) -> Object {
        let schema = json!({"type": "object", "required": required, "properties": properties});
        match serde_json::from_value::<Schema>(schema).unwrap() {
            Schema::Object(object) => object,
            _ => unreachable!(),
        }
    }

    #[test]
    fn app_fields_merge_into_the_core_object() {
        let mut schemas = SchemaMap::new();
        let core = core(json!({"id": {"type": "string"}}), &["id"]);
        let app = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Profile",
            "type": "object",
            "required": ["display_name"],
            "properties": {
                "display_name": {"type": "string"},
                "address": {"$ref": "#/$defs/Address"},
                "id": {"type": "integer"},
            },
            "$defs": {"Address": {"type": "object"}},
        });
        let merged = to_json(&merge_fields(core, app, &mut schemas));
        assert_eq!(merged["required"], json!(["id", "display_name"]));
        assert_eq!(merged["properties"]["id"], json!({"type": "string"}));
        assert_eq!(
            merged["properties"]["address"]["$ref"],
            "#/components/schemas/Address"
        );
        assert_eq!(to_json(&schemas["Address"]), json!({"type": "object"}));
    }

    #[test]
    fn other_fields_schemas_combine_with_all_of() {
        let mut schemas = SchemaMap::new();
        schemas.insert("User".into(), None);
        let core = core(json!({}), &[]);
        let app =
            json!({"oneOf": [{"$ref": "#/$defs/User"}], "$defs": {"User": {"type": "object"}}});
        let merged = to_json(&merge_fields(core.clone(), app, &mut schemas));
        assert_eq!(merged["allOf"][0], to_json(&core));
        assert_eq!(
            merged["allOf"][1]["oneOf"][0]["$ref"],
            "#/components/schemas/User2"
        );
    }

    /// What the application wrote is what the document says, whether
    /// utoipa's model has a field for each keyword or not.
    #[test]
    fn application_schemas_are_carried_exactly() {
        for schema in [
            json!({"type": "integer", "format": "int64"}),
            json!({"type": "string", "format": "uuid"}),
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295_u32}),
            json!({"type": "integer", "minimum": 0, "maximum": 18446744073709551615_u64}),
            json!({"type": ["string", "null"]}),
            json!({"type": "number", "minimum": 0.5}),
            json!({"const": "fixed", "description": "no `type`"}),
            json!({"type": "object", "properties": {"tags": {"type": "array", "prefixItems": [{"type": "string"}], "items": false}}}),
            json!({"not": {"type": "null"}, "if": {"required": ["a"]}, "then": {"required": ["b"]}}),
            json!({"$ref": "#/components/schemas/Address", "description": "Where they live"}),
            json!({"type": "object", "patternProperties": {"^x-": {}}, "unevaluatedProperties": false}),
            json!({}),
        ] {
            assert_eq!(to_json(&from_json(schema.clone())), schema);
        }
        assert_eq!(to_json(&from_json(json!(true))), json!({}));
        assert_eq!(to_json(&from_json(json!(false))), json!({"not": {}}));
        assert_eq!(to_json(&from_json(json!(42))), json!({}));
        // A schema the model knows stays typed.
        assert!(matches!(
            from_json(json!({"type": "string", "format": "uuid"})),
            RefOr::T(Schema::Object(object))
                if object.extensions.as_ref().is_none_or(|e| e.is_empty())
        ));
    }

    #[test]
    fn fixed_schemas_are_the_documented_ones() {
        let mut schemas = SchemaMap::new();
        fixed_schemas(&mut schemas);
        let bearer = to_json(&schemas["BearerResponse"]);
        assert_eq!(
            bearer,
            json!({
                "type": "object",
                "required": ["access_token", "token_type"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string", "enum": ["bearer"]},
                },
                "additionalProperties": false,
            })
        );
        let validation = to_json(&schemas["HTTPValidationError"]);
        assert_eq!(
            validation["properties"]["detail"],
            json!({"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}})
        );
        let form = to_json(&schemas["LoginForm"]);
        assert_eq!(
            form["properties"]["client_secret"],
            json!({"type": "string", "format": "password", "description": "Accepted and ignored."})
        );
    }
}
