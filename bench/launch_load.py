"""Full LTI launches under load: gunicorn against PostgreSQL, 20 concurrent simulated browsers.

What one run does:

1. a fresh PostgreSQL schema, migrated; one registered platform whose key set is served over HTTP
   on a free loopback port (a 2048-bit RSA key made for the run), as a real LMS's would be;
2. gunicorn (``plugin:create_app()``, 4 gthread workers x 4 threads, like ``bench.widgets_load``) on
   a free loopback port, rate limits off (the benchmark is one address);
3. ``browsers`` threads, each a simulated browser with its own keep-alive connection, doing full
   launches back to back: ``POST /lti/login`` (OIDC third-party initiated login: a login state row
   and a binding cookie) -> the platform's side, here in the client: read ``state`` and ``nonce``
   from the redirect and sign an id_token with the platform key (RS256) -> ``POST /lti/launch``
   with the id_token, the state and the cookie (the real validator: signature against the fetched
   key set, claims, the login state consumed, learner, item, placement and enrolment written, the
   widget page rendered). Learners and courses rotate through pools, so launches both create and
   update rows.

Baseline: ``GET /healthz`` (our request plumbing and one ``SELECT 1``) from the same number of
connections on the same server, in rounds interleaved with the launches; the ratio is the median of
the per-round ratios, so machine noise hits both alike. A launch's latency is what its browser
waits for: both requests plus signing the id_token (about 1 ms of the client's CPU).

Bounded: loopback only, a fixed time per phase, a socket timeout on every request.
``python -m bench.launch_load --help``; ``--tiny`` is the few-second size the test suite runs.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bench.widgets_load import Server, bench_schema, database_url, gunicorn, postgres_problem
from plugin import migrate
from plugin.db import make_engine, make_session_factory
from plugin.services import platforms

ISSUER = "https://lms.launch-bench.example"
CLIENT_ID = "launch-bench-client"
DEPLOYMENT_ID = "deployment-1"
TOOL_URL = "http://127.0.0.1"  # WOM_BASE_URL of the benchmark's server (bench.widgets_load._app_config)
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
KID = "launch-bench-key"
__all__ = ["FULL", "TINY", "Phase", "Result", "Size", "database_url", "main", "postgres_problem", "run"]


@dataclass(frozen=True)
class Size:
    browsers: int = 20
    seconds: float = 5.0  # per measured phase
    rounds: int = 3
    warmup: float = 1.0
    learners: int = 2_000
    courses: int = 20


FULL = Size()
TINY = Size(browsers=4, seconds=0.5, rounds=1, warmup=0.2, learners=50, courses=3)


@dataclass
class Phase:
    done: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Result:
    name: str
    phases: list[Phase]
    ratios: list[float]

    @property
    def rate(self) -> float:
        return statistics.median(p.rate for p in self.phases)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def errors(self) -> int:
        return sum(p.errors for p in self.phases)

    def percentile(self, q: float) -> float:
        return _percentile([d for p in self.phases for d in p.latencies], q)


# -- the platform ---------------------------------------------------------------------------------
class _Platform:
    """The LMS's half: its key (served as a JWKS on loopback) and the id_tokens it signs."""

    def __init__(self, size: Size) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        jwk.update(kid=KID, alg="RS256", use="sig")
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.size = size

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """The key set on a free loopback port; yields its URL."""
        body = self.jwks

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
        finally:
            server.shutdown()
            server.server_close()

    def id_token(self, nonce: str, n: int) -> str:
        now = int(time.time())
        course = f"course-{n % self.size.courses}"
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": f"learner-{n % self.size.learners}",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": f"Learner {n % self.size.learners}",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "target_link_uri": TOOL_URL + "/lti/launch",
            LTI + "resource_link": {"id": f"{course}-reviews", "title": "Course reviews"},
            LTI + "roles": [LEARNER_ROLE],
            LTI + "context": {"id": course, "title": f"Course {course}", "label": course.upper()},
            LTI + "launch_presentation": {"locale": "en", "document_target": "iframe"},
        }
        # The key object, not its PEM: loading a PEM costs ~100 ms of CPU, which the platform pays once.
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": KID})


