//! [`Routes`]: mounts the routers under the application's prefixes and records
//! what it mounted where, so that the OpenAPI document (feature `openapi`) is
//! generated from the very configuration that built the router.

use axum::Router;

use super::AxumUsers;
use super::spec::{
    ACCEPT_INVITATION_ROUTES, ACCOUNT_ROUTES, AUTH_ROUTES, EMAIL_CHANGE_ROUTES, INVITATION_ROUTES,
    MFA_LOGIN_ROUTES, MFA_ROUTES, Mount, MountAuth, PASSKEY_LOGIN_ROUTES, PASSKEY_ROUTES,
    REFRESH_ROUTES, REGISTER_ROUTES, RESET_ROUTES, RouteSpec, SESSIONS_ROUTES, USERS_ROUTES,
    VERIFY_ROUTES,
};
use crate::auth::AuthBackend;
use crate::hooks::UserHooks;
use crate::store::UserStore;

/// The routers of an [`AxumUsers`], mounted under the application's prefixes,
/// with a record of each mount; built by [`AxumUsers::routes`].
///
/// Each method nests one router (exactly what the matching `*_router` method of
/// [`AxumUsers`] builds) and records its routes, prefix, backend, body limit and
/// verification rule. [`Routes::into_router`] gives the router to serve; with
/// the `openapi` feature, `Routes::openapi` gives the OpenAPI 3.1 document of
/// the same routes, so the two cannot disagree.
///
/// ```
/// use axum::Router;
/// use axum_users::auth::{AuthBackend, BearerTransport, CookieTransport, JwtStrategy};
/// use axum_users::{AxumUsers, User, UserManager, store::MemoryStore};
///
/// let jwt = JwtStrategy::hs256("a random secret of 32 bytes or more").unwrap();
/// let bearer = AuthBackend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt.clone());
/// let cookie = AuthBackend::new("cookie", CookieTransport::new(), jwt);
/// let users = AxumUsers::new(
///     UserManager::new(MemoryStore::<User>::new()),
///     vec![bearer.clone(), cookie.clone()],
/// );
/// let api = users
///     .routes()
///     .auth("/auth/jwt", &bearer)
///     .auth("/auth/cookie", &cookie)
///     .register("/auth")
///     .reset_password("/auth")
///     .verify("/auth")
///     .users("/users");
/// // With the `openapi` feature:
/// // let document = api.openapi(&axum_users::openapi::Info::new("My app", "1.0.0"));
/// let app: Router = api.into_router().layer(users.layer());
/// ```
pub struct Routes<S: UserStore, H, St = ()> {
    users: AxumUsers<S, H>,
    router: Router<St>,
    mounts: Vec<Mount>,
}

impl<S: UserStore, H, St> std::fmt::Debug for Routes<S, H, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("mounts", &self.mounts)
            .finish_non_exhaustive()
    }
}

impl<S: UserStore, H: UserHooks<S::User>> AxumUsers<S, H> {
    /// A [`Routes`] builder over these routers: mount each router under a
    /// prefix, then take the router ([`Routes::into_router`]) and, with the
    /// `openapi` feature, its OpenAPI document. The routers take the body limit
    /// and verification rule set on `self` so far.
    pub fn routes<St: Clone + Send + Sync + 'static>(&self) -> Routes<S, H, St> {
        Routes {
            users: self.clone(),
            router: Router::new(),
            mounts: Vec::new(),
        }
    }
}

