"""What ``GET /lti/jwks`` costs next to ``GET /healthz`` of the same app (issue 9, item 14).

Platforms fetch our key set often (some on every launch); building it parsed every private key,
~110 ms of CPU per request. The document is now cached per process. Goal: /lti/jwks at least
0.5x the throughput of /healthz, both measured in the same run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.timing import compare
from plugin import migrate
from plugin.app import create_app

GOAL = 0.5


def run(calls: int = 200, rounds: int = 15) -> float:
    """Print and return /lti/jwks throughput as a fraction of /healthz throughput."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrate.upgrade(url)
        app = create_app(
            {
                "WOM_DATABASE_URL": url,
                "WOM_INSTANCE_PATH": folder,
                "WOM_SECRET_KEY": "b" * 40,
                "WOM_RATE_LIMIT_LTI": "off",
            }
        )
        client = app.test_client()
        assert client.get("/lti/jwks").status_code == 200  # keys made once, as in production
        base, cand, ratio = compare(
            lambda: client.get("/healthz"), lambda: client.get("/lti/jwks"), rounds=rounds, calls=calls
        )
        throughput = 1 / ratio
        verdict = "meets" if throughput >= GOAL else "MISSES"
        print(
            f"{'GET /lti/jwks vs GET /healthz':<40} healthz {base * 1e6:8.1f} us  jwks {cand * 1e6:8.1f} us  "
            f"throughput {throughput:5.2f}x of /healthz ({verdict} the goal of {GOAL}x)"
        )
        app.extensions["wordofmouth.engine"].dispose()
        return throughput
