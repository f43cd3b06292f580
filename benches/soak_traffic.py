#!/usr/bin/env python3
"""Mixed traffic against the example server for a while, for benches/soak.sh.

Usage: soak_traffic.py BASE_URL --seconds N --server-pid PID --mail-log FILE [options]

WORKERS threads (standard library only: http.client, one keep-alive
connection each) send a weighted mix of requests for N seconds. Every worker
owns its accounts (no two workers touch one account, so a reset or a logout of
one never surprises another), registered as it goes:

    register       POST /auth/register                       201
    jwt_login      POST /auth/jwt/login (form)               200
    token_login    POST /auth/token/login (form)             200 (access + refresh token)
    redis_login    POST /auth/redis/login (form)             200 (a session in Redis)
    me             GET  /users/me, bearer token of one of the three backends   200
    refresh        POST /auth/token/refresh, the newest refresh token          200
    reset          POST /auth/forgot-password                202, then
                   POST /auth/reset-password with the mailed token            200
    logout         POST /auth/token/logout or /auth/redis/logout              204
    mfa_login      POST /auth/jwt/login (form) of an account with TOTP on    400 LOGIN_MFA_REQUIRED,
                   then POST /auth/jwt/login/mfa with a TOTP code            200
                   (each worker keeps a few such accounts apart, enrolled with
                   POST /users/me/mfa/totp and /users/me/mfa/totp/confirm:
                   their password logins always ask for the code)

The reset tokens are read from the mails that the example server prints to
its stdout when SMTP_URL is unset (MAIL_LOG, followed as it grows). After a
reset the account's tokens are forgotten (a password change may end its
sessions) and it logs in again with the new password. TOTP codes are
computed here (RFC 6238); each step's code is accepted once per account, so an
MFA login uses the account's next unused step within the ±1 window, or
another account.

Every answer's status and latency are recorded. Any 5xx, and any connection
error, fails the run; any other status than the expected one is reported
(and fails it too: the mix only sends requests that should succeed).

The server's RSS (VmRSS of /proc/PID/status) is sampled every RSS_EVERY
seconds, from the start to the end. The memory criterion: the RSS at the end
within RSS_TOLERANCE (10 %) of the RSS after the first fifth of the run (the
first sample at or after N/5), so that warm-up (pools, caches, the allocator's
arenas filling) does not count.

Prints the figures (per operation p50/p99 over the first and the last window
-- the first and last minute, or the first and last fifth of a run shorter
than five minutes --, the RSS samples, first vs last window) and a verdict;
exits 0 only when there was no 5xx, no connection error, no unexpected status
and the RSS criterion holds. Exits 1 otherwise.
"""

import argparse
import http.client
import json
import math
import random
import re
import secrets
import sys
import threading
import time
import urllib.parse

# Operation: weight. `me` dominates, as in real traffic; logins (argon2) are
# the expensive ones.
WEIGHTS = {
    "me": 40,
    "refresh": 12,
    "jwt_login": 6,
    "token_login": 4,
    "redis_login": 4,
    "logout": 5,
    "register": 3,
    "reset": 2,
    "mfa_login": 3,
}
EXPECTED = {
    "register": (201,),
    "jwt_login": (200,),
    "token_login": (200,),
    "redis_login": (200,),
    "me": (200,),
    "refresh": (200,),
    "forgot": (202,),
    "reset": (200,),
    "logout": (204,),
    "cleanup_logout": (204,),
    "mfa_register": (201,),
    "mfa_setup_login": (200,),
    "mfa_enrol": (200,),
    "mfa_confirm": (200,),
    "mfa_password": (400,),
    "mfa_code": (200,),
}
# TOTP accounts each worker keeps (apart from the others: their password
# logins answer LOGIN_MFA_REQUIRED).
MFA_ACCOUNTS = 4


def totp_code(secret, step):
    """The RFC 6238 code (HMAC-SHA-1, 6 digits) of a base32 secret at a step."""
    import base64
    import hashlib
    import hmac
    import struct

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 15
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"
MAIL_TIMEOUT = 10.0
TIMEOUT = 30.0


def pct(values, q):
    """The q-th percentile (0-100) of values, nearest rank; None when empty."""
    if not values:
        return None
    values = sorted(values)
    rank = max(1, min(len(values), math.ceil(q / 100.0 * len(values))))
    return values[rank - 1]