impl<S, H, St> Routes<S, H, St>
where
    S: UserStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    /// Mounts [`AxumUsers::auth_router`] for `backend` at `prefix`
    /// (`POST {prefix}/login`, `POST {prefix}/logout`).
    pub fn auth(self, prefix: &str, backend: &AuthBackend<S::User>) -> Self {
        let mount = self
            .record(prefix, AUTH_ROUTES, "auth")
            .backend(backend)
            .own_backend_only();
        let router = self.users.auth_router_at(&mount.prefix, backend);
        let refresh = backend.strategy().refreshes().then(|| {
            self.record(prefix, REFRESH_ROUTES, "auth")
                .backend(backend)
                .own_backend_only()
        });
        let manager = self.users.manager();
        let mfa = manager.has_mfa().then(|| {
            self.record(prefix, MFA_LOGIN_ROUTES, "auth")
                .backend(backend)
                .own_backend_only()
        });
        let passkeys = manager.has_passkeys().then(|| {
            self.record(prefix, PASSKEY_LOGIN_ROUTES, "auth")
                .backend(backend)
                .own_backend_only()
        });
        let mut routes = self.mount(router, mount);
        // The refresh and second-step routes are in the router already:
        // only their records.
        for record in [refresh, mfa, passkeys].into_iter().flatten() {
            routes = routes.mount(Router::new(), record);
        }
        routes
    }

    /// Mounts [`AxumUsers::mfa_router`] at `prefix`, the users' prefix
    /// (`GET {prefix}/me/mfa`, `POST {prefix}/me/mfa/totp`, …, and with
    /// passkeys `{prefix}/me/passkeys…`).
    ///
    /// # Panics
    ///
    /// When the manager has no multi-factor login
    /// ([`UserManagerBuilder::mfa`](crate::UserManagerBuilder::mfa)).
    pub fn mfa(self, prefix: &str) -> Self {
        let mount = self.record(prefix, MFA_ROUTES, "users");
        let passkeys = self
            .users
            .manager()
            .has_passkeys()
            .then(|| self.record(prefix, PASSKEY_ROUTES, "users"));
        let router = self.users.mfa_router_at(&mount.prefix);
        let routes = self.mount(router, mount);
        match passkeys {
            Some(passkeys) => routes.mount(Router::new(), passkeys),
            None => routes,
        }
    }

    /// Mounts [`AxumUsers::register_router`] at `prefix` (`POST {prefix}/register`).
    pub fn register(self, prefix: &str) -> Self {
        let mount = self.record(prefix, REGISTER_ROUTES, "auth");
        let router = self.users.register_router_at(&mount.prefix);
        self.mount(router, mount)
    }

    /// Mounts [`AxumUsers::reset_password_router`] at `prefix`
    /// (`POST {prefix}/forgot-password`, `POST {prefix}/reset-password`).
    pub fn reset_password(self, prefix: &str) -> Self {
        let mount = self.record(prefix, RESET_ROUTES, "auth");
        let router = self.users.reset_password_router_at(&mount.prefix);
        self.mount(router, mount)
    }

    /// Mounts [`AxumUsers::verify_router`] at `prefix`
    /// (`POST {prefix}/request-verify-token`, `POST {prefix}/verify`).
    pub fn verify(self, prefix: &str) -> Self {
        let mount = self.record(prefix, VERIFY_ROUTES, "auth");
        let confirm = self.record(prefix, EMAIL_CHANGE_ROUTES, "auth");
        let router = self.users.verify_router_at(&mount.prefix);
        self.mount(router, mount).mount(Router::new(), confirm)
    }

    /// Mounts [`AxumUsers::users_router`] at `prefix`
    /// (`GET|PATCH {prefix}/me`, `GET|PATCH|DELETE {prefix}/{id}`).
    pub fn users(self, prefix: &str) -> Self {
        let mount = self.record(prefix, USERS_ROUTES, "users");
        let sessions = self.record(prefix, SESSIONS_ROUTES, "users");
        let account = self.record(prefix, ACCOUNT_ROUTES, "users");
        let router = self.users.users_router_at(&mount.prefix);
        self.mount(router, mount)
            .mount(Router::new(), sessions)
            .mount(Router::new(), account)
    }

    /// The router with everything mounted so far. Add
    /// [`AxumUsers::layer`] for the extractors of the application's own
    /// handlers, as without `Routes`.
    pub fn into_router(self) -> Router<St> {
        self.router
    }

    /// The OpenAPI 3.1 document of everything mounted so far, in
    /// [utoipa](https://docs.rs/utoipa)'s model: paths, request and response
    /// schemas (the application's user fields included, see
    /// [`UserFields`](crate::UserFields)), every status the routes answer,
    /// their 400 `detail` codes, and one security scheme per backend.
    ///
    /// Serve it with [`openapi::json_router`](crate::openapi::json_router) and
    /// browse it with [`openapi::docs_router`](crate::openapi::docs_router); an
    /// application that documents its own routes with utoipa merges it into
    /// its own document in one call (`ApiDoc::openapi().merge_from(document)`,
    /// see the [`openapi`](crate::openapi) module).
    #[cfg(feature = "openapi")]
    #[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
    pub fn openapi(&self, info: &crate::openapi::Info) -> utoipa::openapi::OpenApi {
        let backends: Vec<super::spec::BackendDoc> = self
            .users
            .authenticator()
            .backends()
            .iter()
            .map(super::spec::BackendDoc::of)
            .collect();
        crate::openapi::document::<S::User>(
            info,
            &self.mounts,
            &backends,
            self.users.manager().usernames(),
        )
    }

    /// The front door these routes are built from (for router kinds added
    /// beside this file, such as OAuth's).
    #[allow(dead_code)]
    pub(crate) fn axum_users(&self) -> &AxumUsers<S, H> {
        &self.users
    }

    /// A record of `routes` at `prefix`, with the front door's body limit and
    /// verification rule, authenticated by every backend and with no login
    /// backend; refine it with [`Mount`]'s setters, then [`Routes::mount`] it.
    pub(crate) fn record(
        &self,
        prefix: &str,
        routes: &'static [RouteSpec],
        tag: &'static str,
    ) -> Mount {
        Mount {
            prefix: normalize_prefix(prefix),
            routes,
            tag,
            backend: None,
            auth: MountAuth::AllBackends,
            requires_verification: self.users.requires_verification,
            body_limit: self.users.body_limit,
            oauth: None,
            usernames: self.users.manager().usernames(),
            mfa: self.users.manager().has_mfa(),
        }
    }

    /// Merges `router`, built with its paths under the record's prefix, and
    /// keeps the record. Every kind of router goes through here, so the
    /// document and the router stay one. Built at their full paths rather
    /// than nested, the routes cost no prefix stripping per request.
    pub(crate) fn mount(mut self, router: Router<St>, mount: Mount) -> Self {
        self.router = self.router.merge(router);
        self.mounts.push(mount);
        self
    }
}

