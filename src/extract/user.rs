//! The extractors of the calling user, for the application's own handlers:
//! [`CurrentUser`], [`VerifiedUser`], [`Superuser`], each also as an
//! `Option`.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::auth::{Authenticator, Requirements};
use crate::error::Error;
use crate::user::UserModel;

async fn authenticate<U: UserModel>(
    parts: &Parts,
    requirements: Requirements,
) -> Result<Option<U>, Error> {
    let Some(authenticator) = parts.extensions.get::<Authenticator<U>>() else {
        tracing::error!(
            user_type = std::any::type_name::<U>(),
            "no axum_users Authenticator for this user type in the request extensions: \
             add `.layer(users.layer())` (or `authenticator.layer()`) to the router, after \
             the routes that use the extractors, and name the application's user type in \
             the extractor (`CurrentUser<MyUser>`)"
        );
        return Err(Error::Internal("authenticator missing".into()));
    };
    Ok(authenticator
        .authenticate(parts, requirements)
        .await?
        .map(|authenticated| authenticated.user))
}

/// The user of a protected route: 401 or 403 as [`Authenticator::require`]
/// answers.
async fn require<U: UserModel>(parts: &Parts, requirements: Requirements) -> Result<U, Error> {
    authenticate(parts, requirements)
        .await?
        .ok_or(Error::Unauthorized)
}

macro_rules! user_extractor {
    ($(#[$doc:meta])* $name:ident, $requirements:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<U>(pub U);

        impl<U: UserModel, S: Send + Sync> FromRequestParts<S> for $name<U> {
            type Rejection = Error;

            async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
                require::<U>(parts, $requirements).await.map($name)
            }
        }

        impl<U: UserModel, S: Send + Sync> OptionalFromRequestParts<S> for $name<U> {
            type Rejection = Error;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Option<Self>, Error> {
                match authenticate::<U>(parts, $requirements).await {
                    Ok(user) => Ok(user.map($name)),
                    Err(Error::Forbidden) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }

        impl<U> std::ops::Deref for $name<U> {
            type Target = U;
            fn deref(&self) -> &U {
                &self.0
            }
        }
    };
}

user_extractor!(
    /// The calling user, who must be active: 401 otherwise (no token, an invalid
    /// one, an inactive or deleted user).
    ///
    /// `Option<CurrentUser<U>>` is `None` instead of a 401. Needs the
    /// [`Authenticator`] in the request extensions (see [`Authenticator::layer`]).
    ///
    /// The user type has no default: name it (`CurrentUser<User>`, or your own
    /// `CurrentUser<MyUser>`), so that an extractor of another type than the
    /// application's users does not compile, instead of answering 500:
    ///
    /// ```compile_fail
    /// use axum_users::CurrentUser;
    /// async fn hello(CurrentUser(user): CurrentUser) -> String {
    ///     String::new()
    /// }
    /// ```
    ///
    /// ```
    /// use axum_users::{CurrentUser, User};
    /// async fn hello(CurrentUser(user): CurrentUser<User>) -> String {
    ///     format!("hello {}", user.data.email)
    /// }
    /// async fn maybe(user: Option<CurrentUser<User>>) -> &'static str {
    ///     if user.is_some() { "welcome back" } else { "hello stranger" }
    /// }
    /// ```
    CurrentUser,
    Requirements {
        verified: false,
        superuser: false
    }
);

user_extractor!(
    /// The calling user, who must be active (else 401) and verified (else 403).
    /// `Option<VerifiedUser<U>>` is `None` instead of either.
    VerifiedUser,
    Requirements {
        verified: true,
        superuser: false
    }
);

user_extractor!(
    /// The calling user, who must be active (else 401) and a superuser (else 403).
    /// `Option<Superuser<U>>` is `None` instead of either.
    Superuser,
    Requirements {
        verified: false,
        superuser: true
    }
);
