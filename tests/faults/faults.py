#!/usr/bin/env python3
"""Rehabit's fault tests: the service under the faults an operator meets.

Each scenario runs the real binary against a private PostgreSQL cluster that this script
initialises and starts on a free port (never the shared server on 5432), drives load with
plain threads and `http.client`, injects one fault, prints its figures and fails on any lost or
duplicated write or an unexpected 5xx.

    tests/faults/run.sh                 # every scenario (builds the binary first)
    tests/faults/run.sh held_lock sigterm
    python3 tests/faults/faults.py --bin target/debug/rehabit --list

Needs Python 3.10+, PostgreSQL's server binaries (PG_BIN, default /usr/lib/postgresql/15/bin;
run.sh picks the newest installed) and psql. As root the cluster runs as `postgres` (through
runuser; initdb refuses root), as anyone else as that user. Timings are printed, never
asserted: outcomes are.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PASSWORD = "correct horse battery staple"
JWT_SECRET = "faults-" + "x" * 40
HIP_MOBILITY = "9a800dc0-a8c1-4ce4-9604-9b2f0e94873f"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"  {time.strftime('%H:%M:%S')} {msg}", flush=True)


class Failed(Exception):
    pass


# --- PostgreSQL ------------------------------------------------------------------------------


class Cluster:
    """A throw-away PostgreSQL cluster in a temporary directory, on a port of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rehabit-faults-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        # C locale: English server messages, which the service's error classification reads.
        self._pg(["initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        self.start()

    def _pg(self, args, check=True):
        cmd = [os.path.join(PG_BIN, args[0])] + args[1:]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and done.returncode != 0:
            raise Failed(f"{' '.join(args[:2])} failed: {done.stdout.strip()}")
        return done

    def start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._pg(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start"])

    def stop(self, mode="fast"):
        self._pg(["pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"], check=False)

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, db, sql):
        done = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        if done.returncode != 0:
            raise Failed(f"psql: {done.stderr.strip()}")
        return done.stdout.strip()

    def psql_background(self, db, sql):
        """Runs `sql` in a psql of its own; answers the process."""
        return subprocess.Popen(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- The service -----------------------------------------------------------------------------


class Service:
    """The rehabit binary on a free port, logging JSON lines to a file."""

    def __init__(self, binary, cluster, db, name, env=None):
        self.binary, self.cluster, self.db, self.name = binary, cluster, db, name
        self.port = free_port()
        self.log_path = os.path.join(cluster.dir, f"{name}.log")
        self.extra = env or {}
        self.proc = None
        self.started_at = None

    def start(self, wait=True):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": self.cluster.url(self.db),
            "BIND_ADDR": f"127.0.0.1:{self.port}",
            "JWT_SECRET": JWT_SECRET,
            "LOG_FORMAT": "json",
            "RUST_LOG": "info",
            "WEBHOOK_WORKER": "false",
            "SHUTDOWN_DRAIN_SECS": "3",
        }
        env.update(self.extra)
        logfile = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, "serve"], env=env, stdout=logfile, stderr=subprocess.STDOUT)
        logfile.close()
        self.started_at = time.monotonic()
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failed(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if call(self.port, "GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failed(f"{self.name} did not come up; see {self.log_path}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failed(f"{self.name} did not exit within {timeout} s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.send_signal(signal.SIGINT)  # the second one stops at once
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_lines(self):
        out = []
        with open(self.log_path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"level": "RAW", "fields": {"message": line.rstrip()}})
        return out


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes
    start: float
    end: float

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def secs(self):
        return self.end - self.start


def call(port, method, path, body=None, headers=None, token=None, timeout=30):
    """One request on a connection of its own. Raises OSError (refused, reset, closed) when no
    answer came."""
    h = {"Connection": "close"}
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=h)
        res = conn.getresponse()
        payload = res.read()
        return Answer(res.status, {k.lower(): v for k, v in res.getheaders()}, payload, start, time.monotonic())
    except http.client.HTTPException as e:
        raise ConnectionError(f"{type(e).__name__}: {e}") from e
    finally:
        conn.close()


def ok(answer, *statuses):
    if answer.status not in statuses:
        raise Failed(f"expected {statuses}, got {answer.status}: {answer.body[:300]!r}")
    return answer.json


@dataclass
class Clinic:
    admin: str
    clinic_id: str
    client_id: str = ""
    client_token: str = ""
    assignment_id: str = ""


def set_up_clinic(port, tag, with_client=False):
    tag = tag.replace("_", "-")
    email = f"admin@{tag}.example"
    ok(call(port, "POST", "/v1/clinics", {"clinic_name": f"Faults {tag}", "admin": {"name": "Admin", "email": email, "password": PASSWORD}}), 201)
    tokens = ok(call(port, "POST", "/v1/auth/token", {"grant_type": "password", "username": email, "password": PASSWORD}), 200)
    admin = tokens["access_token"]
    me = ok(call(port, "GET", "/v1/me", token=admin), 200)
    clinic = Clinic(admin=admin, clinic_id=me["clinic"]["id"])
    if with_client:
        client = ok(call(port, "POST", "/v1/clients", {"name": "Sync Client", "email": f"client@{tag}.example", "timezone": "UTC"}, token=admin), 201)
        invitation = ok(call(port, "POST", f"/v1/clients/{client['id']}/invitation", token=admin), 201)
        accepted = ok(call(port, "POST", "/v1/auth/accept-invitation", {"token": invitation["token"], "password": PASSWORD}), 200)
        assignment = ok(call(port, "POST", f"/v1/clients/{client['id']}/assignments", {
            "routine_id": HIP_MOBILITY,
            "schedule": {"start_date": "2026-01-01", "days_of_week": [], "times_per_day": 1},
        }, token=admin), 201)
        clinic.client_id, clinic.client_token, clinic.assignment_id = client["id"], accepted["access_token"], assignment["id"]
    return clinic


# --- Load ------------------------------------------------------------------------------------


@dataclass
class Record:
    label: str
    start: float
    end: float
    status: int | None  # None: no answer (refused, reset, closed)
    error: str = ""
    retry_after: str | None = None
    content_type: str | None = None


@dataclass
class Tally:
    records: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, r):
        with self.lock:
            self.records.append(r)

    def attempt(self, port, label, method, path, **kw):
        start = time.monotonic()
        try:
            a = call(port, method, path, **kw)
        except OSError as e:
            self.add(Record(label, start, time.monotonic(), None, f"{type(e).__name__}"))
            return None
        self.add(Record(label, a.start, a.end, a.status, retry_after=a.headers.get("retry-after"), content_type=a.headers.get("content-type")))
        return a

    def select(self, label=None, since=None, until=None):
        return [r for r in self.records if (label is None or r.label == label)
                and (since is None or r.start >= since) and (until is None or r.start <= until)]


