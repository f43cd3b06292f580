//! The MFA router (`/me/mfa…`, `/{id}/mfa`, and with passkeys
//! `/me/passkeys…`, mounted at the users' prefix) and the auth router's
//! second steps (`/login/mfa`, and with passkeys `/passkey/options` and
//! `/passkey/login`). Thin: the rules are the manager's ([`crate::mfa`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::request::Parts;
use serde::Deserialize;

use super::route;
use super::spec::{MFA_LOGIN_ROUTES, MFA_ROUTES};
use super::state::RouterState;
use super::users::{Admin, Caller};
use crate::auth::AuthBackend;
use crate::error::Result;
use crate::extract::{IdPath, JsonBody};
use crate::hooks::UserHooks;
use crate::manager::UserOf;
use crate::store::UserStore;
use crate::user::{Password, UserModel};

type IdOf<S> = <UserOf<S> as UserModel>::Id;
type AuthState<S, H> = RouterState<S, H, AuthBackend<<S as UserStore>::User>>;

/// The MFA router: see the module.
pub(super) fn router<S, H, St>(state: RouterState<S, H>, limit: usize, at: &str) -> Router<St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    let [status, start, confirm, disable, regenerate, reset] = MFA_ROUTES;
    let router = route(Router::new(), at, status, mfa_status::<S, H>, limit);
    let router = route(router, at, start, start_totp::<S, H>, limit);
    let router = route(router, at, confirm, confirm_totp::<S, H>, limit);
    let router = route(router, at, disable, disable_totp::<S, H>, limit);
    let router = route(router, at, regenerate, regenerate_codes::<S, H>, limit);
    let router = route(router, at, reset, reset_mfa::<S, H>, limit);
    #[cfg(feature = "passkeys")]
    let router = match state.manager.has_passkeys() {
        true => passkeys::user_routes(router, at, limit),
        false => router,
    };
    router.with_state(state)
}

/// The auth router's second-step routes, for its backend.
pub(super) fn auth_routes<S, H>(
    router: Router<AuthState<S, H>>,
    state: &AuthState<S, H>,
    at: &str,
    limit: usize,
) -> Router<AuthState<S, H>>
where
    S: UserStore,
    H: UserHooks<S::User>,
{
    if !state.manager.has_mfa() {
        return router;
    }
    let [login_mfa_route] = MFA_LOGIN_ROUTES;
    let router = route(router, at, login_mfa_route, login_mfa::<S, H>, limit);
    #[cfg(feature = "passkeys")]
    let router = match state.manager.has_passkeys() {
        true => passkeys::auth_routes(router, at, limit),
        false => router,
    };
    router
}

/// Not `Debug`: it holds a password.
#[derive(Deserialize)]
struct CurrentPasswordBody {
    current_password: Password,
}

/// Not `Debug`: it holds a one-time code.
#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

/// Not `Debug`: it holds a token and a code.
#[derive(Deserialize)]
struct MfaLoginBody {
    mfa_token: String,
    code: String,
}

async fn mfa_status<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
) -> Result<Response> {
    Ok(Json(state.manager.mfa_status(&user).await?).into_response())
}

async fn start_totp<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    parts: Parts,
    JsonBody(body): JsonBody<CurrentPasswordBody>,
) -> Result<Response> {
    let client = state.proxies.client_ip(&parts);
    let enrolment = state
        .manager
        .start_totp(&user, &body.current_password, client, Some(&parts))
        .await?;
    Ok(no_store(Json(enrolment).into_response()))
}

async fn confirm_totp<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    parts: Parts,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response> {
    let codes = state
        .manager
        .confirm_totp(&user, &body.code, Some(&parts))
        .await?;
    Ok(no_store(Json(codes).into_response()))
}

