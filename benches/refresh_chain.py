#!/usr/bin/env python3
"""Chains of refresh-token rotations against the example server, for benches/refresh.sh.

Usage: refresh_chain.py BASE_URL EMAIL PASSWORD [options]

A refresh token is single-use (`POST /auth/token/refresh` answers a new one and
the presented one is dead), so a load generator cannot replay one request.
This driver runs CHAINS concurrent chains on one asyncio loop, each on a
keep-alive HTTP/1.1 connection of its own (raw sockets, no HTTP library):

1. every chain logs in once on `POST /auth/token/login` (form), the chains
   one after the other (the login throttle counts concurrent attempts for one
   address before any succeeds), before the measured window; these logins
   verify a password (argon2) and are slow, and are not measured;
2. then each chain POSTs `/auth/token/refresh` `{"refresh_token": <its
   current token>}` in a loop and takes the new refresh token from the answer:
   WARMUP seconds not counted, then DURATION seconds measured. A refresh
   counts in the window when its answer arrives inside it; the one in flight
   at the end of the window is left out.

Every chain refreshes only its own token, one request at a time, so no token
is ever presented twice: any answer but 200 (with a new, different refresh
token and an access token) is an error. After the window, chain 0 presents
the refresh token it had just rotated away once more, and checks that it is
refused and that its session's access token then stops working (the rotation
and reuse detection the figures rely on).

Over the measured window it also reads /proc: the CPU time of the server
process (--server-pid) and of this process, in % of one core, and the busy %
of the server's core (--server-cpu) and of this process's core
(--loadgen-cpu), counted as benches/load.sh's busy_percent does (user, nice,
system, irq, softirq against those plus idle and iowait).

Prints `key=value` lines (refreshes_per_sec, ok, bad, p50_ms, p99_ms, …) and
`answers: …`; exits non-zero on any unexpected answer or connection error.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.parse

CLK_TCK = os.sysconf("SC_CLK_TCK")


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self):
        if self.writer is not None:
            self.writer.close()

    async def request(self, method, path, body=b"", headers=()):
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers]
        if body or method == "POST":
            head.append(f"content-length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
        if "content-length" in fields:
            data = await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = b""
        if fields.get("connection", "").lower() == "close":
            self.close()
            await self.open()
        return status, data


def core_ticks(cpu):
    """(busy, total) ticks of core `cpu`, as load.sh's busy_percent counts them."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:8]]
                busy = v[0] + v[1] + v[2] + v[5] + v[6]
                return busy, busy + v[3] + v[4]
    return 0, 0


