//! `GET /authorize` and `GET /callback` for one OAuth provider: the login
//! router (per provider and backend) and the associate router (per provider).
//!
//! The callback checks, in this order and before the code goes anywhere: the
//! provider's `error`, the `state` token, the CSRF cookie against the state,
//! and for association the state's user against the caller. Only then is the
//! code exchanged, with the PKCE verifier derived from the state.

use axum::Router;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::RawQuery};
use http::header::{LOCATION, SET_COOKIE};
use http::request::Parts;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::route;
use super::spec::{OAUTH_ASSOCIATE_ROUTES, OAUTH_ROUTES, RouteSpec};
use super::state::RouterState;
use crate::auth::{AuthBackend, Transport};
use crate::error::{Error, ErrorCode, Result};
use crate::hooks::UserHooks;
use crate::manager::{UserManager, UserOf};
use crate::oauth::state::pkce_challenge;
use crate::oauth::{AuthorizationRequest, CodeExchange, OAuthConfig};
use crate::store::{OAuthAccountStore, UserStore};
use crate::user::UserModel;

/// What an OAuth router needs beside the shared state: its provider's
/// configuration, and the backend whose token a login gets (`None` for the
/// associate router).
struct OAuthRouter<U: UserModel> {
    config: OAuthConfig,
    backend: Option<AuthBackend<U>>,
}

impl<U: UserModel> Clone for OAuthRouter<U> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            backend: self.backend.clone(),
        }
    }
}

type OAuthState<S, H> = RouterState<S, H, OAuthRouter<<S as UserStore>::User>>;

pub(super) fn login_router<S, H, St>(
    state: RouterState<S, H>,
    config: OAuthConfig,
    backend: AuthBackend<S::User>,
    at: &str,
) -> Router<St>
where
    S: OAuthAccountStore,
    H: UserHooks<S::User>,
    <S::User as UserModel>::Fields: Default,
    St: Clone + Send + Sync + 'static,
{
    let extra = OAuthRouter {
        config,
        backend: Some(backend),
    };
    build(state.with(extra), at, OAUTH_ROUTES, callback::<S, H>)
}

pub(super) fn associate_router<S, H, St>(
    state: RouterState<S, H>,
    config: OAuthConfig,
    at: &str,
) -> Router<St>
where
    S: OAuthAccountStore,
    H: UserHooks<S::User>,
    <S::User as UserModel>::Fields: Default,
    St: Clone + Send + Sync + 'static,
{
    let extra = OAuthRouter {
        config,
        backend: None,
    };
    build(
        state.with(extra),
        at,
        OAUTH_ASSOCIATE_ROUTES,
        associate_callback::<S, H>,
    )
}

/// The two routes of an OAuth router: the shared authorize handler and the
/// router's own callback.
fn build<S, H, St, Cb, T>(
    state: OAuthState<S, H>,
    at: &str,
    [authorize_route, callback_route]: &[RouteSpec; 2],
    callback: Cb,
) -> Router<St>
where
    S: OAuthAccountStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
    Cb: Handler<T, OAuthState<S, H>>,
    T: 'static,
{
    let router = route(Router::new(), at, authorize_route, authorize::<S, H>, 0);
    let router = route(router, at, callback_route, callback, 0);
    router.with_state(state)
}

/// The caller of an associate route: 401 (or 403) before anything else.
async fn associate_caller<S: OAuthAccountStore, H>(
    state: &OAuthState<S, H>,
    parts: &Parts,
) -> Result<UserOf<S>> {
    let mut requirements = state.requirements(false);
    requirements.verified |= state.extra.config.options.associate_requires_verification;
    Ok(state.caller(parts, requirements).await?.user)
}

/// The query pairs of a request; repeated keys are kept (`scopes`).
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn authorize<S: OAuthAccountStore, H: UserHooks<S::User>>(
    State(state): State<OAuthState<S, H>>,
    parts: Parts,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    // The associate router names its user in the state: the caller first.
    let sub = match state.extra.backend {
        Some(_) => None,
        None => Some(associate_caller(&state, &parts).await?.id().to_string()),
    };
    let pairs = query_pairs(query.as_deref());
    let scopes: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "scopes")
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_owned))
        .collect();
    let config = &state.extra.config;
    let issued = config.state.issue(sub.as_deref())?;
    let verifier = config.state.pkce_verifier(&issued.csrf);
    let challenge = pkce_challenge(&verifier);
    let nonce = config.state.nonce(&issued.csrf);
    let authorization_url = config
        .provider
        .authorization_url(AuthorizationRequest {
            redirect_uri: &config.redirect_uri,
            state: &issued.state,
            scopes: &scopes,
            code_challenge: &challenge,
            nonce: &nonce,
        })
        .await?;
    let mut response = Json(json!({ "authorization_url": authorization_url })).into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, config.csrf_cookie.set(&issued.csrf)?);
    Ok(response)
}