class Mailbox:
    """Follows the server's stdout and keeps the last reset token per address."""

    def __init__(self, path):
        self.path = path
        self.tokens = {}
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.buffer = ""
        self.mails = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        with open(self.path, encoding="utf-8", errors="replace") as log:
            while not self.stop.is_set():
                chunk = log.read()
                if not chunk:
                    time.sleep(0.02)
                    continue
                self.buffer += chunk
                while True:
                    start = self.buffer.find("----- mail ")
                    if start < 0:
                        self.buffer = self.buffer[-20:]
                        break
                    end = self.buffer.find("----- end of mail -----", start)
                    if end < 0:
                        self.buffer = self.buffer[start:]
                        break
                    self.parse(self.buffer[start:end])
                    self.buffer = self.buffer[end + 23 :]

    def parse(self, mail):
        head = mail.partition("\n\n")[0]
        to = re.search(r"^To: (\S+)$", head, re.MULTILINE)
        subject = re.search(r"^Subject: (.*)$", head, re.MULTILINE)
        token = re.search(r"^token: (\S+)$", mail, re.MULTILINE)
        with self.cond:
            self.mails += 1
            if to and subject and token and subject.group(1).strip() == "Reset your password":
                self.tokens[to.group(1)] = token.group(1)
                self.cond.notify_all()

    def take(self, email, timeout=MAIL_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while email not in self.tokens:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.tokens.pop(email)


class Recorder:
    """Every answer: (seconds since start, operation, status, latency in s)."""

    def __init__(self, t0):
        self.t0 = t0
        self.lock = threading.Lock()
        self.samples = []
        self.server_errors = []  # (t, op, method, path, status, body)
        self.unexpected = []  # (t, op, method, path, status, body)
        self.transport_errors = []  # (t, op, method, path, error)

    def add(self, op, method, path, status, latency, body, expected):
        t = time.monotonic() - self.t0
        with self.lock:
            self.samples.append((t, op, status, latency))
            if status >= 500:
                self.server_errors.append((t, op, method, path, status, body[:300]))
            elif status not in expected:
                self.unexpected.append((t, op, method, path, status, body[:300]))

    def error(self, op, method, path, error):
        with self.lock:
            self.transport_errors.append((time.monotonic() - self.t0, op, method, path, repr(error)))


class Account:
    def __init__(self, email, password):
        self.email = email
        self.password = password
        self.jwt = None  # access token of /auth/jwt
        self.access = None  # access token of /auth/token
        self.refresh = None  # its newest refresh token
        self.redis = None  # token of /auth/redis
        self.totp = None  # base32 TOTP secret, for the MFA accounts
        self.last_step = None  # the last TOTP step used


class Worker(threading.Thread):
    def __init__(self, index, args, recorder, mailbox, deadline):
        super().__init__(daemon=True)
        self.index = index
        self.args = args
        self.rec = recorder
        self.mailbox = mailbox
        self.deadline = deadline
        self.rng = random.Random(args.seed * 1000 + index if args.seed is not None else None)
        self.accounts = []
        self.mfa_accounts = []
        self.conn = None
        self.ops = list(WEIGHTS)
        self.weights = [WEIGHTS[op] for op in self.ops]
        self.counter = 0
        self.failed = None

    # -- HTTP ---------------------------------------------------------------
    def request(self, op, method, path, body=None, form=None, token=None, expected=None):
        headers = {}
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.args.host, self.args.port, timeout=TIMEOUT)
            start = time.monotonic()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                # A keep-alive connection the server closed between requests:
                # once more on a new one; a second failure counts.
                self.conn.close()
                self.conn = None
                if attempt == 0 and isinstance(e, http.client.RemoteDisconnected):
                    continue
                self.rec.error(op, method, path, e)
                return None, None
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                self.rec.error(op, method, path, e)
                return None, None
            latency = time.monotonic() - start
            text = data.decode("utf-8", "replace")
            self.rec.add(op, method, path, response.status, latency, text, expected or EXPECTED[op])
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
            return response.status, parsed
        return None, None

    # -- operations ---------------------------------------------------------
    def register(self):
        self.counter += 1
        email = f"soak-{self.args.run_id}-w{self.index}-{self.counter}@example.com"
        password = "soak-" + secrets.token_urlsafe(12)
        status, _ = self.request("register", "POST", "/auth/register", {"email": email, "password": password})
        if status == 201:
            account = Account(email, password)
            self.accounts.append(account)
            # Bounded pool of accounts per worker: the oldest one leaves the
            # mix (its Redis session, if any, is logged out first).
            if len(self.accounts) > self.args.accounts:
                old = self.accounts.pop(0)
                if old.redis:
                    self.request("cleanup_logout", "POST", "/auth/redis/logout", token=old.redis)
            return account
        return None

    def pick(self):
        if not self.accounts:
            return self.register()
        return self.rng.choice(self.accounts)

    def login(self, backend, account):
        form = {"username": account.email, "password": account.password}
        status, body = self.request(f"{backend}_login", "POST", f"/auth/{backend}/login", form=form)
        if status != 200 or not isinstance(body, dict):
            return
        if backend == "jwt":
            account.jwt = body.get("access_token")
        elif backend == "token":
            account.access = body.get("access_token")
            account.refresh = body.get("refresh_token")
        else:
            if account.redis:
                # The previous Redis session, so that none is left behind.
                self.request("cleanup_logout", "POST", "/auth/redis/logout", token=account.redis)
            account.redis = body.get("access_token")

    def me(self, account):
        tokens = [t for t in (account.jwt, account.access, account.redis) if t]
        if not tokens:
            return self.login("jwt", account)
        self.request("me", "GET", "/users/me", token=self.rng.choice(tokens))

    def refresh(self, account):
        if not account.refresh:
            return self.login("token", account)
        status, body = self.request("refresh", "POST", "/auth/token/refresh", {"refresh_token": account.refresh})
        if status == 200 and isinstance(body, dict):
            account.access = body.get("access_token")
            account.refresh = body.get("refresh_token")
        else:
            account.access = account.refresh = None

    def logout(self, account):
        if account.redis and (not account.access or self.rng.random() < 0.5):
            self.request("logout", "POST", "/auth/redis/logout", token=account.redis)
            account.redis = None
        elif account.access:
            self.request("logout", "POST", "/auth/token/logout", token=account.access)
            account.access = account.refresh = None
        else:
            self.login("token" if self.rng.random() < 0.5 else "redis", account)

    def reset(self, account):
        status, _ = self.request("forgot", "POST", "/auth/forgot-password", {"email": account.email})
        if status != 202:
            return
        token = self.mailbox.take(account.email)
        if token is None:
            self.rec.error("reset", "POST", "/auth/forgot-password", f"no reset mail to {account.email} within {MAIL_TIMEOUT}s")
            return
        password = "soak-" + secrets.token_urlsafe(12)
        status, _ = self.request("reset", "POST", "/auth/reset-password", {"token": token, "password": password})
        if status == 200:
            account.password = password
            if account.redis:
                # May already be gone with the password change (then a 401, not
                # counted as unexpected).
                self.request("cleanup_logout", "POST", "/auth/redis/logout", token=account.redis, expected=(204, 401))
            account.jwt = account.access = account.refresh = account.redis = None

    def next_step(self, account):
        """The account's next unused TOTP step within the ±1 window, or None."""
        now = int(time.time()) // 30
        step = now - 1 if account.last_step is None else max(account.last_step + 1, now - 1)
        return step if step <= now + 1 else None

    def mfa_account(self):
        """A new account with TOTP on: registered, logged in, enrolled."""
        self.counter += 1
        email = f"soak-mfa-{self.args.run_id}-w{self.index}-{self.counter}@example.com"
        password = "soak-" + secrets.token_urlsafe(12)
        status, _ = self.request("mfa_register", "POST", "/auth/register", {"email": email, "password": password})
        if status != 201:
            return None
        account = Account(email, password)
        form = {"username": email, "password": password}
        status, body = self.request("mfa_setup_login", "POST", "/auth/jwt/login", form=form)
        if status != 200 or not isinstance(body, dict):
            return None
        token = body.get("access_token")
        status, body = self.request(
            "mfa_enrol", "POST", "/users/me/mfa/totp", {"current_password": password}, token=token
        )
        if status != 200 or not isinstance(body, dict):
            return None
        account.totp = body.get("secret")
        step = int(time.time()) // 30
        status, _ = self.request(
            "mfa_confirm", "POST", "/users/me/mfa/totp/confirm", {"code": totp_code(account.totp, step)}, token=token
        )
        if status != 200:
            return None
        account.last_step = step
        account.jwt = token
        self.mfa_accounts.append(account)
        return account

    def mfa_login(self):
        """A password login that asks for the code, and its second step."""
        ready = [a for a in self.mfa_accounts if self.next_step(a) is not None]
        if not ready:
            if len(self.mfa_accounts) < MFA_ACCOUNTS:
                self.mfa_account()
            return
        account = self.rng.choice(ready)
        form = {"username": account.email, "password": account.password}
        status, body = self.request("mfa_password", "POST", "/auth/jwt/login", form=form)
        detail = body.get("detail") if isinstance(body, dict) else None
        if status != 400 or not isinstance(detail, dict) or detail.get("code") != "LOGIN_MFA_REQUIRED":
            if status == 400:
                self.rec.error("mfa_password", "POST", "/auth/jwt/login", f"not LOGIN_MFA_REQUIRED: {body!r}")
            return
        step = self.next_step(account)
        if step is None:  # the window moved on meanwhile: the token just lapses
            return
        account.last_step = step
        status, body = self.request(
            "mfa_code",
            "POST",
            "/auth/jwt/login/mfa",
            {"mfa_token": detail.get("mfa_token"), "code": totp_code(account.totp, step)},
        )
        if status == 200 and isinstance(body, dict):
            account.jwt = body.get("access_token")
            self.request("me", "GET", "/users/me", token=account.jwt)

    def run(self):
        try:
            while time.monotonic() < self.deadline:
                op = self.rng.choices(self.ops, self.weights)[0]
                if op == "register":
                    self.register()
                    continue
                if op == "mfa_login":
                    self.mfa_login()
                    continue
                account = self.pick()
                if account is None:
                    continue
                if op == "me":
                    self.me(account)
                elif op == "refresh":
                    self.refresh(account)
                elif op.endswith("_login"):
                    self.login(op[: -len("_login")], account)
                elif op == "logout":
                    self.logout(account)
                elif op == "reset":
                    self.reset(account)
            # Leaves no Redis session behind.
            for account in self.accounts:
                if account.redis:
                    self.request("cleanup_logout", "POST", "/auth/redis/logout", token=account.redis)
        except Exception as e:  # a bug of this driver: say so, fail the run
            self.failed = repr(e)
        finally:
            if self.conn is not None:
                self.conn.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--seconds", type=int, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--mail-log", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=25, help="accounts kept in the mix per worker")
    parser.add_argument("--rss-every", type=float, default=10.0)
    parser.add_argument("--rss-tolerance", type=float, default=10.0, help="percent")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.base_url)
    args.host, args.port = url.hostname, url.port or 80
    args.run_id = secrets.token_hex(4)
    duration = args.seconds

    mailbox = Mailbox(args.mail_log)
    t0 = time.monotonic()
    recorder = Recorder(t0)
    deadline = t0 + duration
    rss = [(0.0, rss_kib(args.server_pid))]
    workers = [Worker(i, args, recorder, mailbox, deadline) for i in range(args.workers)]
    for w in workers:
        w.start()
    server_died = False
    next_sample = args.rss_every
    while True:
        now = time.monotonic() - t0
        if next_sample > duration:
            break
        time.sleep(max(0.0, next_sample - now))
        try:
            rss.append((time.monotonic() - t0, rss_kib(args.server_pid)))
        except OSError:
            server_died = True
            break
        done = len(recorder.samples)
        print(f"[soak] t={next_sample:5.0f}s  RSS {rss[-1][1] / 1024:7.1f} MiB  requests {done}", file=sys.stderr, flush=True)
        next_sample += args.rss_every
    for w in workers:
        w.join(TIMEOUT + MAIL_TIMEOUT + 5)
    try:
        rss_end = (time.monotonic() - t0, rss_kib(args.server_pid))
        if rss[-1][0] < duration - 1:
            rss.append(rss_end)
    except OSError:
        server_died = True
    mailbox.stop.set()

    report(args, duration, recorder, rss, workers, server_died)


