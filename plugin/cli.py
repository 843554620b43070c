"""The ``wordofmouth`` command line: Flask's ``run`` plus our own groups.

Adapters add their groups (``platform``, ``keys``, ``xapi`` ...) through the app factory.
"""

from __future__ import annotations

import os
from http import HTTPStatus
from typing import NoReturn

import click
from alembic.util import CommandError as AlembicCommandError
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from werkzeug.exceptions import RequestURITooLarge
from werkzeug.serving import WSGIRequestHandler, make_server

from plugin import migrate
from plugin.app import admin_urls, create_app
from plugin.errors import ConfigurationError
from plugin.problems import ADDRESS_TOO_LONG, answer_outside_app
from plugin.recommend.cli import recommend
from plugin.settings import load_settings
from plugin.web import get_settings

DEFAULT_BASE_URL = "http://127.0.0.1:5000"  # the settings' default for WOM_BASE_URL


def _create_app() -> object:
    return create_app()


def _fail(message: str) -> NoReturn:
    """Stop with one line on stderr and exit code 1, like a refused configuration."""
    raise SystemExit(f"wordofmouth: {message}")


def _safe_url(database_url: str) -> str:
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "WOM_DATABASE_URL"


def _database_url() -> str:
    """The configured database URL (the app context may be gone by the time a command failed)."""
    try:
        return load_settings().database_url
    except ConfigurationError:
        return ""


def explain(exc: Exception) -> str | None:
    """One line saying what to fix for the everyday mistakes, or None for a real bug."""
    url = _database_url()
    where = f" at {_safe_url(url)}" if url else ""
    if isinstance(exc, AlembicCommandError):
        detail = str(exc).splitlines()[0] if str(exc) else "migration failed"
        if "Can't locate revision" in detail or "No such revision" in detail:
            known = ", ".join(migrate.revisions(url or "sqlite://"))
            return f"{detail}: give 'head', 'base' or one of {known} (`wordofmouth db current` shows where it is)"
        return detail
    if isinstance(exc, DBAPIError):
        first = (str(exc.orig).strip().splitlines() or [exc.__class__.__name__])[0]
        if "no such table" in first or getattr(exc.orig, "sqlstate", None) == "42P01":
            return f"the database{where} has no Word of Mouth tables yet: run `wordofmouth db upgrade` first ({first})"
        if exc.statement is None or exc.connection_invalidated:  # connecting failed
            return (
                f"cannot reach the database{where}: {first}. Check WOM_DATABASE_URL and that the database "
                "server is running and accepts connections"
            )
        if isinstance(exc, OperationalError):
            return f"the database{where} refused the command: {first}"
    return None


class WordOfMouthGroup(FlaskGroup):
    """Flask's group with our answer to everyday mistakes: one line, no traceback."""

    # Flask-Limiter's and flask-smorest's own commands (limits are in the README, the widget API's
    # OpenAPI document is served at /api/openapi.json).
    hidden_commands = frozenset({"limiter", "openapi"})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in super().list_commands(ctx) if name not in self.hidden_commands]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return None if name in self.hidden_commands else super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (AlembicCommandError, DBAPIError) as exc:
            if (message := explain(exc)) is None:
                raise
            _fail(message)


@click.group(
    cls=WordOfMouthGroup,
    create_app=_create_app,
    # Flask's run (--debug, --cert, the reloader), shell and routes are for developing Flask apps;
    # our own run below says what it is for.
    add_default_commands=False,
    add_version_option=False,
    help="Word of Mouth: social learning for LTI 1.3 LMSs. Settings come from WOM_* "
    "environment variables (see the README).",
)
@click.version_option(package_name="wordofmouth", prog_name="wordofmouth", message="%(prog)s %(version)s")
def main() -> None:
    """Entry point of the ``wordofmouth`` console script."""


# Flask's generic options (--app, --env-file, --debug) make no sense for a packaged service.
main.params = [param for param in main.params if param.name not in ("app", "env_file", "debug")]


class _DevRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler; a request line too long to read gets our page, not http.server's."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if code != HTTPStatus.REQUEST_URI_TOO_LONG:
            super().send_error(code, message, explain)
            return
        app = self.server.app  # type: ignore[attr-defined]
        response = answer_outside_app(app, RequestURITooLarge(ADDRESS_TOO_LONG), self.client_address[0])
        self.log_error("request line too long (request id %s)", response.headers.get("X-Request-Id", "-"))
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in ("connection", "content-length"):
                self.send_header(name, value)
        body = response.get_data()
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


