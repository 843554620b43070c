"""``wordofmouth xapi ...`` (the outbox) and ``wordofmouth lrs ...`` (a platform's LRS settings).

Passwords never appear on the command line (where ``ps`` and shell history would keep them) and
never in output: give one on standard input (``--password-stdin``), from an environment variable
(``--password-env NAME``) or at a hidden prompt (``--password-prompt``); ``lrs show`` says only
whether one is set. ``xapi status`` names endpoints, never usernames or passwords.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import ActorIdentity, Platform
from plugin.services import platforms
from plugin.web import get_settings
from xapi import delivery
from xapi import lrs as lrs_settings

SET_DEFAULT_HINT = (
    "set WOM_LRS_ENDPOINT (with WOM_LRS_USERNAME and WOM_LRS_PASSWORD) for a default LRS, "
    "or run `wordofmouth lrs set --platform ISSUER --endpoint URL` for one platform"
)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    """A session committed on success, rolled back on any error."""
    session: Session = current_app.extensions["wordofmouth.sessions"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "-"
    seconds = max(int((now - since).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


# --- wordofmouth xapi -------------------------------------------------------------------------------


@click.group("xapi", short_help="xAPI outbox: deliver, status, retry, pull.")
def xapi_cli() -> None:
    """xAPI statements: deliver the outbox to the LRS, see what waits, retry refused ones, read the
    LMS's completions back."""


@xapi_cli.command("deliver", short_help="Send pending statements to their LRS.")
@click.option(
    "--once",
    is_flag=True,
    help="Deliver what is due in one run (it yields after 2 minutes), print the counts and exit (cron, tests).",
)
@with_appcontext
def deliver(once: bool) -> None:
    """Send pending statements to their LRS, every WOM_XAPI_DELIVER_SECONDS, until SIGTERM/SIGINT.

    The same job as `wordofmouth worker --only xapi-deliver`. Several may run side by side on
    PostgreSQL; a killed one's statements are taken again when its lease expires.
    """
    from plugin import worker

    app = _app()
    if once:
        result = worker.run_once(app, [delivery.JOB_NAME])[delivery.JOB_NAME]
        if result is None:
            raise click.ClickException("delivery failed; see the log above")
        click.echo(" ".join(f"{k}={v}" for k, v in result.items()))
        return
    worker.run_forever(app, [delivery.JOB_NAME], poll=timedelta(seconds=get_settings(app).worker_poll_seconds))


@xapi_cli.command("status", short_help="Counts per LRS endpoint and what waits.")
@with_appcontext
def status() -> None:
    """Statements per LRS endpoint: pending, delivered, failed, and how old the oldest pending one is."""
    now = utcnow()
    with _unit_of_work() as session:
        report = delivery.outbox_status(session, get_settings(_app()))
    if not report.lrs and not report.unrouted_pending:
        click.echo(f"no LRS configured and no statements waiting; {SET_DEFAULT_HINT}")
        return
    for entry in report.lrs:
        oldest = f"; oldest pending {_age(entry.oldest_pending_at, now)} old" if entry.pending else ""
        click.echo(
            f"{entry.endpoint} ({entry.platforms} platform{'s' if entry.platforms != 1 else ''}): "
            f"{entry.pending} pending, {entry.delivered} delivered, {entry.failed} failed{oldest}"
        )
        if entry.failed:
            click.echo("  refused by the LRS; fix the cause, then `wordofmouth xapi retry --failed`")
    if report.unrouted_pending:
        click.echo(
            f"{report.unrouted_pending} statement{'s' if report.unrouted_pending != 1 else ''} waiting "
            f"(oldest {_age(report.unrouted_oldest_at, now)} old) because no LRS is configured for "
            f"{', '.join(report.unrouted_platforms)}: {SET_DEFAULT_HINT}"
        )


@xapi_cli.command("retry", short_help="Queue refused statements again.")
@click.option("--failed", "failed", is_flag=True, help="Send statements the LRS refused again (attempts reset).")
@with_appcontext
def retry(failed: bool) -> None:
    """Queue refused statements again, e.g. after fixing the LRS or its settings."""
    if not failed:
        raise click.UsageError("say which statements to retry: --failed")
    with _unit_of_work() as session:
        count = delivery.retry_failed(session)
    if count:
        click.echo(f"{count} failed statement{'s are' if count != 1 else ' is'} pending again")
    else:
        click.echo("no failed statements")


