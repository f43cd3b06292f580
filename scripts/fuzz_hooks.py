"""Schemathesis hooks for scripts/fuzz-api.sh: a throwaway account per test case.

Loaded with SCHEMATHESIS_HOOKS=scripts/fuzz_hooks.py. Needs the environment:

    FUZZ_BASE_URL        the server, e.g. http://127.0.0.1:18000 (no trailing slash)
    FUZZ_ADMIN_EMAIL     the superuser that the server ensures at startup
    FUZZ_ADMIN_PASSWORD  (ADMIN_EMAIL / ADMIN_PASSWORD of examples/server.rs)
    FUZZ_SEED            optional: seeds the choices below
    FUZZ_STATS           optional: a file where the counters are written at exit
    FUZZ_MAIL_LOG        optional: the server's stdout, where the example server
                         prints its mails when SMTP_URL is unset (see below)

Every generated case of an operation that has a `security` requirement gets an
account of its own, registered through `POST /auth/register` and logged in
through the backend of one of the requirement's schemes (picked at random), so
that a fuzzed logout, password change, deactivation or deletion only ever
affects that case. Operations that need a superuser ("Needs an active
superuser" in their description: `/users/{id}`) get a throwaway user promoted
with the admin's token (`PATCH /users/{id}` `{"is_superuser": true}`); the
admin's own token is never put on a fuzzed request.

For those `/users/{id}` operations, half of the cases whose path was generated
as valid data get the id of another, freshly registered throwaway user, so that
the 200/204 paths run too (random UUIDs only ever answer 404).

With FUZZ_MAIL_LOG, half of the valid-body cases of `POST /auth/verify` and
`POST /auth/reset-password` get a real token instead of the generated one: a
fresh throwaway user asks for it (`/auth/request-verify-token`,
`/auth/forgot-password`) and it is read from the mail the server printed, so
that their 200 answers are checked too (random tokens only ever answer 400);
half of those resets also get a password that the policy accepts.

Half of the valid-body cases of the login forms (`POST /auth/<backend>/login`)
get the e-mail address and password of a fresh throwaway user, so that the
logins' 200/204 answers are checked too; half of those of `POST /auth/register`
get a fresh address (generated ones are mostly taken already), for its 201.

Likewise, half of the valid-query cases of the OAuth callbacks
(`/auth/<provider>/callback`, `/auth/associate/<provider>/callback`) get a real
authorization response: the hook calls the sibling `/authorize` route (with
the case's own credentials for the associate router), walks through the
loopback OpenID Connect provider (tests/oidc/provider.mjs, which signs in the
account named by `login_hint`: a fresh one each time), and puts the `code`,
`state` and `iss` that the provider sends back, and the CSRF cookie that the
authorize route set, into the case: the callbacks' 200 answers are checked
too (a generated state only ever answers 400).

Cases in which schemathesis deliberately leaves the credentials out (negative
testing of the security requirement) are not touched by schemathesis' auth
machinery, so the 401 answers are fuzzed as well.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import random
import re
import secrets
import threading
import time
import uuid
from http.cookiejar import DefaultCookiePolicy
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

BASE_URL = os.environ["FUZZ_BASE_URL"].rstrip("/")
ADMIN_EMAIL = os.environ["FUZZ_ADMIN_EMAIL"]
ADMIN_PASSWORD = os.environ["FUZZ_ADMIN_PASSWORD"]
TIMEOUT = 30

# How each security scheme of the document logs in: (login path, how the token
# comes back). Checked against the document's securitySchemes on first use.
LOGINS = {
    "jwt": ("/auth/jwt/login", "bearer"),
    "cookie": ("/auth/cookie/login", "cookie:fastapiusersauth"),
    "session": ("/auth/session/login", "cookie:fastapiuserssession"),
    "token": ("/auth/token/login", "bearer"),
}

SUPERUSER = re.compile(r"Needs an active(, verified)? superuser")

_rng = random.Random(os.environ.get("FUZZ_SEED") or None)
_rng_lock = threading.Lock()
_local = threading.local()
_admin_lock = threading.Lock()
_admin_token: list[str] = []
_stats_lock = threading.Lock()
MAIL_LOG = os.environ.get("FUZZ_MAIL_LOG")
# How long a mail may take to appear in the log (the server sends it in a task).
MAIL_TIMEOUT = 10.0
STATS = {
    "accounts": 0,
    "superusers": 0,
    "id_substitutions": 0,
    "token_substitutions": 0,
    "oauth_substitutions": 0,
    "login_substitutions": 0,
    "register_substitutions": 0,
    "by_scheme": {name: 0 for name in LOGINS},
}


def _count(key: str) -> None:
    with _stats_lock:
        STATS[key] += 1


@atexit.register
def _write_stats() -> None:
    path = os.environ.get("FUZZ_STATS")
    if path:
        with open(path, "w") as out:
            json.dump(STATS, out)


def _choice(items):
    with _rng_lock:
        return _rng.choice(items)


# How many positive cases of a token route get a real token whatever the coin
# says.
FIRST_CASES = 3
_first_seen: dict[str, int] = collections.defaultdict(int)


def _first_cases(path: str) -> bool:
    """Whether this is one of the first FIRST_CASES positive cases of `path`."""
    with _rng_lock:
        _first_seen[path] += 1
        return _first_seen[path] <= FIRST_CASES


def _coin() -> bool:
    with _rng_lock:
        return _rng.random() < 0.5


def _session() -> requests.Session:
    """This thread's session with the server; it keeps no cookie, so that a
    login's cookie never rides along on another account's request."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _local.session = session
    return session