def report(args, duration, rec, rss, workers, server_died):
    out = []
    p = out.append
    window = 60.0 if duration >= 300 else duration / 5.0
    wname = "minute" if duration >= 300 else f"fifth ({window:.0f} s)"
    samples = [s for s in rec.samples if s[1] != "cleanup_logout"]
    total = len(samples)
    p(f"== soak: {duration} s of mixed traffic, {args.workers} workers, {total} requests "
      f"({total / duration:.1f} req/s) ==")
    p("")
    ops = [
        "me", "refresh", "jwt_login", "token_login", "redis_login", "logout", "register", "forgot", "reset",
        "mfa_password", "mfa_code", "mfa_register", "mfa_setup_login", "mfa_enrol", "mfa_confirm",
    ]
    p(f"{'operation':<15} {'count':>7} {'statuses':<22} | first {wname}: {'n':>5} {'p50 ms':>8} {'p99 ms':>8} "
      f"| last {wname}: {'n':>5} {'p50 ms':>8} {'p99 ms':>8} | p99 last/first")
    for op in ops:
        rows = [s for s in samples if s[1] == op]
        if not rows:
            continue
        statuses = {}
        for _, _, status, _ in rows:
            statuses[status] = statuses.get(status, 0) + 1
        st = " ".join(f"{k}x{v}" for k, v in sorted(statuses.items()))
        first = [s[3] * 1000 for s in rows if s[0] < window]
        last = [s[3] * 1000 for s in rows if s[0] >= duration - window]

        def f(v):
            return "-" if v is None else f"{v:.1f}"

        p99a, p99b = pct(first, 99), pct(last, 99)
        ratio = f"{p99b / p99a:.2f}" if p99a and p99b else "-"
        p(f"{op:<15} {len(rows):>7} {st:<22} | {'':>{len('first ' + wname) + 1}}{len(first):>5} {f(pct(first, 50)):>8} "
          f"{f(p99a):>8} | {'':>{len('last ' + wname) + 1}}{len(last):>5} {f(pct(last, 50)):>8} {f(p99b):>8} | {ratio}")
    allf = [s[3] * 1000 for s in samples if s[0] < window]
    alll = [s[3] * 1000 for s in samples if s[0] >= duration - window]
    if allf and alll:
        p(f"{'all':<15} {total:>7} {'':<22} | {'':>{len('first ' + wname) + 1}}{len(allf):>5} {pct(allf, 50):>8.1f} "
          f"{pct(allf, 99):>8.1f} | {'':>{len('last ' + wname) + 1}}{len(alll):>5} {pct(alll, 50):>8.1f} "
          f"{pct(alll, 99):>8.1f} | {pct(alll, 99) / pct(allf, 99):.2f}")
    p("")
    p("RSS samples (s: MiB): " + ", ".join(f"{t:.0f}: {v / 1024:.1f}" for t, v in rss if v is not None))
    vals = [(t, v) for t, v in rss if v is not None]
    first_w = [v for t, v in vals if t <= window + 0.5]
    last_w = [v for t, v in vals if t >= duration - window - 0.5]
    p(f"RSS first {wname}: mean {sum(first_w) / len(first_w) / 1024:.1f} MiB (max {max(first_w) / 1024:.1f}); "
      f"last {wname}: mean {sum(last_w) / len(last_w) / 1024:.1f} MiB (max {max(last_w) / 1024:.1f})")
    fifth = duration / 5.0
    base = next(((t, v) for t, v in vals if t >= fifth - 0.5), vals[-1])
    end = vals[-1]
    growth = 100.0 * (end[1] - base[1]) / base[1]
    rss_ok = growth <= args.rss_tolerance and not server_died
    p(f"RSS after the first fifth (t={base[0]:.0f} s): {base[1] / 1024:.1f} MiB; at the end (t={end[0]:.0f} s): "
      f"{end[1] / 1024:.1f} MiB; growth {growth:+.1f} % (limit +{args.rss_tolerance:.0f} %): "
      f"{'ok' if rss_ok else 'FAIL'}")
    p(f"mails read from the server's output (resets, password-change notices): {mailbox_count(workers)}")
    p("")
    failures = []
    if server_died:
        failures.append("the server process died")
    if rec.server_errors:
        failures.append(f"{len(rec.server_errors)} answers 5xx")
        for t, op, method, path, status, body in rec.server_errors[:20]:
            p(f"  5xx at t={t:.1f}s {op}: {method} {path} -> {status} {body!r}")
    if rec.unexpected:
        failures.append(f"{len(rec.unexpected)} unexpected statuses")
        for t, op, method, path, status, body in rec.unexpected[:20]:
            p(f"  unexpected at t={t:.1f}s {op}: {method} {path} -> {status} {body!r}")
    if rec.transport_errors:
        failures.append(f"{len(rec.transport_errors)} connection errors")
        for t, op, method, path, error in rec.transport_errors[:20]:
            p(f"  error at t={t:.1f}s {op}: {method} {path}: {error}")
    for w in workers:
        if w.failed:
            failures.append(f"worker {w.index} failed: {w.failed}")
        elif w.is_alive():
            failures.append(f"worker {w.index} still running after the deadline")
    if not rss_ok and not server_died:
        failures.append(f"RSS grew {growth:+.1f} % after the first fifth")
    n5xx = len(rec.server_errors)
    p(f"5xx: {n5xx}; unexpected statuses: {len(rec.unexpected)}; connection errors: {len(rec.transport_errors)}")
    if failures:
        p("FAIL: " + "; ".join(failures))
    else:
        p("PASS: no 5xx, no unexpected status, RSS flat after the first fifth")
    print("\n".join(out), flush=True)
    sys.exit(1 if failures else 0)


def mailbox_count(workers):
    return workers[0].mailbox.mails if workers else 0


if __name__ == "__main__":
    main()
