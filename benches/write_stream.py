#!/usr/bin/env python3
"""A stream of writes against the example server, for benches/load.sh.

Usage: write_stream.py BASE_URL SECONDS [THREADS]

Each thread registers a user of its own and logs it in (JWT), then until
SECONDS have passed alternates two writes: a registration of a fresh address
(`POST /auth/register`) and a change of its own user's password
(`PATCH /users/me`, which keeps the token of the request that made it).
Both writes hash a password and write a row, as real sign-ups and password
changes do. Prints `writes_per_sec=<n>` and the count of each answer; exits
non-zero when a write answered anything unexpected.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

PASSWORDS = ("Write-pass-8472!", "Write-pass-2748?")


class Client:
    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def send(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, response.read()


def run(base, until, index, counts, lock):
    client = Client(base)
    prefix = f"w{os.getpid()}-{index}"
    email = f"{prefix}@example.com"
    current = 0

    def register(address, password):
        body = json.dumps({"email": address, "password": password})
        return client.send("POST", "/auth/register", body, {"content-type": "application/json"})

    def login():
        form = urllib.parse.urlencode({"username": email, "password": PASSWORDS[current]})
        status, body = client.send(
            "POST", "/auth/jwt/login", form, {"content-type": "application/x-www-form-urlencoded"}
        )
        if status != 200:
            raise SystemExit(f"login answered {status}: {body[:200]!r}")
        return json.loads(body)["access_token"]

    status, body = register(email, PASSWORDS[current])
    if status != 201:
        raise SystemExit(f"register answered {status}: {body[:200]!r}")
    token = login()
    n = 0
    while time.monotonic() < until:
        n += 1
        status, _ = register(f"{prefix}-{n}@example.com", PASSWORDS[0])
        record(counts, lock, "register", status)
        nxt = 1 - current
        status, _ = client.send(
            "PATCH",
            "/users/me",
            json.dumps({"password": PASSWORDS[nxt]}),
            {"content-type": "application/json", "authorization": f"Bearer {token}"},
        )
        record(counts, lock, "password", status)
        if status == 200:
            current = nxt
        if status == 401:
            token = login()


def record(counts, lock, what, status):
    with lock:
        key = f"{what} {status}"
        counts[key] = counts.get(key, 0) + 1


def main():
    base, seconds = sys.argv[1], float(sys.argv[2])
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    started = time.monotonic()
    until = started + seconds
    counts, lock, errors = {}, threading.Lock(), []

    def guarded(i):
        try:
            run(base, until, i, counts, lock)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(f"thread {i}: {e}")

    workers = [threading.Thread(target=guarded, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    ok = counts.get("register 201", 0) + counts.get("password 200", 0)
    print(f"writes_per_sec={ok / elapsed:.2f}")
    print("answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    bad = {k: v for k, v in counts.items() if k not in ("register 201", "password 200")}
    if errors or bad:
        print("unexpected: " + "; ".join(errors + [f"{k}: {v}" for k, v in bad.items()]))
        sys.exit(1)


if __name__ == "__main__":
    main()