def register(url: str, key_set_url: str) -> None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            platforms.add_or_update_platform(
                session,
                platforms.PlatformSpec(
                    issuer=ISSUER,
                    client_id=CLIENT_ID,
                    auth_login_url=ISSUER + "/auth",
                    auth_token_url=ISSUER + "/token",
                    key_set_url=key_set_url,
                    deployment_ids=(DEPLOYMENT_ID,),
                    name="Launch bench LMS",
                ),
            )
            session.commit()
    finally:
        engine.dispose()


# -- the browsers ---------------------------------------------------------------------------------
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class LaunchFailedError(Exception):
    """A login or launch that did not answer as a browser expects."""


STALE_CONNECTION = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


def _send(
    connection: http.client.HTTPConnection, method: str, path: str, body: str | None = None, headers: dict | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request; a kept-alive connection the server closed meanwhile is reopened once, as browsers do."""
    for attempt in (1, 2):
        try:
            connection.request(method, path, body, headers or {})
            response = connection.getresponse()
            return response, response.read()
        except STALE_CONNECTION:
            connection.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _launch(connection: http.client.HTTPConnection, platform: _Platform, n: int) -> None:
    """One full launch as a browser makes it: login, the platform's redirect, the form post."""
    login = {
        "iss": ISSUER,
        "login_hint": f"learner-{n % platform.size.learners}",
        "target_link_uri": TOOL_URL + "/lti/launch",
        "lti_message_hint": "resource-link",
        "client_id": CLIENT_ID,
        "lti_deployment_id": DEPLOYMENT_ID,
    }
    response, body = _send(connection, "POST", "/lti/login", urlencode(login), FORM)
    if response.status != 302:
        raise LaunchFailedError(f"login {response.status}: {body[:300]!r}")
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.getheader("Location", "")).query).items()}
    # The binding cookie (Secure, so a client library would not send it over http; a browser on a
    # https tool would): name=value of the login's Set-Cookie.
    cookies = [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or [] if c.startswith("wom_lti_")]
    form = urlencode({"id_token": platform.id_token(query["nonce"], n), "state": query["state"]})
    response, body = _send(connection, "POST", "/lti/launch", form, {**FORM, "Cookie": "; ".join(cookies)})
    if response.status != 200:
        raise LaunchFailedError(f"launch {response.status}: {body[:300]!r}")


def _healthz(connection: http.client.HTTPConnection, _platform: _Platform, _n: int) -> None:
    response, body = _send(connection, "GET", "/healthz")
    if response.status != 200:
        raise LaunchFailedError(f"healthz {response.status}: {body[:300]!r}")


Action = Callable[[http.client.HTTPConnection, _Platform, int], None]