@main.command("run")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on; 0.0.0.0 listens on every interface."
)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@with_appcontext
def run(host: str, port: int) -> None:
    """Serve Word of Mouth with the development server (one process, threads).

    For trying it on your machine (`make run`); production runs gunicorn (see the README).
    WOM_BASE_URL must be the address browsers and the LMS use to reach this server: launches
    and the admin URLs are built from it, not from --host and --port.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    server = make_server(host, port, app, threaded=True, request_handler=_DevRequestHandler)
    # The socket listens from here on: say so only now, so "open ..." is never a dead link.
    base = get_settings(app).base_url
    demo = dict((label, url) for label, url in admin_urls(app)).get("Demo LMS")
    where = f"open {demo} (the demo LMS); admin URLs at {base}/" if demo else f"admin URLs at {base}/"
    click.echo(f"Word of Mouth is up on {host}:{server.port}: {where}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.group()
def db() -> None:
    """Database schema: apply or inspect migrations."""


@db.command()
@click.argument("revision", default="head")
@with_appcontext
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(get_settings(current_app).database_url, revision)
    click.echo(f"database at {revision}")


@db.command()
@click.argument("revision")
@with_appcontext
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    migrate.downgrade(get_settings(current_app).database_url, revision)
    click.echo(f"database at {revision}")


@db.command()
@with_appcontext
def current() -> None:
    """Show the revision the database is at."""
    at, head = migrate.current(get_settings(current_app).database_url)
    if at is None:
        click.echo(f"no migrations applied yet: run `wordofmouth db upgrade` (head is {head})")
    else:
        click.echo(
            f"database at {at}" + (" (head)" if at == head else f"; head is {head}: run `wordofmouth db upgrade`")
        )


@main.command()
@with_appcontext
def urls() -> None:
    """Print every URL an LMS admin needs, built from WOM_BASE_URL (the demo LMS's with WOM_DEMO=1).

    In a checkout, `make urls` prints what `make run` serves (same HOST, PORT and demo).
    """
    settings = get_settings(current_app)
    if "WOM_BASE_URL" not in os.environ and settings.base_url == DEFAULT_BASE_URL:
        click.echo(
            f"note: WOM_BASE_URL is not set, so these use {DEFAULT_BASE_URL}; set it to the address the LMS "
            "reaches (`make urls PORT=...` follows `make run PORT=...`)",
            err=True,
        )
    for label, url in admin_urls(current_app):
        click.echo(f"{label + ':':<60} {url}")


@main.command()
@click.option("--once", is_flag=True, help="Run every job one time and exit (for cron and tests).")
@click.option("--only", "only", multiple=True, metavar="NAME", help="Run only this job (repeatable).")
@with_appcontext
def worker(once: bool, only: tuple[str, ...]) -> None:
    """Run background jobs (roster sync, recommendation builds) until SIGTERM/SIGINT."""
    from datetime import timedelta

    from plugin import worker as jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        selected = jobs.select_jobs(app, only)
    except KeyError as exc:
        known = ", ".join(jobs.registered_jobs(app)) or "none"
        raise click.UsageError(f"unknown job {exc.args[0]} (registered: {known})") from None
    names = tuple(job.name for job in selected)
    if once:
        for name, result in jobs.run_once(app, names).items():
            counts = " ".join(f"{k}={v}" for k, v in (result or {}).items())
            click.echo(f"{name}: {counts or 'done'}")
        return
    jobs.run_forever(app, names, poll=timedelta(seconds=get_settings(app).worker_poll_seconds))


@recommend.command("build")
@click.option("--platform", "issuer", metavar="ISSUER", help="Only the platform(s) of this issuer.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed since the last build.")
@with_appcontext
def recommend_build(issuer: str | None, force: bool) -> None:
    """Build and store recommendations per platform (what the widgets read)."""
    from plugin.recommend_jobs import build_platforms

    def report(result) -> None:  # type: ignore[no-untyped-def]
        if result.built:
            click.echo(
                f"platform {result.platform_id}: {result.learners} learners, {result.items} items, "
                f"{result.interactions} interactions in {result.seconds:.2f} s"
            )
        else:
            click.echo(f"platform {result.platform_id}: unchanged since the last build")

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    counts = build_platforms(app, issuer=issuer, force=force, report=report)
    if counts["busy"]:
        click.echo(f"{counts['busy']} platform(s) are being built by another worker")


main.add_command(recommend)


@main.group()
def privacy() -> None:
    """A learner's data: export everything we hold about them, or erase it."""


def _learner_options(command):  # type: ignore[no-untyped-def]
    command = click.option("--client-id", default=None, help="When several registrations share the issuer.")(command)
    command = click.option("--learner", "sub", required=True, metavar="SUB", help="The learner's LTI sub.")(command)
    return click.option("--platform", "issuer", required=True, metavar="ISSUER", help="The platform's issuer.")(command)


@privacy.command("export")
@_learner_options
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-", help="File to write (default: stdout).")
@with_appcontext
def privacy_export(issuer: str, sub: str, client_id: str | None, out) -> None:  # type: ignore[no-untyped-def]
    """Write everything held about a learner as JSON."""
    import json

    from plugin.errors import DomainError
    from plugin.services import privacy as service

    with current_app.extensions["wordofmouth.sessions"]() as session:
        try:
            learner = service.find_learner(session, issuer, sub, client_id)
        except DomainError as exc:
            raise click.UsageError(exc.detail) from exc
        json.dump(service.export(session, learner), out, indent=2, ensure_ascii=False)
        out.write("\n")


@privacy.command("erase")
@_learner_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def privacy_erase(issuer: str, sub: str, client_id: str | None, yes: bool) -> None:
    """Delete everything held about a learner (comments others replied to stay as anonymous placeholders)."""
    from plugin.errors import DomainError
    from plugin.services import privacy as service

    with current_app.extensions["wordofmouth.sessions"]() as session:
        try:
            learner = service.find_learner(session, issuer, sub, client_id)
        except DomainError as exc:
            raise click.UsageError(exc.detail) from exc
        if not yes:
            click.confirm(f"Erase everything held about {sub} of {issuer}?", abort=True)
        counts = service.erase(session, learner)
        session.commit()
    click.echo(f"erased {sub} of {issuer}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