def acked_write(tally, port_of, label, method, path, body, token, headers=None, deadline=120.0, stop=None):
    """Sends one logical write until it is acknowledged (2xx), as a well-behaved client does:
    the same body and the same Idempotency-Key or client-made id on every attempt, pausing as
    Retry-After says (capped, to keep the test short). Answers the acknowledgement."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if stop is not None and stop.is_set():
            return None
        a = tally.attempt(port_of(), label, method, path, body=body, token=token, headers=headers)
        if a is not None and 200 <= a.status < 300:
            return a
        pause = 0.1
        if a is not None and a.headers.get("retry-after"):
            pause = min(float(a.headers["retry-after"]), 0.5)
        if a is not None and a.status not in (409, 503):
            raise Failed(f"{label}: unexpected {a.status}: {a.body[:300]!r}")
        time.sleep(pause)
    raise Failed(f"{label}: not acknowledged within {deadline} s")


def run_threads(n, target):
    errors = []

    def wrap(i):
        try:
            target(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads, errors


def join(threads, errors, timeout=300):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        raise Failed("load threads did not finish")
    if errors:
        raise errors[0]


def pct(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def fmt_ms(secs):
    return f"{secs * 1000:.0f} ms"


class Figures:
    def __init__(self, scenario):
        self.scenario, self.rows, self.failures = scenario, [], []

    def add(self, name, value):
        self.rows.append((name, value))

    def fail_if(self, condition, message):
        if condition:
            self.failures.append(message)

    def print(self):
        print(f"\n== {self.scenario}")
        width = max(len(n) for n, _ in self.rows) if self.rows else 0
        for name, value in self.rows:
            print(f"   {name:<{width}}  {value}")
        for f in self.failures:
            print(f"   FAIL: {f}")
        print(f"   => {'FAILED' if self.failures else 'ok'}", flush=True)


def count_5xx(records, allowed=(503,)):
    unexpected = [r for r in records if r.status is not None and r.status >= 500 and r.status not in allowed]
    expected = [r for r in records if r.status in allowed]
    return unexpected, expected


def check_503s(fig, records):
    bare = [r for r in records if r.status == 503 and (not r.retry_after or r.content_type != "application/problem+json")]
    fig.fail_if(bare, f"{len(bare)} 503 answers without Retry-After or not problem+json")


def check_clients(fig, cluster, db, clinic_id, acked_names):
    rows = cluster.psql(db, f"SELECT name, count(*) FROM clients WHERE clinic_id = '{clinic_id}' AND name LIKE 'load %' GROUP BY name")
    counts = dict(line.split("|") for line in rows.splitlines() if line)
    lost = [n for n in acked_names if n not in counts]
    dup = [n for n, c in counts.items() if int(c) > 1]
    fig.add("idempotent creates acknowledged", len(acked_names))
    fig.add("  lost / duplicated", f"{len(lost)} / {len(dup)}")
    fig.fail_if(lost, f"lost creates: {lost[:5]}")
    fig.fail_if(dup, f"duplicated creates: {dup[:5]}")


def log_levels(service, since_line=0):
    lines = service.log_lines()[since_line:]
    return lines, [line for line in lines if line.get("level") == "ERROR"]


# --- Scenarios -------------------------------------------------------------------------------


def scenario_kill9_sync(ctx):
    """kill -9 during sync: clients log sessions with client-made ids, and a booking system
    creates clients with Idempotency-Keys; the service is killed mid-way and started again.
    Every write is retried until acknowledged: none may be lost or duplicated."""
    fig = Figures("kill -9 during sync")
    svc = ctx.service("kill9")
    clinic = set_up_clinic(svc.port, "kill9", with_client=True)
    tally, port = Tally(), (lambda: svc.port)
    sessions, names = {}, []
    lock = threading.Lock()
    base = time.time() - 86400

    stop = threading.Event()
    replayed = []

    def client_app(i):
        j = 0
        while not stop.is_set():
            sid = str(uuid.uuid4())
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + i * 10_000 + j * 10))
            body = {"id": sid, "performed_at": at, "pain_before": 4, "pain_after": 2, "notes": f"t{i} #{j}"}
            # Once sent, a log is retried until acknowledged, even after the load stops.
            a = acked_write(tally, port, "session", "POST", f"/v1/assignments/{clinic.assignment_id}/sessions", body, clinic.client_token)
            with lock:
                sessions[sid] = a.status
            j += 1

    def booking(i):
        j = 0
        while not stop.is_set():
            name = f"load {i}-{j}"
            a = acked_write(tally, port, "create", "POST", "/v1/clients", {"name": name, "timezone": "UTC"}, clinic.admin,
                            headers={"Idempotency-Key": f"kill9-{i}-{j}"})
            with lock:
                names.append(name)
                if a.headers.get("idempotency-replayed"):
                    replayed.append(name)
            j += 1

    threads, errors = run_threads(4, client_app)
    more, more_errors = run_threads(3, booking)
    time.sleep(2.0)
    killed_at = time.monotonic()
    svc.proc.kill()
    svc.proc.wait()
    log("killed with SIGKILL")
    time.sleep(1.0)
    restarted_at = time.monotonic()
    svc.start(wait=False)
    svc.wait_healthy()
    time.sleep(2.0)
    stop.set()
    join(threads + more, errors + more_errors)
    # Replays of an Idempotency-Key on a route with a path parameter (the request metrics
    # used to warn about each one).
    replay_body = {"id": str(uuid.uuid4()), "performed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base - 60)), "pain_before": 1}
    for _ in range(3):
        ok(call(svc.port, "POST", f"/v1/assignments/{clinic.assignment_id}/sessions", replay_body,
                token=clinic.client_token, headers={"Idempotency-Key": "replayed-log"}), 201)
    sessions[replay_body["id"]] = 201
    metric_warnings = [line for line in svc.log_lines() if "mixed cardinality" in str(line.get("message", ""))]
    answered_after = [r for r in tally.records if r.status is not None and 200 <= r.status < 300 and r.start >= restarted_at]
    recovery = (min(r.end for r in answered_after) - restarted_at) if answered_after else float("nan")

    stored = set(cluster_lines(ctx.cluster, "kill9", f"SELECT id FROM session_logs WHERE client_id = '{clinic.client_id}'"))
    lost = [s for s in sessions if s not in stored]
    extra = [s for s in stored if s not in sessions]
    unexpected, expected = count_5xx(tally.records)
    no_answer = [r for r in tally.records if r.status is None]
    fig.add("requests", len(tally.records))
    fig.add("session logs acknowledged", f"{len(sessions)} ({sum(1 for s in sessions.values() if s == 200)} as a replay, 200)")
    fig.add("  lost / duplicated", f"{len(lost)} / {len(extra)}")
    check_clients(fig, ctx.cluster, "kill9", clinic.clinic_id, names)
    fig.add("  acknowledged by a replay of the stored answer", len(replayed))
    fig.add("no answer (killed, refused)", len(no_answer))
    fig.add("in flight when killed", len([r for r in no_answer if r.start <= killed_at]))
    fig.add("409 (key in flight)", len([r for r in tally.records if r.status == 409]))
    fig.add("5xx unexpected / 503", f"{len(unexpected)} / {len(expected)}")
    fig.add("restart to first acknowledged write", fmt_ms(recovery))
    fig.add("kill to restart", fmt_ms(restarted_at - killed_at))
    fig.add("metrics warnings logged for 3 replays", len(metric_warnings))
    fig.fail_if(metric_warnings, "replays logged metrics warnings")
    fig.fail_if(lost, f"lost session logs: {lost[:3]}")
    fig.fail_if(extra, f"session logs nobody sent: {extra[:3]}")
    fig.fail_if(unexpected, f"unexpected 5xx: {[r.status for r in unexpected][:5]}")
    check_503s(fig, tally.records)
    return fig


def cluster_lines(cluster, db, sql):
    return [line for line in cluster.psql(db, sql).splitlines() if line]


def scenario_db_restart(ctx):
    """PostgreSQL stopped (fast, then immediate) under load, and started again: requests get
    503 with Retry-After at once, the service recovers when the database is back, the log has a
    line per outage state change, and no acknowledged write is lost or duplicated."""
    fig = Figures("database restart under load")
    svc = ctx.service("dbrestart", {"DATABASE_POOL_SIZE": "4"})
    clinic = set_up_clinic(svc.port, "dbrestart")
    tally, port, stop = Tally(), (lambda: svc.port), threading.Event()
    names, lock = [], threading.Lock()
    lines_before = len(svc.log_lines())

    def reader(i):
        while not stop.is_set():
            tally.attempt(svc.port, "read", "GET", "/v1/clients?limit=5", token=clinic.admin)
            time.sleep(0.02)

    def writer(i):
        j = 0
        while not stop.is_set():
            name = f"load {i}-{j}"
            if acked_write(tally, port, "create", "POST", "/v1/clients", {"name": name, "timezone": "UTC"}, clinic.admin,
                           headers={"Idempotency-Key": f"restart-{i}-{j}"}):
                with lock:
                    names.append(name)
            j += 1

    threads, errors = run_threads(3, reader)
    more, more_errors = run_threads(3, writer)
    outages = []
    for mode in ("fast", "immediate"):
        time.sleep(1.5)
        down = time.monotonic()
        ctx.cluster.stop(mode)
        stopped = time.monotonic()
        log(f"PostgreSQL stopped ({mode})")
        time.sleep(3.0)
        ctx.cluster.start()
        up = time.monotonic()
        log("PostgreSQL started")
        outages.append((mode, down, stopped, up))
    time.sleep(2.0)
    stop.set()
    join(threads + more, errors + more_errors)

    fig.add("requests", len(tally.records))
    for mode, down, stopped, up in outages:
        during = [r for r in tally.records if stopped <= r.start < up and r.status is not None]
        served_after = [r for r in tally.records if r.start >= up and r.status is not None and r.status < 500]
        recovery = (min(r.end for r in served_after) - up) if served_after else float("nan")
        lat = [r.end - r.start for r in during]
        fig.add(f"stop -m {mode}: answers while down", f"{len(during)} ({len([r for r in during if r.status == 503])} × 503)")
        fig.add("  answer latency while down p50 / max", f"{fmt_ms(pct(lat, 0.5))} / {fmt_ms(max(lat, default=0))}")
        fig.add("  database up to first answer served", fmt_ms(recovery))
    unexpected, expected = count_5xx(tally.records)
    fig.add("5xx unexpected / 503", f"{len(unexpected)} / {len(expected)}")
    check_clients(fig, ctx.cluster, "dbrestart", clinic.clinic_id, names)
    lines, errors_logged = log_levels(svc, lines_before)
    fig.add("log lines during the scenario (ERROR)", f"{len(lines)} ({len(errors_logged)})")
    fig.fail_if(unexpected, f"unexpected 5xx: {sorted({r.status for r in unexpected})}")
    # One "unreachable" line per outage, at most (a second one only if requests saw it flap).
    fig.fail_if(len(errors_logged) > 2 * len(outages), f"{len(errors_logged)} ERROR lines for {len(outages)} outages")
    check_503s(fig, tally.records)
    return fig


def scenario_held_lock(ctx):
    """A table locked for 15 s (LOCK TABLE clients) with only two pooled connections: writers to
    that table get 503 with Retry-After once the lock timeout runs out, while /readyz and
    authenticated reads of other tables keep answering at once."""
    fig = Figures("table locked for 15 s, pool of 2")
    svc = ctx.service("lock", {"DATABASE_POOL_SIZE": "2"})
    clinic = set_up_clinic(svc.port, "lock")
    tally, port, stop = Tally(), (lambda: svc.port), threading.Event()
    names, lock = [], threading.Lock()

    def prober(i):
        label, path, token = [("readyz", "/readyz", None), ("me", "/v1/me", clinic.admin), ("exercises", "/v1/exercises?limit=5", clinic.admin)][i % 3]
        while not stop.is_set():
            tally.attempt(svc.port, label, "GET", path, token=token)
            time.sleep(0.05)

    def writer(i):
        j = 0
        while not stop.is_set():
            name = f"load {i}-{j}"
            if acked_write(tally, port, "create", "POST", "/v1/clients", {"name": name, "timezone": "UTC"}, clinic.admin,
                           headers={"Idempotency-Key": f"lock-{i}-{j}"}, stop=stop):
                with lock:
                    names.append(name)
            j += 1

    threads, errors = run_threads(3, prober)
    more, more_errors = run_threads(4, writer)
    time.sleep(1.0)
    proc = ctx.cluster.psql_background("lock", "BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(15); COMMIT;")
    locked = time.monotonic()
    log("clients locked for 15 s")
    proc.wait(60)
    released = time.monotonic()
    log("lock released")
    time.sleep(2.0)
    stop.set()
    join(threads + more, errors + more_errors)

    during = lambda label: [r for r in tally.select(label) if locked + 0.5 <= r.start < released - 0.5]  # noqa: E731
    fig.add("requests", len(tally.records))
    for label in ("readyz", "me", "exercises"):
        rs = during(label)
        lat = [r.end - r.start for r in rs]
        bad = [r for r in rs if r.status != 200]
        fig.add(f"{label} during the lock: answers, not 200", f"{len(rs)}, {len(bad)}")
        fig.add(f"  {label} latency p50 / max", f"{fmt_ms(pct(lat, 0.5))} / {fmt_ms(max(lat, default=0))}")
        fig.fail_if(bad, f"{label} answered {sorted({r.status for r in bad})} during the lock")
        fig.fail_if(not rs, f"{label} got no answer during the lock")
    creates = during("create")
    c503 = [r for r in creates if r.status == 503]
    fig.add("creates during the lock: answers, 503", f"{len(creates)}, {len(c503)}")
    fig.add("  503 latency p50 / max", f"{fmt_ms(pct([r.end - r.start for r in c503], 0.5))} / {fmt_ms(max([r.end - r.start for r in c503], default=0))}")
    served_after = [r for r in tally.select("create") if r.start >= released and r.status == 201]
    fig.add("lock released to first create served", fmt_ms((min(r.end for r in served_after) - released) if served_after else float("nan")))
    unexpected, expected = count_5xx(tally.records)
    fig.add("5xx unexpected / 503", f"{len(unexpected)} / {len(expected)}")
    check_clients(fig, ctx.cluster, "lock", clinic.clinic_id, names)
    fig.fail_if(unexpected, f"unexpected 5xx: {sorted({r.status for r in unexpected})}")
    check_503s(fig, tally.records)
    return fig


def scenario_stop(ctx, sig, name):
    """A stop signal under load, with a load balancer that polls /readyz: /readyz turns 503 at
    once, requests keep being served through the drain period (the balancer takes a moment to
    notice), a request in flight when the server stops accepting is answered, and the process
    exits cleanly with every acknowledged write kept."""
    drain = 3.0
    fig = Figures(f"{name} under load (drain {drain:.0f} s)")
    db = f"stop_{name.lower()}"
    svc = ctx.service(db, {"SHUTDOWN_DRAIN_SECS": str(int(drain))})
    clinic = set_up_clinic(svc.port, db)
    tally, port = Tally(), (lambda: svc.port)
    names, lock = [], threading.Lock()
    unready_at = []
    balancer_stops = threading.Event()

    def balancer(_):
        # Polls /readyz; after seeing 503 it keeps routing for a second (propagation), then stops.
        while True:
            try:
                a = call(svc.port, "GET", "/readyz", timeout=5)
                if a.status == 503 and not unready_at:
                    unready_at.append(time.monotonic())
            except OSError:
                pass
            if unready_at and time.monotonic() > unready_at[0] + min(1.0, drain - 1.0):
                balancer_stops.set()
                return
            time.sleep(0.1)

    def writer(i):
        j = 0
        while not balancer_stops.is_set():
            name_ = f"load {i}-{j}"
            body = {"name": name_, "timezone": "UTC"}
            a = tally.attempt(svc.port, "create", "POST", "/v1/clients", body=body, token=clinic.admin,
                              headers={"Idempotency-Key": f"{db}-{i}-{j}"})
            if a is not None and a.status == 201:
                with lock:
                    names.append(name_)
            j += 1

    def reader(i):
        while not balancer_stops.is_set():
            tally.attempt(svc.port, "read", "GET", "/v1/me", token=clinic.admin)

    lb, lb_errors = run_threads(1, balancer)
    threads, errors = run_threads(4, writer)
    more, more_errors = run_threads(4, reader)
    time.sleep(1.5)
    signalled = time.monotonic()
    svc.signal(sig)
    log(f"sent {name}")
    # A slow request that straddles the moment the server stops accepting: its body trickles
    # in from just before the drain period ends until after it.
    straddle = {}

    def slow_request(_):
        time.sleep(max(0.0, signalled + drain - 0.7 - time.monotonic()))
        body = json.dumps({"name": "load straddler", "timezone": "UTC"}).encode()
        conn = socket.create_connection(("127.0.0.1", svc.port), timeout=20)
        head = (f"POST /v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {clinic.admin}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        conn.sendall(head.encode())
        for k in range(0, len(body), 8):
            conn.sendall(body[k:k + 8])
            time.sleep(0.25)
        straddle["sent_at"] = time.monotonic()
        data = b""
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except OSError as e:
            straddle["error"] = repr(e)
        conn.close()
        straddle["status"] = int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None

    slow, slow_errors = run_threads(1, slow_request)
    join(lb + threads + more + slow, lb_errors + errors + more_errors + slow_errors, timeout=60)
    code = svc.wait(60)
    exited = time.monotonic()
    if straddle.get("status") == 201:
        names.append("load straddler")

    after_signal = [r for r in tally.records if r.start >= signalled]
    dropped = [r for r in tally.records if r.status is None]
    unexpected, expected = count_5xx(tally.records, allowed=())
    fig.add("requests (after the signal)", f"{len(tally.records)} ({len(after_signal)})")
    fig.add("signal to /readyz 503", fmt_ms(unready_at[0] - signalled) if unready_at else "never")
    fig.add("requests sent but not answered", len(dropped))
    fig.add("5xx", len(unexpected))
    fig.add("request straddling the stop", f"{straddle.get('status')} (body done {fmt_ms(straddle.get('sent_at', signalled) - signalled)} after the signal)")
    fig.add("signal to exit / exit status", f"{fmt_ms(exited - signalled)} / {code}")
    check_clients(fig, ctx.cluster, db, clinic.clinic_id, names)
    fig.fail_if(not unready_at, "/readyz never answered 503")
    fig.fail_if(dropped, f"{len(dropped)} requests got no answer: {sorted({r.error for r in dropped})}")
    fig.fail_if(unexpected, f"5xx: {sorted({r.status for r in unexpected})}")
    fig.fail_if(straddle.get("status") != 201, f"the straddling request got {straddle}")
    fig.fail_if(code != 0, f"exit status {code}")
    return fig


def scenario_sigterm(ctx):
    return scenario_stop(ctx, signal.SIGTERM, "SIGTERM")


def scenario_sigint(ctx):
    return scenario_stop(ctx, signal.SIGINT, "SIGINT")


class Receiver:
    """A webhook receiver that takes `delay` seconds per delivery and notes what arrived."""

    def __init__(self, delay):
        self.delay, self.arrivals, self.lock = delay, [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.arrivals.append((self.headers.get("Rehabit-Delivery-Id"), self.headers.get("Rehabit-Event-Id"), time.monotonic()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def scenario_webhook_workers(ctx):
    """Two instances deliver webhooks from one database; one is stopped with SIGTERM while it
    holds deliveries. With a receiver faster than the drain period, it finishes what it holds
    (no duplicate); with one slower, it releases the rest to the other instance at once (sent
    again within seconds, not when the lease runs out a minute later)."""
    fig = Figures("two webhook workers, one stopped with SIGTERM")
    for phase, delay in (("receiver faster than the drain", 0.3), ("receiver slower than the drain", 5.0)):
        db = "webhooks_fast" if delay < 1 else "webhooks_slow"
        env = {"WEBHOOK_WORKER": "true", "WEBHOOK_POLL_MS": "100", "SHUTDOWN_DRAIN_SECS": "2"}
        a = ctx.service(db, env, name=f"{db}_a")
        b = ctx.service(db, env, name=f"{db}_b")
        receiver = Receiver(delay)
        clinic = set_up_clinic(a.port, db)
        ok(call(a.port, "POST", "/v1/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["client.created"]}, token=clinic.admin), 201)
        # With the slow receiver, few enough that the other instance's throughput (4 at a time
        # per endpoint) is not what decides when the last one arrives.
        n = 40 if delay < 1 else 8
        for i in range(n):
            ok(call(a.port, "POST", "/v1/clients", {"name": f"hooked {i}", "timezone": "UTC"}, token=clinic.admin), 201)
        time.sleep(0.6 if delay < 1 else 1.0)
        stopped = time.monotonic()
        b.signal(signal.SIGTERM)
        code = b.wait(60)
        b_exit = time.monotonic() - stopped
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            done = ctx.cluster.psql(db, "SELECT count(*) FROM webhook_deliveries WHERE state = 'succeeded'")
            if int(done) >= n:
                break
            time.sleep(0.2)
        time.sleep(delay + 1.0)  # anything still coming arrives now
        with receiver.lock:
            arrivals = list(receiver.arrivals)
        by_delivery = {}
        for d, e, at in arrivals:
            by_delivery.setdefault(d, []).append(at)
        events = {e for _, e, _ in arrivals}
        repeated = {d: ts for d, ts in by_delivery.items() if len(ts) > 1}
        last = max((at for _, _, at in arrivals), default=stopped) - stopped
        states = cluster_lines(ctx.cluster, db, "SELECT state || ':' || count(*) FROM webhook_deliveries GROUP BY state")
        released = sum(int(line.get("released", 0)) for line in b.log_lines() if "released" in line)
        stopped_line = next((line for line in b.log_lines() if line.get("message") == "webhook worker stopped"), {})
        fig.add(f"{phase} ({delay:.1f} s per delivery)", "")
        fig.add("  events delivered / created", f"{len(events)} / {n}")
        fig.add("  deliveries received more than once", len(repeated))
        fig.add("  stopped instance: exit after SIGTERM / status", f"{fmt_ms(b_exit)} / {code}")
        fig.add("  in flight at the stop / released to the other instance", f"{stopped_line.get('in_flight_at_stop', '?')} / {released}")
        fig.add("  last arrival after the stop", fmt_ms(last))
        fig.add("  delivery states", ", ".join(states))
        fig.fail_if(len(events) < n, f"{phase}: {n - len(events)} events never delivered")
        fig.fail_if(code != 0, f"{phase}: exit status {code}")
        if delay < 1:
            fig.fail_if(repeated, f"{phase}: {len(repeated)} deliveries sent twice")
        fig.fail_if(last > 30, f"{phase}: a delivery arrived {last:.0f} s after the stop (a lease ran out)")
        a.stop()
        receiver.close()
    return fig


MALFORMED = {
    "bad request line": b"GARBAGE\r\n\r\n",
    "bad HTTP version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "head too large (200 KB header)": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    "too many headers": b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n",
    "bad Content-Length": b"POST /v1/clients HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    "negative Content-Length": b"POST /v1/clients HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
    "Content-Length twice": b"POST /v1/clients HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "Content-Length and chunked": b"POST /v1/clients HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad chunk size": b"POST /v1/clinics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "body shorter than Content-Length, then closed": b"POST /v1/clinics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na",
    "invalid JSON": b"POST /v1/clinics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{{{ nul }",
    "NUL in the path": b"GET /v1/clients/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-UTF-8 header": b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
    "very long URL": b"GET /v1/exercises?q=" + b"a" * 60_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown method": b"BREW /v1/clients HTTP/1.1\r\nHost: x\r\n\r\n",
    "huge Content-Length": b"POST /v1/clinics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{}",
}


def raw_exchange(port, payload, close_write=True, timeout=15):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(payload)
            if close_write:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered (and closed) before taking it all: read what it said
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def parse_raw(data):
    if not data.startswith(b"HTTP/1."):
        return None, None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    ctype = next((ln.split(b":", 1)[1].strip().decode() for ln in lines[1:] if ln.lower().startswith(b"content-type:")), None)
    return status, ctype, body


def scenario_malformed_storm(ctx):
    """A storm of malformed requests (bad request lines, oversized heads, broken lengths, bad
    JSON, bodies trickled at a byte a second, headers that never end): no 5xx, the service stays
    ready, memory stays flat, and each kind's answer is listed with whether it is problem+json
    (actix answers the ones it rejects before the application itself)."""
    fig = Figures("malformed-request storm")
    svc = ctx.service("storm", {"BODY_READ_TIMEOUT_SECS": "3"})
    set_up_clinic(svc.port, "storm")
    rss_before = svc.rss_kb()
    answers = {k: [] for k in MALFORMED}
    lock = threading.Lock()
    kinds = list(MALFORMED)

    def storm(i):
        for j in range(60):
            kind = kinds[(i * 7 + j) % len(kinds)]
            status, ctype, _ = parse_raw(raw_exchange(svc.port, MALFORMED[kind], close_write=(kind != "body shorter than Content-Length, then closed")))
            with lock:
                answers[kind].append((status, ctype))

    slow = {}

    def trickle_body(_):
        body = b'{"name": "trickled", "timezone": "UTC"}'
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=30)
        s.sendall(b"POST /v1/clinics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        start = time.monotonic()
        data = b""
        try:
            for k in range(len(body)):
                s.sendall(body[k:k + 1])
                s.settimeout(1.0)
                try:
                    data += s.recv(65536)
                except socket.timeout:
                    pass
                if data:
                    break
            s.settimeout(10)
            while not data.endswith(b"}") and (chunk := s.recv(65536)):
                data += chunk
        except OSError:
            pass
        s.close()
        slow["body"] = (parse_raw(data), time.monotonic() - start)

    def trickle_head(_):
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=30)
        start = time.monotonic()
        data = b""
        try:
            for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                s.sendall(bytes([ch]))
                s.settimeout(1.0)
                try:
                    data += s.recv(65536)
                except socket.timeout:
                    pass
                if data:
                    break
        except OSError:
            pass
        s.close()
        slow["head"] = (parse_raw(data), time.monotonic() - start)

    threads, errors = run_threads(8, storm)
    slow_threads, slow_errors = run_threads(1, trickle_body)
    head_threads, head_errors = run_threads(1, trickle_head)
    join(threads + slow_threads + head_threads, errors + slow_errors + head_errors, timeout=120)
    rss_after = svc.rss_kb()
    ready = call(svc.port, "GET", "/readyz").status
    total = sum(len(v) for v in answers.values())
    fig.add("malformed requests", total)
    server_errors = []
    for kind, got in answers.items():
        statuses = sorted({s for s, _ in got}, key=lambda s: (s is None, s))
        problem = all(c == "application/problem+json" for s, c in got if s is not None)
        shown = ", ".join("closed" if s is None else str(s) for s in statuses)
        fig.add(f"  {kind}", f"{shown}{'' if problem else ' (not problem+json)'}")
        server_errors += [s for s, _ in got if s is not None and s >= 500]
    (body_status, body_ctype, _), body_secs = slow.get("body", ((None, None, b""), 0))
    (head_status, head_ctype, _), head_secs = slow.get("head", ((None, None, b""), 0))
    fig.add("body trickled at 1 byte/s", f"{body_status} {body_ctype} after {body_secs:.1f} s")
    fig.add("headers trickled at 1 byte/s", f"{head_status} {head_ctype or '(no body)'} after {head_secs:.1f} s")
    fig.add("RSS before / after", f"{rss_before // 1024} MiB / {rss_after // 1024} MiB")
    fig.add("/readyz afterwards", ready)
    fig.fail_if(server_errors, f"5xx answers: {sorted(set(server_errors))}")
    fig.fail_if(body_status != 408 or body_ctype != "application/problem+json", f"a trickled body got {body_status} {body_ctype}")
    fig.fail_if(head_status not in (408, None), f"trickled headers got {head_status}")
    fig.fail_if(ready != 200, f"/readyz answered {ready} after the storm")
    fig.fail_if(rss_after > rss_before + 64 * 1024, "memory grew by more than 64 MiB")
    return fig


SCENARIOS = {
    "malformed_storm": scenario_malformed_storm,
    "held_lock": scenario_held_lock,
    "sigterm": scenario_sigterm,
    "sigint": scenario_sigint,
    "kill9_sync": scenario_kill9_sync,
    "db_restart": scenario_db_restart,
    "webhook_workers": scenario_webhook_workers,
}


class Context:
    def __init__(self, binary, cluster):
        self.binary, self.cluster, self.services = binary, cluster, []

    def service(self, db, env=None, name=None):
        svc = Service(self.binary, self.cluster, db, name or db, env)
        self.services.append(svc)
        svc.start()
        return svc

    def close(self):
        for svc in self.services:
            svc.stop()
        self.services = []


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the rehabit binary to test")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's directory (logs) afterwards")
    parser.add_argument("scenarios", nargs="*", help="scenarios to run (default: all)")
    args = parser.parse_args()
    if args.list:
        for name, fn in SCENARIOS.items():
            print(f"{name}: {' '.join(fn.__doc__.split()) if fn.__doc__ else ''}")
        return 0
    chosen = args.scenarios or list(SCENARIOS)
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenarios: {unknown}; --list shows them", file=sys.stderr)
        return 2
    binary = os.path.abspath(args.bin)
    started = time.monotonic()
    print("starting a private PostgreSQL cluster", flush=True)
    cluster = Cluster()
    print(f"  on 127.0.0.1:{cluster.port}, in {cluster.dir}", flush=True)
    failed = []
    try:
        for name in chosen:
            print(f"\n-- {name}", flush=True)
            ctx = Context(binary, cluster)
            t0 = time.monotonic()
            try:
                fig = SCENARIOS[name](ctx)
                fig.add("scenario time", f"{time.monotonic() - t0:.1f} s")
                fig.print()
                if fig.failures:
                    failed.append(name)
            except Failed as e:
                print(f"   FAIL: {e}", flush=True)
                failed.append(name)
            except Exception:  # noqa: BLE001 - a broken harness fails the scenario, loudly
                import traceback

                traceback.print_exc()
                failed.append(name)
            finally:
                ctx.close()
    finally:
        if args.keep:
            cluster.stop()
            print(f"\nkept {cluster.dir}")
        else:
            cluster.destroy()
    print(f"\n{len(chosen) - len(failed)} of {len(chosen)} scenarios passed in {time.monotonic() - started:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
