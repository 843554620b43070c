"""``wordofmouth platform origin add/remove/list``, as an LMS admin uses them."""

from __future__ import annotations

from flask import Flask

from plugin import framing
from plugin.services import platforms
from tests.integration.lti.test_admin_cli import ADD

CANVAS = ["https://moodle.example.org", "--client-id", "abc123"]


def run(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["platform", "origin", *args])


def framed_by(app: Flask) -> tuple[str, ...]:
    """The origins the platform's pages may be framed by, as the app's cache holds them."""
    session = app.extensions["wordofmouth.sessions"]()
    try:
        platform = platforms.find_platform(session, CANVAS[0], CANVAS[2])
        assert platform is not None
        platform_id = platform.id
    finally:
        session.close()
    return framing.origin_cache(app).origins(platform_id)


def test_add_list_remove(app: Flask) -> None:
    assert app.test_cli_runner().invoke(args=ADD).exit_code == 0
    assert framed_by(app) == ("https://moodle.example.org",)  # the origin list is now cached

    added = run(app, "add", *CANVAS, "https://School.Example.edu:443/")
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "added https://school.example.edu for https://moodle.example.org (client abc123)"
    again = run(app, "add", *CANVAS, "https://school.example.edu")
    assert again.exit_code == 0 and "already allowed: https://school.example.edu" in again.output
    # the command dropped the cache of the app it ran with
    assert "https://school.example.edu" in framed_by(app)

    listed = run(app, "list", *CANVAS)
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == ["https://moodle.example.org  issuer", "https://school.example.edu  admin"]

    removed = run(app, "remove", *CANVAS, "https://school.example.edu")
    assert removed.exit_code == 0, removed.output
    assert "removed https://school.example.edu" in removed.output
    assert run(app, "list", *CANVAS).output.splitlines() == ["https://moodle.example.org  issuer"]
    assert framed_by(app) == ("https://moodle.example.org",)


def test_refusals_are_usage_errors(app: Flask) -> None:
    assert app.test_cli_runner().invoke(args=ADD).exit_code == 0
    unknown = run(app, "list", "https://nowhere.example", "--client-id", "x")
    assert unknown.exit_code == 2
    assert "no platform registered with issuer https://nowhere.example and client id x" in unknown.output
    path = run(app, "add", *CANVAS, "https://school.example.edu/courses/1")
    assert path.exit_code == 2 and "an origin has no path" in path.output
    garbage = run(app, "add", *CANVAS, "https://school.example.edu; script-src *")
    assert garbage.exit_code == 2
    missing = run(app, "remove", *CANVAS, "https://school.example.edu")
    assert missing.exit_code == 2 and "not an origin of this platform" in missing.output
    issuer = run(app, "remove", *CANVAS, "https://moodle.example.org")
    assert issuer.exit_code == 2 and "always counts" in issuer.output
    assert run(app, "list", *CANVAS).output.splitlines() == ["https://moodle.example.org  issuer"]