#[cfg(feature = "oauth")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
impl<S, H, St> Routes<S, H, St>
where
    S: crate::store::OAuthAccountStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
    <S::User as crate::user::UserModel>::Fields: Default,
{
    /// Mounts [`AxumUsers::oauth_router`] for `config`'s provider and
    /// `backend` at `prefix` (`GET {prefix}/authorize`, `GET {prefix}/callback`).
    pub fn oauth(
        self,
        prefix: &str,
        config: &crate::oauth::OAuthConfig,
        backend: &AuthBackend<S::User>,
    ) -> Self {
        let mount = self
            .record(prefix, super::spec::OAUTH_ROUTES, "oauth")
            .backend(backend)
            .oauth(
                config.provider.name(),
                Some(config.csrf_cookie.cookie_name()),
                config.success_redirect.is_some(),
            );
        let router = self.users.oauth_router_at(&mount.prefix, config, backend);
        self.mount(router, mount)
    }

    /// Mounts [`AxumUsers::oauth_associate_router`] for `config`'s provider at
    /// `prefix` (`GET {prefix}/authorize`, `GET {prefix}/callback`).
    pub fn oauth_associate(self, prefix: &str, config: &crate::oauth::OAuthConfig) -> Self {
        let mount = self
            .record(prefix, super::spec::OAUTH_ASSOCIATE_ROUTES, "oauth")
            .oauth(
                config.provider.name(),
                Some(config.csrf_cookie.cookie_name()),
                config.success_redirect.is_some(),
            );
        let router = self.users.oauth_associate_router_at(&mount.prefix, config);
        self.mount(router, mount)
    }
}

/// `"/auth/"` → `"/auth"`, `"auth"` → `"/auth"`, `"/"` and `""` → `""` (merged
/// at the root, which axum's `nest` refuses).
fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_end_matches('/');
    match trimmed {
        "" => String::new(),
        p if p.starts_with('/') => p.to_owned(),
        p => format!("/{p}"),
    }
}

impl<S, H, St> Routes<S, H, St>
where
    S: UserStore + crate::store::InvitationStore,
    H: UserHooks<S::User>,
    St: Clone + Send + Sync + 'static,
{
    /// Mounts [`AxumUsers::invitations_router`] at `admin_prefix`
    /// (`POST|GET {admin_prefix}/invitations`, `GET|DELETE
    /// {admin_prefix}/invitations/{invitation_id}`) and
    /// [`AxumUsers::accept_invitation_router`] at `accept_prefix` (`POST
    /// {accept_prefix}/accept-invitation`).
    pub fn invitations(self, admin_prefix: &str, accept_prefix: &str) -> Self {
        let admin = self.record(admin_prefix, INVITATION_ROUTES, "users");
        let accept = self.record(accept_prefix, ACCEPT_INVITATION_ROUTES, "auth");
        let admin_router = self.users.invitations_router_at(&admin.prefix);
        let accept_router = self.users.accept_invitation_router_at(&accept.prefix);
        self.mount(admin_router, admin).mount(accept_router, accept)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_prefix;

    #[test]
    fn prefixes_are_normalised() {
        assert_eq!(normalize_prefix("/auth"), "/auth");
        assert_eq!(normalize_prefix("/auth/"), "/auth");
        assert_eq!(normalize_prefix("auth/jwt"), "/auth/jwt");
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix(""), "");
    }
}
