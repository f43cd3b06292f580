//! The extractors of request bodies and paths, which answer as the contract
//! says for every router: 422 for a body that is not JSON (or not labelled
//! JSON), 413 for one over the limit, 404 for a malformed id in the path.
//!
//! axum's stock `Json`, `Form` and `Path` answer 415, 400 or 400 in those cases;
//! these map the rejections once.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Request};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::user::{Password, UserCreate, UserId, UserUpdate};

/// A JSON request body, deserialised into `T`.
///
/// Needs `Content-Type: application/json` (parameters allowed, `+json` types too)
/// and a JSON object; anything else, or a schema mismatch, is a 422. A body over
/// the router's limit is a 413.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

fn is_json(parts: &Parts) -> bool {
    let Some(Ok(content_type)) = parts.headers.get(CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let Ok(mime) = content_type.parse::<mime::Mime>() else {
        return false;
    };
    mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
}

fn is_form(parts: &Parts) -> bool {
    let Some(Ok(content_type)) = parts.headers.get(CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    content_type
        .parse::<mime::Mime>()
        .is_ok_and(|m| m.essence_str() == mime::APPLICATION_WWW_FORM_URLENCODED.essence_str())
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection: BytesRejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::validation(&["body"], "the request body could not be read")
            }
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = json_object(req, state).await?;
        parse_json(&bytes, |_| None).map(JsonBody)
    }
}

/// A body that carries the application's own fields flattened beside the
/// core ones: the register body ([`UserCreate`]) and the PATCH body
/// ([`UserUpdate`]). serde loses the path of an error inside flattened
/// fields, so these are deserialised again alone to name the one that failed.
pub(crate) trait WithFields: DeserializeOwned {
    /// The application's fields in the body.
    type Fields: DeserializeOwned;
}

impl<C: DeserializeOwned> WithFields for UserCreate<C> {
    type Fields = C;
}

impl<P: DeserializeOwned + Default> WithFields for UserUpdate<P> {
    type Fields = P;
}

impl<C: DeserializeOwned> WithFields for crate::manager::AcceptInvitation<C> {
    type Fields = C;
}

/// [`JsonBody`] for a [`WithFields`] body: a 422 names the application's
/// field that failed too.
pub(crate) struct UserBody<T>(pub T);

impl<T: WithFields, S: Send + Sync> FromRequest<S> for UserBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = json_object(req, state).await?;
        parse_json(&bytes, |bytes| {
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize::<_, T::Fields>(&mut deserializer)
                .err()
                .map(|error| field_path(&error))
                .filter(|path| !path.is_empty())
        })
        .map(UserBody)
    }
}

/// The bytes of a JSON object body: a JSON content type and a JSON object,
/// else a 422; over the limit, a 413.
async fn json_object<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error> {
    let (parts, body) = req.into_parts();
    let json = is_json(&parts);
    let bytes = body_bytes(Request::from_parts(parts, body), state).await?;
    if !json {
        return Err(Error::validation(
            &["body"],
            "expected a JSON body with Content-Type: application/json",
        ));
    }
    // serde would read a JSON array into a struct positionally: refuse it.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(bytes),
        _ => Err(Error::validation(&["body"], "expected a JSON object")),
    }
}

/// Deserialises a JSON body; a schema error is the 422 of the field that
/// failed, as FastAPI names it (`loc: ["body", "display_name"]`).
/// `flattened` locates an error serde reported without a path (one inside
/// flattened fields): the path of the field, if it finds one.
fn parse_json<T: DeserializeOwned>(
    bytes: &[u8],
    flattened: impl Fn(&[u8]) -> Option<Vec<String>>,
) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let mut loc = vec!["body".to_owned()];
    loc.extend(field_path(&error));
    let inner = error.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return Err(Error::validation(&["body"], "the body is not valid JSON"));
    }
    let message = message_without_position(&inner);
    if let Some(field) = missing_field(&message) {
        // A required field of a flattened struct is missing at the top level.
        loc.push(field.to_owned());
        return Err(Error::Validation {
            loc,
            message: "Field required".into(),
        });
    }
    if loc.len() == 1
        && let Some(path) = flattened(bytes)
    {
        loc.extend(path);
    }
    Err(Error::Validation { loc, message })
}