@xapi_cli.command("pull", short_help="Read the LMS's completions back from the LRS.")
@with_appcontext
def pull() -> None:
    """Read `completed` and `launched` statements the LMS sent to the LRS since the last pull, and
    count them as "took this course" for the recommendations (docs/xapi.md, "Reading statements
    back"). The same job as `wordofmouth worker --only xapi-pull`; running it again changes nothing.
    """
    from xapi import ingest

    counts = ingest.pull(_app())
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
    if counts.get("errors"):
        raise click.ClickException("an LRS could not be read completely; the log above says why")


# --- wordofmouth lrs --------------------------------------------------------------------------------


@click.group("lrs", short_help="A platform's LRS and statement settings.")
def lrs_cli() -> None:
    """A platform's LRS and how its statements name learners and courses."""


def _platform(session: Session, issuer: str, client_id: str | None) -> Platform:
    issuer = issuer.strip()
    if client_id:
        found = platforms.find_platform(session, issuer, client_id.strip())
        if found is None:
            raise click.UsageError(f"no platform registered with issuer {issuer} and client id {client_id}")
        return found
    candidates = platforms.platforms_of_issuer(session, issuer)
    if not candidates:
        raise click.UsageError(f"no platform registered with issuer {issuer} (see `wordofmouth platform list`)")
    if len(candidates) > 1:
        ids = ", ".join(p.client_id for p in candidates)
        raise click.UsageError(f"{issuer} has several registrations; choose one with --client-id ({ids})")
    return candidates[0]


def _read_password(stdin: bool, env_name: str | None, prompt: bool) -> str | None:
    chosen = [
        name
        for name, on in (("--password-stdin", stdin), ("--password-env", env_name), ("--password-prompt", prompt))
        if on
    ]
    if len(chosen) > 1:
        raise click.UsageError(f"give the password one way only (not {' and '.join(chosen)})")
    if stdin:
        text = sys.stdin.read()
        password = text[:-1] if text.endswith("\n") else text
        password = password[:-1] if password.endswith("\r") else password
    elif env_name:
        if env_name not in os.environ:
            raise click.UsageError(f"the environment variable {env_name} is not set")
        password = os.environ[env_name]
    elif prompt:
        password = click.prompt("LRS password", hide_input=True, confirmation_prompt=True)
    else:
        return None
    if not password:
        raise click.UsageError("the password is empty; use --clear-password to remove one")
    return password


def _print_settings(effective: lrs_settings.EffectiveSettings, base_url: str) -> None:
    template = effective.activity_iri_template or f"(default: {base_url}/xapi/activities/course/<item id>)"
    if effective.endpoint is None:
        endpoint = "none: statements wait in the outbox"
    else:
        endpoint = f"{effective.endpoint} ({'its own' if effective.endpoint_source == 'platform' else 'the default'})"
    click.echo(
        f"{effective.name}: issuer {effective.issuer}, client id {effective.client_id}\n"
        f"  LRS endpoint:          {endpoint}\n"
        f"  username:              {effective.username or '(none)'}\n"
        f"  password:              {'set' if effective.password_set else 'not set'}\n"
        f"  actor:                 {effective.actor_identity.value}\n"
        f"  activity IRI template: {template}\n"
        f"  launched statements:   {'on' if effective.send_launched else 'off'}"
    )