/// The part of a callback shared by login and association: the checks, then
/// the sign-in at the provider. `Ok(Err(_))` is an error after the state and
/// CSRF cookie were found genuine (the CSRF cookie is cleared then).
async fn sign_in<S: OAuthAccountStore, H>(
    state: &OAuthState<S, H>,
    parts: &Parts,
    query: Option<&str>,
    caller: Option<&UserOf<S>>,
) -> Result<Result<crate::manager::OAuthLogin>> {
    let pairs = query_pairs(query);
    let config = &state.extra.config;
    if let Some(error) = first(&pairs, "error") {
        // The user aborted or the provider refused: no code to exchange. The
        // provider's error code is echoed only when it looks like one.
        let looks_like_code = !error.is_empty()
            && error.len() <= 64
            && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let detail = if looks_like_code {
            error
        } else {
            "Bad Request"
        };
        return Err(Error::BadRequest(detail.to_owned()));
    }
    let claims = config
        .state
        .read(first(&pairs, "state").unwrap_or_default())?;
    let cookie = config.csrf_cookie.token(parts);
    let genuine = cookie
        .is_some_and(|cookie| bool::from(cookie.as_bytes().ct_eq(claims.csrftoken.as_bytes())));
    if !genuine {
        return Err(Error::Code(ErrorCode::OAuthInvalidState));
    }
    // A state issued by another OAuth router (another provider, or linking
    // instead of login): a mix-up, refused before the code goes anywhere.
    if !config.state.is_for_this_router(&claims) {
        return Err(Error::Code(ErrorCode::OAuthInvalidState));
    }
    if let Some(caller) = caller
        && claims.sub.as_deref() != Some(caller.id().to_string().as_str())
    {
        return Err(Error::BadRequest("Bad Request".into()));
    }
    let Some(code) = first(&pairs, "code").filter(|code| !code.is_empty()) else {
        return Ok(Err(Error::BadRequest("Bad Request".into())));
    };
    let verifier = config.state.pkce_verifier(&claims.csrftoken);
    let nonce = config.state.nonce(&claims.csrftoken);
    Ok(config
        .provider
        .sign_in(CodeExchange {
            code,
            redirect_uri: &config.redirect_uri,
            code_verifier: &verifier,
            nonce: &nonce,
            issuer: first(&pairs, "iss"),
        })
        .await)
}

async fn callback<S, H>(
    State(state): State<OAuthState<S, H>>,
    parts: Parts,
    RawQuery(query): RawQuery,
) -> Result<Response>
where
    S: OAuthAccountStore,
    H: UserHooks<S::User>,
    <S::User as UserModel>::Fields: Default,
{
    let login = sign_in(&state, &parts, query.as_deref(), None).await?;
    let result = async {
        let user = state
            .manager
            .oauth_callback(login?, state.extra.config.options, Some(&parts))
            .await?;
        let Some(backend) = &state.extra.backend else {
            return Err(Error::Internal(
                "OAuth login router without a backend".into(),
            ));
        };
        // A user with a second factor finishes at the backend's
        // `login/mfa` route, as after a password.
        UserManager::<S, H>::may_log_in(&user, state.requires_verification)?;
        state
            .manager
            .second_factor_gate(&user, Some(backend.name()))
            .await?;
        state.log_in(backend, &user, &parts).await
    }
    .await;
    finish(&state.extra.config, result)
}

async fn associate_callback<S, H>(
    State(state): State<OAuthState<S, H>>,
    parts: Parts,
    RawQuery(query): RawQuery,
) -> Result<Response>
where
    S: OAuthAccountStore,
    H: UserHooks<S::User>,
    <S::User as UserModel>::Fields: Default,
{
    let caller = associate_caller(&state, &parts).await?;
    let login = sign_in(&state, &parts, query.as_deref(), Some(&caller)).await?;
    let result = async {
        let user = state
            .manager
            .oauth_associate_callback(&caller, login?, state.extra.config.options)
            .await?;
        Ok(Json(state.manager.read(&user)).into_response())
    }
    .await;
    finish(&state.extra.config, result)
}

/// The answer of a callback whose state and CSRF cookie were genuine: the
/// CSRF cookie is cleared whatever the outcome (it has served), and a success
/// becomes a redirect when the config says so.
fn finish(config: &OAuthConfig, result: Result<Response>) -> Result<Response> {
    let mut response = match result {
        Ok(response) => match &config.success_redirect {
            Some(url) => redirect(url, response),
            None => response,
        },
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .append(SET_COOKIE, config.csrf_cookie.clear()?);
    Ok(response)
}

/// A 302 to `url` carrying the cookies of `response`: the login cookie, and
/// any the `on_after_login` hook added.
fn redirect(url: &str, response: Response) -> Response {
    let mut redirect = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(url) {
        Ok(location) => {
            redirect.headers_mut().insert(LOCATION, location);
        }
        Err(_) => {
            return Error::Config("invalid OAuth success redirect URL".into()).into_response();
        }
    }
    copy_cookies(response, &mut redirect);
    redirect
}

fn copy_cookies(from: Response, to: &mut Response) {
    for value in from.headers().get_all(SET_COOKIE) {
        to.headers_mut().append(SET_COOKIE, value.clone());
    }
}
