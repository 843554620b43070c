"""xAPI adapter: vocabulary, statement builders, the outbox, LRS transport and ingest.

``init_app`` subscribes the outbox to the core's social actions; the delivery and pull jobs, the
CLI commands and the demo's outbox page register themselves from here as well.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from xapi import cli, delivery, ingest, outbox, views

    outbox.init_app(app)
    views.init_app(app)
    delivery.init_app(app)
    ingest.init_app(app)
    cli.init_app(app)