async fn disable_totp<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    parts: Parts,
    JsonBody(body): JsonBody<CurrentPasswordBody>,
) -> Result<Response> {
    let client = state.proxies.client_ip(&parts);
    state
        .manager
        .disable_totp(&user, &body.current_password, client, Some(&parts))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn regenerate_codes<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    Caller(user): Caller<UserOf<S>>,
    parts: Parts,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response> {
    let client = state.proxies.client_ip(&parts);
    let codes = state
        .manager
        .regenerate_recovery_codes(&user, &body.code, client, Some(&parts))
        .await?;
    Ok(no_store(Json(codes).into_response()))
}

async fn reset_mfa<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<RouterState<S, H>>,
    _admin: Admin,
    IdPath(id): IdPath<IdOf<S>>,
    parts: Parts,
) -> Result<Response> {
    state.manager.reset_mfa(&id, Some(&parts)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn login_mfa<S: UserStore, H: UserHooks<S::User>>(
    State(state): State<AuthState<S, H>>,
    parts: Parts,
    JsonBody(body): JsonBody<MfaLoginBody>,
) -> Result<Response> {
    let backend = &state.extra;
    // The second step sets the login cookie as the first would have.
    if backend.transport().sent_by_browser() {
        state.authenticator.csrf().check(&parts)?;
    }
    let client = state.proxies.client_ip(&parts);
    let user = state
        .manager
        .complete_mfa_login(
            &body.mfa_token,
            &body.code,
            backend.name(),
            state.requires_verification,
            client,
            Some(&parts),
        )
        .await?;
    log_in_after_second_step(&state, &user, &parts).await
}

/// The backend's login answer after a second step, as a password login's
/// (the refresh cookie scoped to the router's `/refresh`).
async fn log_in_after_second_step<S: UserStore, H: UserHooks<S::User>>(
    state: &AuthState<S, H>,
    user: &UserOf<S>,
    parts: &Parts,
) -> Result<Response> {
    state.log_in(&state.extra, user, parts).await
}

/// Marks an answer that carries secrets (a TOTP secret, recovery codes) as
/// not to be cached.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(feature = "passkeys")]
mod passkeys {
    //! The passkey routes.

    use axum::Json;
    use axum::Router;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use http::request::Parts;
    use serde::Deserialize;
    use uuid::Uuid;

    use super::super::route;
    use super::super::spec::{PASSKEY_LOGIN_ROUTES, PASSKEY_ROUTES};
    use super::super::state::RouterState;
    use super::super::users::Caller;
    use super::{AuthState, log_in_after_second_step};
    use crate::error::{Error, Result};
    use crate::extract::{IdPath, JsonBody};
    use crate::hooks::UserHooks;
    use crate::manager::UserOf;
    use crate::store::UserStore;

    pub(super) fn user_routes<S, H>(
        router: Router<RouterState<S, H>>,
        at: &str,
        limit: usize,
    ) -> Router<RouterState<S, H>>
    where
        S: UserStore,
        H: UserHooks<S::User>,
    {
        let [options, register, list, delete] = PASSKEY_ROUTES;
        let router = route(router, at, options, registration_options::<S, H>, limit);
        let router = route(router, at, register, register_passkey::<S, H>, limit);
        let router = route(router, at, list, list_passkeys::<S, H>, limit);
        route(router, at, delete, delete_passkey::<S, H>, limit)
    }

    pub(super) fn auth_routes<S, H>(
        router: Router<AuthState<S, H>>,
        at: &str,
        limit: usize,
    ) -> Router<AuthState<S, H>>
    where
        S: UserStore,
        H: UserHooks<S::User>,
    {
        let [options, login] = PASSKEY_LOGIN_ROUTES;
        let router = route(router, at, options, login_options::<S, H>, limit);
        route(router, at, login, passkey_login::<S, H>, limit)
    }

    #[derive(Deserialize)]
    struct RegistrationBody {
        challenge_id: String,
        credential: serde_json::Value,
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(Deserialize)]
    struct LoginBody {
        challenge_id: String,
        credential: serde_json::Value,
    }

    async fn registration_options<S: UserStore, H: UserHooks<S::User>>(
        State(state): State<RouterState<S, H>>,
        Caller(user): Caller<UserOf<S>>,
    ) -> Result<Response> {
        let options = state.manager.start_passkey_registration(&user).await?;
        Ok(Json(options).into_response())
    }

    async fn register_passkey<S: UserStore, H: UserHooks<S::User>>(
        State(state): State<RouterState<S, H>>,
        Caller(user): Caller<UserOf<S>>,
        parts: Parts,
        JsonBody(body): JsonBody<RegistrationBody>,
    ) -> Result<Response> {
        let passkey = state
            .manager
            .finish_passkey_registration(
                &user,
                &body.challenge_id,
                &body.credential,
                body.name.as_deref(),
                Some(&parts),
            )
            .await?;
        Ok((StatusCode::CREATED, Json(passkey)).into_response())
    }

    async fn list_passkeys<S: UserStore, H: UserHooks<S::User>>(
        State(state): State<RouterState<S, H>>,
        Caller(user): Caller<UserOf<S>>,
    ) -> Result<Response> {
        Ok(Json(state.manager.passkeys(&user).await?).into_response())
    }

    async fn delete_passkey<S: UserStore, H: UserHooks<S::User>>(
        State(state): State<RouterState<S, H>>,
        Caller(user): Caller<UserOf<S>>,
        id: std::result::Result<IdPath<Uuid>, Error>,
        parts: Parts,
    ) -> Result<Response> {
        let IdPath(id) = id?;
        state
            .manager
            .delete_passkey(&user, &id, Some(&parts))
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    async fn login_options<S: UserStore, H: UserHooks<S::User>>(
        State(state): State<AuthState<S, H>>,
    ) -> Result<Response> {
        Ok(Json(state.manager.start_passkey_login().await?).into_response())
    }

    async fn passkey_login<S: UserStore, H: UserHooks<S::User>>(
        State(state): State<AuthState<S, H>>,
        parts: Parts,
        JsonBody(body): JsonBody<LoginBody>,
    ) -> Result<Response> {
        let backend = &state.extra;
        if backend.transport().sent_by_browser() {
            state.authenticator.csrf().check(&parts)?;
        }
        let user = state
            .manager
            .finish_passkey_login(
                &body.challenge_id,
                &body.credential,
                state.requires_verification,
            )
            .await?;
        log_in_after_second_step(&state, &user, &parts).await
    }
}