class SetupError(RuntimeError):
    """Creating a throwaway account failed: a server bug or a broken setup."""


def _expect(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        raise SetupError(
            f"{what}: expected {status}, got {response.status_code}: {response.text[:500]}"
        )
    return response


def _register() -> tuple[str, str, str]:
    """A new active, unverified, ordinary user: (id, email, password)."""
    email = f"fuzz-{uuid.uuid4().hex}@example.com"
    password = secrets.token_urlsafe(18)
    response = _session().post(
        f"{BASE_URL}/auth/register",
        json={"email": email, "password": password},
        timeout=TIMEOUT,
    )
    user = _expect(response, 201, f"register {email}").json()
    _count("accounts")
    return user["id"], email, password


def _login(scheme: str, email: str, password: str) -> str:
    path, kind = LOGINS[scheme]
    response = _session().post(
        f"{BASE_URL}{path}",
        data={"username": email, "password": password},
        timeout=TIMEOUT,
    )
    if kind == "bearer":
        return _expect(response, 200, f"login {path}").json()["access_token"]
    _expect(response, 204, f"login {path}")
    name = kind.split(":", 1)[1]
    value = _set_cookie(response, name)
    if value is None:
        raise SetupError(f"login {path}: no {name} cookie in {response.headers!r}")
    return value


def _set_cookie(response: requests.Response, name: str) -> str | None:
    """The value that a response's `Set-Cookie` gives the cookie `name`."""
    # Parsed by hand: the session keeps no cookie (and a `Secure` one would
    # not come back over http anyway).
    for header in response.raw.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if name in cookie and cookie[name].value:
            return cookie[name].value
    return None


def _admin(refresh: bool = False) -> str:
    """The admin's bearer token, used only to promote throwaway superusers."""
    with _admin_lock:
        if refresh or not _admin_token:
            token = _login("jwt", ADMIN_EMAIL, ADMIN_PASSWORD)
            _admin_token[:] = [token]
        return _admin_token[0]


def _promote(user_id: str) -> None:
    for attempt in (0, 1):
        response = _session().patch(
            f"{BASE_URL}/users/{user_id}",
            json={"is_superuser": True},
            headers={"Authorization": f"Bearer {_admin(refresh=attempt == 1)}"},
            timeout=TIMEOUT,
        )
        if response.status_code == 401 and attempt == 0:
            continue
        user = _expect(response, 200, f"promote {user_id}").json()
        if user.get("is_superuser") is not True:
            raise SetupError(f"promote {user_id}: {user!r}")
        _count("superusers")
        return


_checked_schemes = False


def _check_schemes(operation) -> None:
    """Fails loudly when the document has a scheme that LOGINS does not know."""
    global _checked_schemes
    if _checked_schemes:
        return
    raw = operation.schema.raw_schema
    schemes = raw.get("components", {}).get("securitySchemes", {})
    unknown = sorted(set(schemes) - set(LOGINS))
    if unknown:
        raise SetupError(f"fuzz_hooks.py does not know how to log in for {unknown}")
    for name, (_, kind) in LOGINS.items():
        scheme = schemes.get(name)
        if scheme is None:
            continue
        if kind.startswith("cookie:") and scheme.get("name") != kind.split(":", 1)[1]:
            raise SetupError(f"scheme {name}: cookie {scheme.get('name')!r}, expected {kind}")
    _checked_schemes = True


class Credentials:
    """A case's login: the scheme, its token, and the id of another throwaway
    user to put in the path instead of the generated one (or None).

    (No dataclass: schemathesis loads this file without a module in sys.modules.)
    """

    __slots__ = ("scheme", "token", "target_id")

    def __init__(self, scheme: str, token: str, target_id: str | None) -> None:
        self.scheme = scheme
        self.token = token
        self.target_id = target_id


@schemathesis.auth(refresh_interval=None)
class ThrowawayAccount:
    """A fresh account for every case of an operation with a security requirement."""

    def get(self, case, ctx):
        operation = ctx.operation
        definition = operation.definition.raw
        requirements = definition.get("security") or []
        schemes = [name for requirement in requirements for name in requirement]
        if not schemes:
            return None  # a public operation: nothing to add
        _check_schemes(operation)
        scheme = _choice(schemes)
        user_id, email, password = _register()
        if SUPERUSER.search(definition.get("description", "")):
            _promote(user_id)
        token = _login(scheme, email, password)
        with _stats_lock:
            STATS["by_scheme"][scheme] += 1

        target_id = None
        if (
            "id" in case.path_parameters
            and case.meta is not None
            and not case.meta.is_negative_at(ParameterLocation.PATH)
            and _coin()
        ):
            target_id, _, _ = _register()
            _count("id_substitutions")
        return Credentials(scheme, token, target_id)

    def set(self, case, data, ctx):
        _, kind = LOGINS[data.scheme]
        if kind == "bearer":
            case.headers["Authorization"] = f"Bearer {data.token}"
        else:
            case.cookies[kind.split(":", 1)[1]] = data.token
        if data.target_id is not None:
            case.path_parameters["id"] = data.target_id


# ---------------------------------------------------------------------------
# Real verification and reset tokens, read from the mails the server prints.

# Route -> (the route that mails the token, the mail's subject).
TOKEN_ROUTES = {
    "/auth/verify": ("/auth/request-verify-token", "Verify your e-mail address"),
    "/auth/reset-password": ("/auth/forgot-password", "Reset your password"),
}


def _mailed_token(email: str, subject: str) -> str | None:
    """The token of the last mail to `email` with this subject, if printed yet."""
    try:
        with open(MAIL_LOG, encoding="utf-8", errors="replace") as log:
            text = log.read()
    except OSError:
        return None
    token = None
    for mail in text.split("----- mail ")[1:]:
        head = mail.partition("\n\n")[0]
        if f"\nTo: {email}\n" in head and f"\nSubject: {subject}\n" in head:
            match = re.search(r"^token: (\S+)$", mail, re.MULTILINE)
            if match:
                token = match.group(1)
    return token


def _real_token(path: str) -> str:
    mailer, subject = TOKEN_ROUTES[path]
    _, email, _ = _register()
    response = _session().post(f"{BASE_URL}{mailer}", json={"email": email}, timeout=TIMEOUT)
    _expect(response, 202, f"{mailer} {email}")
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        token = _mailed_token(email, subject)
        if token is not None:
            return token
        time.sleep(0.05)
    raise SetupError(f"no {subject!r} mail to {email} in {MAIL_LOG} after {MAIL_TIMEOUT} s")


def _substitute_token(case) -> None:
    if MAIL_LOG is None or case.method.upper() != "POST" or case.path not in TOKEN_ROUTES:
        return
    if case.meta is None or case.meta.is_negative_at(ParameterLocation.BODY):
        return
    if not isinstance(case.body, dict) or not isinstance(case.body.get("token"), str):
        return
    # The first few positive cases of each route always get a real token
    # (and, for a reset, a password the policy accepts), so that the
    # success paths are reached whatever the seed; then half of them.
    first = _first_cases(case.path)
    if first or _coin():
        case.body["token"] = _real_token(case.path)
        _count("token_substitutions")
        # Generated passwords are mostly refused by the policy (400): half of
        # the time, one that it accepts, for the reset's 200.
        if isinstance(case.body.get("password"), str) and (first or _coin()):
            case.body["password"] = secrets.token_urlsafe(18)


# ---------------------------------------------------------------------------
# Real OAuth authorization responses, from the loopback OpenID Connect provider.

# Redirects followed through the provider before giving up.
MAX_HOPS = 10


def _provider_walk(authorization_url: str, callback_url: str) -> dict[str, str]:
    """Follows the provider's redirects, as a browser would, signing in a fresh
    account; the query of the redirect to `callback_url`."""
    parts = urlsplit(authorization_url)
    query = parse_qs(parts.query, keep_blank_values=True)
    query["login_hint"] = [f"fuzz-{uuid.uuid4().hex}"]
    url = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    browser = requests.Session()  # the provider's own cookies
    for _ in range(MAX_HOPS):
        response = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
        location = response.headers.get("Location")
        if not (300 <= response.status_code < 400 and location):
            raise SetupError(f"GET {url}: {response.status_code}, not a redirect: {response.text[:300]}")
        url = urljoin(url, location)
        if url.split("?", 1)[0] == callback_url:
            params = parse_qs(urlsplit(url).query)
            return {name: values[-1] for name, values in params.items()}
    raise SetupError(f"no redirect to {callback_url} within {MAX_HOPS} hops")


def _substitute_oauth(case) -> None:
    if case.method.upper() != "GET" or not case.path.endswith("/callback"):
        return
    definition = case.operation.definition.raw
    names = {p.get("name"): p.get("in") for p in definition.get("parameters", [])}
    if names.get("code") != "query" or names.get("state") != "query":
        return
    if case.meta is None or any(
        case.meta.is_negative_at(location)
        for location in (ParameterLocation.QUERY, ParameterLocation.COOKIE)
    ):
        return
    headers = {}
    cookies = {}
    if definition.get("security"):
        # The associate router: the state names the user, so the authorize
        # request carries the case's own credentials.
        if not getattr(case, "_has_explicit_auth", False):
            return
        if "Authorization" in case.headers:
            headers["Authorization"] = case.headers["Authorization"]
        for _, kind in LOGINS.values():
            name = kind.split(":", 1)[1] if kind.startswith("cookie:") else None
            if name and name in (case.cookies or {}):
                cookies[name] = case.cookies[name]
        if not headers and not cookies:
            return
    if not _coin():
        return
    authorize = case.path[: -len("callback")] + "authorize"
    response = _session().get(
        f"{BASE_URL}{authorize}", headers=headers, cookies=cookies, timeout=TIMEOUT
    )
    authorization_url = _expect(response, 200, f"GET {authorize}").json()["authorization_url"]
    csrf_names = [name for name, location in names.items() if location == "cookie"]
    csrf = {name: _set_cookie(response, name) for name in csrf_names}
    answer = _provider_walk(authorization_url, f"{BASE_URL}{case.path}")
    if "code" not in answer:
        raise SetupError(f"the provider sent no code: {answer!r}")
    case.query = {k: v for k, v in answer.items() if k in ("code", "state", "iss")}
    for name, value in csrf.items():
        if value is not None:
            case.cookies[name] = value
    _count("oauth_substitutions")


# ---------------------------------------------------------------------------
# Real credentials for the login forms.


def _substitute_login(case) -> None:
    if case.method.upper() != "POST" or case.path not in {path for path, _ in LOGINS.values()}:
        return
    if case.meta is None or case.meta.is_negative_at(ParameterLocation.BODY):
        return
    if not isinstance(case.body, dict) or not _coin():
        return
    _, email, password = _register()
    case.body["username"] = email
    case.body["password"] = password
    _count("login_substitutions")


def _substitute_registration(case) -> None:
    """Generated addresses are mostly taken already, or refused (special-use
    domains): half of the valid bodies of `POST /auth/register` get a fresh
    address, and half of those a password that the policy accepts."""
    if case.method.upper() != "POST" or case.path != "/auth/register":
        return
    if case.meta is None or case.meta.is_negative_at(ParameterLocation.BODY):
        return
    if not isinstance(case.body, dict) or not _coin():
        return
    case.body["email"] = f"fuzz-{uuid.uuid4().hex}@example.com"
    if _coin():
        case.body["password"] = secrets.token_urlsafe(18)
    _count("register_substitutions")


@schemathesis.hook
def map_case(context, case):
    _substitute_registration(case)
    _substitute_login(case)
    _substitute_token(case)
    _substitute_oauth(case)
    return case
