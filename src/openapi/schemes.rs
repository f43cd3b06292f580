//! Security schemes: one per backend, and each protected operation's
//! requirement.

use std::collections::BTreeMap;

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, OAuth2, Password, Scopes, SecurityRequirement, SecurityScheme,
};

use crate::auth::TransportKind;
use crate::routers::spec::{BackendDoc, Body, Mount, MountAuth, Success};

/// The backends the document names, each with its security scheme's key.
pub(super) struct Schemes<'a> {
    /// The authenticator's backends, in order: they authenticate every
    /// protected route but the auth routers' logouts.
    authenticator: &'a [BackendDoc],
    /// Every backend named anywhere, with its key.
    keyed: Vec<(&'a BackendDoc, String)>,
    mounts: &'a [Mount],
}

impl<'a> Schemes<'a> {
    pub(super) fn new(authenticator: &'a [BackendDoc], mounts: &'a [Mount]) -> Self {
        let mut keyed: Vec<(&BackendDoc, String)> = Vec::new();
        let all = authenticator
            .iter()
            .chain(mounts.iter().filter_map(|m| m.backend.as_ref()));
        for backend in all {
            if keyed.iter().any(|(b, _)| *b == backend) {
                continue;
            }
            // Component keys match `^[a-zA-Z0-9._-]+$`; two backends of one
            // name (with different transports) get distinct keys.
            let base: String = backend
                .name
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
                    _ => '_',
                })
                .collect();
            let base = if base.is_empty() {
                "backend".to_owned()
            } else {
                base
            };
            let mut key = base.clone();
            let mut n = 2;
            while keyed.iter().any(|(_, k)| *k == key) {
                key = format!("{base}_{n}");
                n += 1;
            }
            keyed.push((backend, key));
        }
        Self {
            authenticator,
            keyed,
            mounts,
        }
    }

    fn key(&self, backend: &BackendDoc) -> Option<&str> {
        self.keyed
            .iter()
            .find(|(b, _)| *b == backend)
            .map(|(_, k)| k.as_str())
    }

    /// Where a backend's login form is mounted (`auth/jwt/login`, relative
    /// like FastAPI Users' `tokenUrl`, so it resolves against the server URL).
    fn login_url(&self, backend: &BackendDoc) -> Option<String> {
        self.mounts
            .iter()
            .filter(|m| m.backend.as_ref() == Some(backend))
            .flat_map(|m| m.routes.iter().map(move |r| (m, r)))
            .find(|(_, r)| r.success == Success::Login && r.body == Body::LoginForm)
            .map(|(m, r)| {
                format!("{}{}", m.prefix, r.path)
                    .trim_start_matches('/')
                    .to_owned()
            })
    }

    /// The `securitySchemes` components: an OAuth2 password flow for a bearer
    /// transport, an API key in a cookie for a cookie transport.
    pub(super) fn components(&self) -> BTreeMap<String, SecurityScheme> {
        let mut out = BTreeMap::new();
        for (backend, key) in &self.keyed {
            let scheme = match &backend.kind {
                TransportKind::Bearer { token_url } => {
                    let url = self.login_url(backend).unwrap_or_else(|| token_url.clone());
                    let description = format!(
                        "Backend `{}`: `Authorization: Bearer <token>`, the `access_token` \
                         that `POST {}` answers.",
                        backend.name, url
                    );
                    SecurityScheme::OAuth2(OAuth2::with_description(
                        [Flow::Password(Password::new(url, Scopes::new()))],
                        description,
                    ))
                }
                TransportKind::Cookie { name } => {
                    let description = format!(
                        "Backend `{}`: the `{}` cookie that its login sets.",
                        backend.name, name
                    );
                    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                        name.clone(),
                        description,
                    )))
                }
            };
            out.insert(key.clone(), scheme);
        }
        out
    }

    /// The security requirement of a protected route: each accepted backend
    /// as an alternative (never an empty, anonymous one).
    ///
    /// A logout lists its own backend first, then the others: every protected
    /// operation lists every scheme, and its description says that only its
    /// own backend's token logs out (another's answers 401).
    pub(super) fn requirement(&self, mount: &Mount) -> Vec<SecurityRequirement> {
        let accepted: Vec<&BackendDoc> = match mount.auth {
            MountAuth::AllBackends => self.authenticator.iter().collect(),
            MountAuth::OwnBackend => {
                let own = mount.backend.iter();
                let others = self
                    .authenticator
                    .iter()
                    .filter(|b| mount.backend.as_ref().is_none_or(|own| own.name != b.name));
                own.chain(others).collect()
            }
        };
        accepted
            .into_iter()
            .filter_map(|b| self.key(b))
            .map(|key| SecurityRequirement::new(key, Vec::<String>::new()))
            .collect()
    }

    /// The backends that authenticate a mount's protected routes, for their
    /// descriptions (`` `jwt`, `cookie` ``).
    pub(super) fn names(&self, mount: &Mount) -> String {
        let names: Vec<String> = match mount.auth {
            MountAuth::AllBackends => self
                .authenticator
                .iter()
                .map(|b| format!("`{}`", b.name))
                .collect(),
            MountAuth::OwnBackend => mount
                .backend
                .iter()
                .map(|b| format!("`{}`", b.name))
                .collect(),
        };
        names.join(", ")
    }
}
