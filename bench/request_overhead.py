"""What our request plumbing (request id, unit of work, error handling) costs per request.

Baseline: a bare Flask app answering ``/healthz`` with the same database query on the same engine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Flask, jsonify
from sqlalchemy import text

from bench.timing import compare, report
from plugin import migrate
from plugin.app import create_app


def run(calls: int = 200, rounds: int = 15) -> float:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrate.upgrade(url)
        ours = create_app({"WOM_DATABASE_URL": url, "WOM_INSTANCE_PATH": folder, "WOM_SECRET_KEY": "b" * 40})
        engine = ours.extensions["wordofmouth.engine"]

        bare = Flask("bare")

        @bare.get("/healthz")
        def healthz():  # type: ignore[no-untyped-def]
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return jsonify(status="ok", database="ok")

        bare_client, our_client = bare.test_client(), ours.test_client()
        base, cand, ratio = compare(
            lambda: bare_client.get("/healthz"), lambda: our_client.get("/healthz"), rounds=rounds, calls=calls
        )
        report("GET /healthz vs bare Flask", base, cand, ratio)
        engine.dispose()
        return ratio