/// The keys and indexes that lead to the value that failed.
fn field_path(error: &serde_path_to_error::Error<serde_json::Error>) -> Vec<String> {
    error
        .path()
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            _ => None,
        })
        .collect()
}

/// serde_json's message without its " at line L column C".
fn message_without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    message
        .strip_suffix(&suffix)
        .map(str::to_owned)
        .unwrap_or(message)
}

/// The field of serde's "missing field `name`".
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
}

/// The login form (`application/x-www-form-urlencoded` or
/// `multipart/form-data`), as FastAPI's
/// `OAuth2PasswordRequestForm`: `username` and `password` are required and
/// non-empty; `grant_type`, when given, must be `password`; `scope`, `client_id`
/// and `client_secret` are accepted and ignored. A JSON body is a 422.
#[derive(Debug, Clone)]
pub struct LoginForm {
    /// The e-mail address.
    pub username: String,
    /// The password.
    pub password: Password,
}

/// The fields of a login form, whichever its encoding.
#[derive(Default)]
struct LoginFields {
    username: Option<String>,
    password: Option<String>,
    grant_type: Option<String>,
}

impl LoginFields {
    /// Like Starlette, the last occurrence of a key wins; like FastAPI, an empty
    /// value counts as absent.
    fn set(&mut self, key: &str, value: String) {
        let value = (!value.is_empty()).then_some(value);
        match key {
            "username" => self.username = value,
            "password" => self.password = value,
            "grant_type" => self.grant_type = value,
            _ => {}
        }
    }

    fn into_form(self) -> Result<LoginForm, Error> {
        if self.grant_type.is_some_and(|g| g != "password") {
            return Err(Error::validation(
                &["body", "grant_type"],
                "grant_type must be \"password\"",
            ));
        }
        let Some(username) = self.username else {
            return Err(Error::validation(&["body", "username"], "Field required"));
        };
        let Some(password) = self.password else {
            return Err(Error::validation(&["body", "password"], "Field required"));
        };
        Ok(LoginForm {
            username,
            password: Password::new(password),
        })
    }
}

fn is_multipart(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.essence_str() == mime::MULTIPART_FORM_DATA.essence_str())
}

async fn multipart_fields<S: Send + Sync>(req: Request, state: &S) -> Result<LoginFields, Error> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge
        } else {
            Error::validation(
                &["body"],
                format!("malformed multipart body: {}", e.body_text()),
            )
        }
    };
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|_| Error::validation(&["body"], "malformed multipart body"))?;
    let mut fields = LoginFields::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let value = field.text().await.map_err(bad)?;
        fields.set(&name, value);
    }
    Ok(fields)
}

impl<S: Send + Sync> FromRequest<S> for LoginForm {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let (parts, body) = req.into_parts();
        if is_multipart(&parts) {
            // FastAPI's form parsing takes multipart too (`new FormData()` in a
            // browser sends it).
            return multipart_fields(Request::from_parts(parts, body), state)
                .await?
                .into_form();
        }
        let form = is_form(&parts);
        let bytes = body_bytes(Request::from_parts(parts, body), state).await?;
        if !form {
            return Err(Error::validation(
                &["body"],
                "expected a form body (application/x-www-form-urlencoded or multipart/form-data)",
            ));
        }
        let mut fields = LoginFields::default();
        for (key, value) in form_urlencoded::parse(&bytes) {
            fields.set(&key, value.into_owned());
        }
        fields.into_form()
    }
}

/// A user id from the path; a malformed id is a 404, like an unknown one.
#[derive(Debug, Clone)]
pub struct IdPath<Id>(pub Id);

impl<Id: UserId, S: Send + Sync> FromRequestParts<S> for IdPath<Id> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound)?;
        raw.parse().map(IdPath).map_err(|_| Error::NotFound)
    }
}