@lrs_cli.command("set", short_help="Change a platform's LRS settings.")
@click.option("--platform", "issuer", required=True, metavar="ISSUER", help="The platform's issuer.")
@click.option("--client-id", default=None, help="When several registrations share the issuer.")
@click.option("--endpoint", default=None, metavar="URL", help="This platform's own LRS, e.g. https://lrs.example/xAPI/")
@click.option("--clear-endpoint", is_flag=True, help="Use the default LRS (WOM_LRS_*) again; forgets its credentials.")
@click.option("--username", default=None, help="Basic auth username at the platform's own LRS ('' removes it).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--password-env", metavar="NAME", default=None, help="Read the password from environment variable NAME.")
@click.option("--password-prompt", is_flag=True, help="Ask for the password (hidden input).")
@click.option("--clear-password", is_flag=True, help="Remove the stored password.")
@click.option(
    "--actor",
    type=click.Choice([identity.value for identity in ActorIdentity]),
    default=None,
    help="How statements name the learner (docs/xapi.md, 'Who the actor is'). Default: account.",
)
@click.option(
    "--activity-iri-template",
    default=None,
    metavar="TEMPLATE",
    help="A course's activity IRI, e.g. '{issuer}/course/view.php?id={context_id}' (Moodle); '' removes it.",
)
@click.option("--launched/--no-launched", default=None, help="Also send a 'launched' statement per launch (off).")
@with_appcontext
def lrs_set(
    issuer: str,
    client_id: str | None,
    endpoint: str | None,
    clear_endpoint: bool,
    username: str | None,
    password_stdin: bool,
    password_env: str | None,
    password_prompt: bool,
    clear_password: bool,
    actor: str | None,
    activity_iri_template: str | None,
    launched: bool | None,
) -> None:
    """Change a platform's xAPI settings; options left out stay as they are.

    Statements of a platform with its own endpoint go there with its own credentials; the others
    go to the default LRS (WOM_LRS_ENDPOINT, WOM_LRS_USERNAME, WOM_LRS_PASSWORD).
    """
    if endpoint is not None and clear_endpoint:
        raise click.UsageError("--endpoint and --clear-endpoint contradict each other")
    password = _read_password(password_stdin, password_env, password_prompt)
    if password is not None and clear_password:
        raise click.UsageError("a new password and --clear-password contradict each other")
    if clear_endpoint and (username or password):
        raise click.UsageError("--clear-endpoint forgets the credentials; do not give new ones with it")
    changes: dict[str, object] = {}
    if clear_endpoint:
        changes["endpoint"] = None
    elif endpoint is not None:
        changes["endpoint"] = endpoint
    if username is not None:
        changes["username"] = username
    if password is not None:
        changes["password"] = password
    elif clear_password:
        changes["password"] = None
    if actor is not None:
        changes["actor_identity"] = ActorIdentity(actor)
    if activity_iri_template is not None:
        changes["activity_iri_template"] = activity_iri_template
    if launched is not None:
        changes["send_launched"] = launched
    if not changes:
        raise click.UsageError("nothing to change: give at least one setting (see --help)")
    settings = get_settings(_app())
    with _unit_of_work() as session:
        platform = _platform(session, issuer, client_id)
        try:
            lrs_settings.update_settings(session, platform, **changes)  # type: ignore[arg-type]
        except lrs_settings.InvalidLrsSettingError as exc:
            raise click.UsageError(str(exc)) from None
        effective = lrs_settings.effective_settings(session, settings, platform)
    _print_settings(effective, settings.base_url)


@lrs_cli.command("show", short_help="Effective LRS settings per platform.")
@click.option("--platform", "issuer", default=None, metavar="ISSUER", help="Only this platform (default: all).")
@click.option("--client-id", default=None, help="When several registrations share the issuer.")
@with_appcontext
def lrs_show(issuer: str | None, client_id: str | None) -> None:
    """The effective xAPI settings per platform (passwords shown only as set / not set)."""
    settings = get_settings(_app())
    default = lrs_settings.default_lrs(settings)
    if default is None:
        click.echo("default LRS: none (WOM_LRS_ENDPOINT is not set)")
    else:
        click.echo(
            f"default LRS: {default.endpoint}, username {default.username or '(none)'}, "
            f"password {'set' if default.has_password else 'not set'}"
        )
    with _unit_of_work() as session:
        if issuer is not None:
            chosen = [_platform(session, issuer, client_id)]
        elif client_id is not None:
            raise click.UsageError("--client-id needs --platform")
        else:
            chosen = platforms.list_platforms(session)
        shown = [lrs_settings.effective_settings(session, settings, p) for p in chosen]
    if not shown:
        click.echo("no platforms registered; add one with `wordofmouth platform add`")
    for effective in shown:
        _print_settings(effective, settings.base_url)


def init_app(app: Flask) -> None:
    """Add the ``xapi`` and ``lrs`` command groups to ``wordofmouth``."""
    app.cli.add_command(xapi_cli)
    app.cli.add_command(lrs_cli)