def process_ticks(pid):
    """utime + stime of a process (all its threads), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def snapshot(args):
    return {
        "t": time.monotonic(),
        "server": process_ticks(args.server_pid) if args.server_pid else 0,
        "driver": process_ticks(os.getpid()),
        "server_core": core_ticks(args.server_cpu) if args.server_cpu is not None else (0, 0),
        "loadgen_core": core_ticks(args.loadgen_cpu) if args.loadgen_cpu is not None else (0, 0),
    }


def percent_of_core(ticks, seconds):
    return 100.0 * ticks / CLK_TCK / seconds if seconds > 0 else float("nan")


def core_busy(a, b):
    busy, total = b[0] - a[0], b[1] - a[1]
    return 100.0 * busy / total if total > 0 else float("nan")


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


class Failure(Exception):
    pass


async def main_async(args):
    url = urllib.parse.urlsplit(args.base)
    host, port = url.hostname, url.port or 80
    form = urllib.parse.urlencode({"username": args.email, "password": args.password}).encode()
    login_headers = [("content-type", "application/x-www-form-urlencoded")]
    json_headers = [("content-type", "application/json")]

    conns = [Connection(host, port) for _ in range(args.chains)]
    counts, latencies, errors = {}, [], []
    state = {}  # chain -> (current refresh token, previous refresh token, access token)

    # --- set-up: one login per chain, not measured ------------------------------
    t_login = time.monotonic()

    async def login(i):
        await conns[i].open()
        status, body = await conns[i].request("POST", "/auth/token/login", form, login_headers)
        if status != 200:
            raise Failure(f"chain {i}: POST /auth/token/login answered {status}: {body[:200]!r}")
        answer = json.loads(body)
        if not answer.get("refresh_token") or not answer.get("access_token"):
            raise Failure(f"chain {i}: the login answer has no refresh_token/access_token: {body[:200]!r}")
        state[i] = (answer["refresh_token"], None, answer["access_token"])

    # One after the other: the login throttle counts every attempt for an
    # address before checking its password (a success clears the count), so
    # concurrent logins of one user would be answered 429.
    for i in range(args.chains):
        await login(i)
    login_seconds = time.monotonic() - t_login

    # --- the chains -------------------------------------------------------------
    start = time.monotonic()
    window_start = start + args.warmup
    window_end = window_start + args.duration
    marks = {}

    async def mark_window():
        await asyncio.sleep(max(0.0, window_start - time.monotonic()))
        marks["start"] = snapshot(args)
        await asyncio.sleep(max(0.0, window_end - time.monotonic()))
        marks["end"] = snapshot(args)

    async def chain(i):
        conn = conns[i]
        current, previous, access = state[i]
        while True:
            sent = time.monotonic()
            if sent >= window_end:
                break
            body = json.dumps({"refresh_token": current}).encode()
            try:
                status, data = await conn.request("POST", "/auth/token/refresh", body, json_headers)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
                errors.append(f"chain {i}: {type(e).__name__}: {e}")
                return
            done = time.monotonic()
            key = str(status)
            if status == 200:
                try:
                    answer = json.loads(data)
                    new = answer["refresh_token"]
                    access = answer["access_token"]
                except (ValueError, KeyError, TypeError):
                    new = None
                if not new or new == current:
                    key = "200 without a new refresh token"
                else:
                    previous, current = current, new
            in_window = window_start <= done <= window_end
            if in_window:
                counts[key] = counts.get(key, 0) + 1
                if key == "200":
                    latencies.append(done - sent)
            if key != "200":
                # The chain's token is its own: nothing but a 200 is expected.
                if not in_window:
                    counts[key + " (outside the window)"] = counts.get(key + " (outside the window)", 0) + 1
                errors.append(f"chain {i}: refresh answered {key}: {data[:200]!r}")
                return
        state[i] = (current, previous, access)

    marker = asyncio.create_task(mark_window())
    await asyncio.gather(*(chain(i) for i in range(args.chains)))
    await marker

    # --- rotation check on chain 0: the rotated-away token is dead --------------
    reuse = "not checked"
    current, previous, access = state.get(0, (None, None, None))
    if not errors and previous:
        conn = conns[0]
        body = json.dumps({"refresh_token": previous}).encode()
        reused, data = await conn.request("POST", "/auth/token/refresh", body, json_headers)
        me, _ = await conn.request("GET", "/users/me", b"", [("authorization", f"Bearer {access}")])
        reuse = f"previous refresh token answered {reused}, then the session's access token {me}"
        if reused == 200 or me == 200:
            errors.append(f"rotation check failed: {reuse}")
    for c in conns:
        c.close()

    a, b = marks["start"], marks["end"]
    seconds = b["t"] - a["t"]
    ok = counts.get("200", 0)
    bad = sum(v for k, v in counts.items() if k != "200")
    latencies.sort()
    print(f"chains={args.chains}")
    print(f"login_seconds={login_seconds:.2f}")
    print(f"window_seconds={seconds:.3f}")
    print(f"ok={ok}")
    print(f"bad={bad}")
    print(f"refreshes_per_sec={ok / seconds:.2f}")
    print(f"p50_ms={percentile(latencies, 0.50) * 1000:.3f}")
    print(f"p99_ms={percentile(latencies, 0.99) * 1000:.3f}")
    print(f"server_cpu_pct={percent_of_core(b['server'] - a['server'], seconds):.1f}")
    print(f"server_core_busy_pct={core_busy(a['server_core'], b['server_core']):.1f}")
    print(f"driver_cpu_pct={percent_of_core(b['driver'] - a['driver'], seconds):.1f}")
    print(f"loadgen_core_busy_pct={core_busy(a['loadgen_core'], b['loadgen_core']):.1f}")
    print(f"reuse_check={reuse}")
    print("answers: " + (", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"))
    if errors:
        print("unexpected: " + "; ".join(errors[:10]) + (f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""))
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base")
    p.add_argument("email")
    p.add_argument("password")
    p.add_argument("--chains", type=int, default=16)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--server-pid", type=int)
    p.add_argument("--server-cpu", type=int)
    p.add_argument("--loadgen-cpu", type=int)
    args = p.parse_args()
    if args.chains < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--chains must be positive, --duration positive, --warmup not negative")
    try:
        code = asyncio.run(main_async(args))
    except Failure as e:
        print(f"unexpected: {e}")
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