def load(port: int, action: Action, platform: _Platform, size: Size, seconds: float, first: int) -> Phase:
    """``size.browsers`` threads repeat ``action`` for ``size.warmup`` + ``seconds``; measure the rest."""
    gate = threading.Barrier(size.browsers + 1)
    results: list[tuple[list[tuple[float, float]], int]] = [([], 0)] * size.browsers
    timing: dict[str, float] = {}
    first_error: list[str] = []

    def browser(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        samples: list[tuple[float, float]] = []
        errors = 0
        n = first + index
        gate.wait()
        begin, end = timing["begin"], timing["end"]
        while (t0 := time.perf_counter()) < end or not (samples or errors):
            try:
                action(connection, platform, n)
                ok = True
            except (OSError, http.client.HTTPException, LaunchFailedError, KeyError) as exc:
                connection.close()
                ok = False
                if not first_error:
                    first_error.append(repr(exc))
            t1 = time.perf_counter()
            if t0 >= begin:
                if ok:
                    samples.append((t1, t1 - t0))
                else:
                    errors += 1
            n += size.browsers
        connection.close()
        results[index] = (samples, errors)

    threads = [threading.Thread(target=browser, args=(i,), daemon=True) for i in range(size.browsers)]
    for thread in threads:
        thread.start()
    timing["begin"] = time.perf_counter() + size.warmup
    timing["end"] = timing["begin"] + seconds
    gate.wait()
    for thread in threads:
        thread.join(timeout=seconds + size.warmup + 120)
    samples = [s for part, _ in results for s in part]
    errors = sum(e for _, e in results)
    finished = max((t for t, _ in samples), default=timing["end"])
    if errors and first_error:
        print(f"  {errors} failed, first: {first_error[0]}", file=sys.stderr)
    return Phase(len(samples), errors, max(finished, timing["end"]) - timing["begin"], [d for _, d in samples])


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Settings for the server's environment (bench.widgets_load.gunicorn passes os.environ on)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def report(results: list[Result], size: Size, server: Server) -> None:
    print(
        f"full LTI launches under load: gunicorn {server.workers} workers ({server.worker_class} x {server.threads} "
        f"threads), PostgreSQL, {size.browsers} concurrent browsers, {size.rounds} rounds x {size.seconds:.1f} s"
    )
    for result in results:
        unit = "req/s" if result.name.startswith("GET") else "launches/s"
        ratio = "" if result.name.startswith("GET") else f"  {result.ratio:5.3f}x /healthz"
        print(
            f"  {result.name:<44} {result.rate:8.1f} {unit:<10} p50 {result.percentile(0.5) * 1000:7.1f} ms  "
            f"p99 {result.percentile(0.99) * 1000:7.1f} ms{ratio}  errors {result.errors}"
        )
    launches = results[-1]
    print(
        f"  (a launch is 2 requests: {2 * launches.rate:.1f} requests/s; its latency includes signing the "
        "id_token in the client, which shares the machine)"
    )


def run(size: Size = FULL, server: Server | None = None, url: str | None = None) -> list[Result]:
    """Start everything, load /healthz and full launches in interleaved rounds, print the table."""
    server = server or Server()
    url = url or database_url()
    if (problem := postgres_problem(url)) is not None:
        raise RuntimeError(f"the launch load benchmark needs PostgreSQL at {url}: {problem}")
    platform = _Platform(size)
    with (
        bench_schema(url) as schema_url,
        tempfile.TemporaryDirectory(prefix="wom-launch-bench-") as instance,
        platform.serving() as key_set_url,
    ):
        migrate.upgrade(schema_url)
        register(schema_url, key_set_url)
        plan: list[tuple[str, Action]] = [
            ("GET /healthz (baseline)", _healthz),
            ("full launch (login, id_token, launch)", _launch),
        ]
        phases: dict[str, list[Phase]] = {name: [] for name, _ in plan}
        with (
            _environment(WOM_RATE_LIMIT_LOGIN="off", WOM_LOG_LEVEL="WARNING"),
            gunicorn(schema_url, instance, server) as (port, _pids),
        ):
            counter = 0
            for _name, action in plan:  # prime: key set fetched by every worker, connections pooled
                load(port, action, platform, size, 0.0, counter)
                counter += 100_000
            for _ in range(size.rounds):
                for name, action in plan:
                    phases[name].append(load(port, action, platform, size, size.seconds, counter))
                    counter += 100_000
        base = phases[plan[0][0]]
        results = [
            Result(
                name,
                phases[name],
                [p.rate / b.rate if b.rate else 0.0 for p, b in zip(phases[name], base, strict=True)],
            )
            for name, _ in plan
        ]
    report(results, size, server)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.launch_load", description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the few-second size the test suite runs")
    parser.add_argument("--browsers", type=int, help=f"concurrent simulated browsers (default {FULL.browsers})")
    parser.add_argument("--seconds", type=float, help=f"seconds per measured phase (default {FULL.seconds})")
    parser.add_argument("--rounds", type=int, help=f"interleaved rounds (default {FULL.rounds})")
    parser.add_argument("--workers", type=int, default=Server().workers, help="gunicorn workers")
    args = parser.parse_args(argv)
    size = TINY if args.tiny else FULL
    changes = {k: v for k, v in (("browsers", args.browsers), ("seconds", args.seconds), ("rounds", args.rounds)) if v}
    size = Size(**{**size.__dict__, **changes})
    run(size, Server(workers=args.workers))


if __name__ == "__main__":
    main()
