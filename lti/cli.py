"""``wordofmouth platform ...`` and ``wordofmouth keys ...``: what an LMS admin runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from plugin import framing
from plugin.errors import DomainError
from plugin.models import Platform
from plugin.services import platform_origins, platforms, registration_tokens, tool_keys
from plugin.web import external_url

CLIENT_ID_HELP = "The registration's client id (`wordofmouth platform list` shows it); one issuer may have several."


def _session() -> Session:
    return current_app.extensions["wordofmouth.sessions"]()


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    """A session committed on success; a refused change becomes a usage error (exit 2)."""
    session = _session()
    try:
        yield session
        session.commit()
    except DomainError as exc:
        session.rollback()
        raise click.UsageError(exc.detail) from exc
    finally:
        session.close()


@click.group("platform")
def platform_cli() -> None:
    """Register the LMSs (LTI 1.3 platforms) that may launch Word of Mouth."""


@platform_cli.command("add")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. https://moodle.example.org")
@click.option("--client-id", required=True, help="The client id the platform gave this tool.")
@click.option(
    "--deployment-id",
    "deployment_ids",
    multiple=True,
    required=True,
    help="A deployment id (repeat for several). Moodle: the tool type id.",
)
@click.option("--auth-login-url", required=True, help="The platform's OIDC authentication request URL.")
@click.option("--auth-token-url", required=True, help="The platform's OAuth 2 access token URL.")
@click.option("--keyset-url", required=True, help="The platform's public key set (JWKS) URL.")
@click.option("--name", default="", help="A display name (default: the issuer's host).")
@with_appcontext
def platform_add(
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_login_url: str,
    auth_token_url: str,
    keyset_url: str,
    name: str,
) -> None:
    """Register a platform, or update it and add deployment ids when (issuer, client id) exists."""
    spec = platforms.PlatformSpec(
        issuer=issuer.strip(),
        client_id=client_id.strip(),
        auth_login_url=auth_login_url.strip(),
        auth_token_url=auth_token_url.strip(),
        key_set_url=keyset_url.strip(),
        deployment_ids=tuple(d.strip() for d in deployment_ids),
        name=name.strip(),
    )
    with _unit_of_work() as session:
        platform, created = platforms.add_or_update_platform(session, spec)
        deployments = ", ".join(d.deployment_id for d in platform.deployments)
    verb = "registered" if created else "updated"
    click.echo(f"{verb} {platform.name}: issuer {issuer}, client id {client_id}, deployments {deployments}")


@platform_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def platform_list(as_json: bool) -> None:
    """List registered platforms."""
    session = _session()
    try:
        rows = platforms.describe(platforms.list_platforms(session))
    finally:
        session.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no platforms registered; add one with `wordofmouth platform add`")
        return
    for row in rows:
        click.echo(
            f"{row['name']}\n  issuer:        {row['issuer']}\n  client id:     {row['client_id']}\n"
            f"  deployments:   {', '.join(row['deployment_ids'])}\n  auth login:    {row['auth_login_url']}\n"
            f"  auth token:    {row['auth_token_url']}\n  key set:       {row['key_set_url']}\n"
            f"  names shown:   {'by default' if row['show_names_default'] else 'only by choice'}\n"
            f"  course URLs:   {row['course_url_template'] or '(none)'}\n"
            f"  enabled:       {'yes' if row['enabled'] else 'no (logins and launches refused)'}\n"
            f"  new deployments: {'auto-accepted' if row['auto_accept_deployments'] else 'refused'}\n"
            f"  registered via: {row['registered_via']}"
        )


@platform_cli.command("set")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@click.option(
    "--names-by-default/--no-names-by-default",
    "names",
    default=None,
    help="Show to colleagues the names of learners who made no choice (default: off, they are counted only).",
)
@click.option(
    "--course-url-template",
    default=None,
    metavar="TEMPLATE",
    help="Link to a course, e.g. '{issuer}/course/view.php?id={context_id}' (Moodle); '' removes it.",
)
@click.option(
    "--auto-accept-deployments/--no-auto-accept-deployments",
    "auto_accept",
    default=None,
    help="Add the deployment id of a signed launch that is not registered yet, instead of refusing it.",
)
@with_appcontext
def platform_set(
    issuer: str, client_id: str, names: bool | None, course_url_template: str | None, auto_accept: bool | None
) -> None:
    """Settings of a registration: privacy default, course URL template, new deployments."""
    with _unit_of_work() as session:
        platform = platforms.set_colleague_settings(
            session,
            _registered(session, issuer, client_id),
            show_names_default=names,
            course_url_template=course_url_template,
        )
        if auto_accept is not None:
            platforms.set_auto_accept_deployments(session, platform, auto_accept)
        names_now, template_now = platform.show_names_default, platform.course_url_template
        accept_now = platform.auto_accept_deployments
    click.echo(
        f"{issuer} (client {client_id}): names by default {'on' if names_now else 'off'}; "
        f"course URL template {template_now or '(none)'}; "
        f"new deployments {'auto-accepted' if accept_now else 'refused'}"
    )


@platform_cli.command("add-deployment")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@click.argument("deployment_id")
@with_appcontext
def platform_add_deployment(issuer: str, client_id: str, deployment_id: str) -> None:
    """Accept launches from DEPLOYMENT_ID (the refusal's log line names it)."""
    with _unit_of_work() as session:
        _, created = platforms.add_deployment(session, _registered(session, issuer, client_id), deployment_id)
    what = "added" if created else "already registered:"
    click.echo(f"{what} deployment {deployment_id.strip()} for {issuer} (client {client_id})")


@platform_cli.command("remove-deployment")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@click.argument("deployment_id")
@with_appcontext
def platform_remove_deployment(issuer: str, client_id: str, deployment_id: str) -> None:
    """Refuse launches from DEPLOYMENT_ID from now on (its learners' data stays)."""
    with _unit_of_work() as session:
        platforms.remove_deployment(session, _registered(session, issuer, client_id), deployment_id.strip())
    click.echo(f"removed deployment {deployment_id.strip()} from {issuer} (client {client_id})")


def _set_enabled(issuer: str, client_id: str, enabled: bool) -> None:
    with _unit_of_work() as session:
        platforms.set_enabled(session, _registered(session, issuer, client_id), enabled)
    state = "enabled: its launches are accepted" if enabled else "disabled: its logins and launches are refused"
    click.echo(f"{issuer} (client {client_id}) {state}")


@platform_cli.command("enable")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@with_appcontext
def platform_enable(issuer: str, client_id: str) -> None:
    """Accept logins and launches of a disabled registration again."""
    _set_enabled(issuer, client_id, True)


@platform_cli.command("disable")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@with_appcontext
def platform_disable(issuer: str, client_id: str) -> None:
    """Refuse the registration's logins and launches; its learners' data stays."""
    _set_enabled(issuer, client_id, False)


@platform_cli.command("remove")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def platform_remove(issuer: str, client_id: str, yes: bool) -> None:
    """Remove a registration and ALL data of its learners (ratings, comments, enrolments...)."""
    if not yes:
        click.confirm(f"Remove {issuer} (client {client_id}) and all its learners' data?", abort=True)
    with _unit_of_work() as session:
        platforms.remove_platform(session, issuer, client_id)
    click.echo(f"removed {issuer} (client {client_id})")


def _registered(session: Session, issuer: str, client_id: str) -> Platform:
    platform = platforms.find_platform(session, issuer.strip(), client_id.strip())
    if platform is None:
        raise DomainError(f"no platform registered with issuer {issuer} and client id {client_id}")
    return platform


@platform_cli.group("origin")
def origin_cli() -> None:
    """Web origins whose pages may frame the tool (CSP frame-ancestors); see docs/lti.md."""


@origin_cli.command("add")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@click.argument("origin")
@with_appcontext
def origin_add(issuer: str, client_id: str, origin: str) -> None:
    """Let pages at ORIGIN (https://lms.example.org) frame the tool for this platform."""
    with _unit_of_work() as session:
        platform = _registered(session, issuer, client_id)
        origin, created = platform_origins.add_origin(session, platform.id, origin)
    framing.invalidate()
    click.echo(f"{'added' if created else 'already allowed:'} {origin} for {issuer} (client {client_id})")


@origin_cli.command("remove")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@click.argument("origin")
@with_appcontext
def origin_remove(issuer: str, client_id: str, origin: str) -> None:
    """Stop allowing ORIGIN (a later launch from it learns it again)."""
    with _unit_of_work() as session:
        platform = _registered(session, issuer, client_id)
        origin = platform_origins.remove_origin(session, platform.id, origin)
    framing.invalidate()
    click.echo(f"removed {origin} for {issuer} (client {client_id})")


@origin_cli.command("list")
@click.argument("issuer")
@click.option("--client-id", required=True, help=CLIENT_ID_HELP)
@with_appcontext
def origin_list(issuer: str, client_id: str) -> None:
    """The platform's page origins and how each is known (issuer, launch, admin)."""
    with _unit_of_work() as session:
        platform = _registered(session, issuer, client_id)
        known = platform_origins.origins_of(session, platform.id)
    for item in known:
        click.echo(f"{item.origin}  {item.source.value}")


DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``24h`` or ``7d`` as a :class:`timedelta`; a usage error otherwise."""
    match = DURATION.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 24h or 7d", param_hint="--expires")
    return timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


@click.command("registration-url")
@click.option("--expires", default="24h", show_default=True, help="How long the URL works: 30m, 24h, 7d (at most 30d).")
@click.option("--note", default="", help="What the URL is for (shown in the console), e.g. the LMS's name.")
@with_appcontext
def registration_url(expires: str, note: str) -> None:
    """Make a one-time URL to paste into an LMS for LTI Dynamic Registration (Moodle, Canvas...)."""
    lifetime = parse_duration(expires)
    with _unit_of_work() as session:
        issued = registration_tokens.issue(session, lifetime, note.strip())
    url = external_url("lti.register", current_app, wom_token=issued.token)
    click.echo(url)
    click.echo(
        f"works once, until {issued.expires_at:%Y-%m-%d %H:%M} UTC; paste it into the LMS "
        "(Moodle: Site administration > Plugins > Activity modules > External tool > Manage tools > Tool URL; "
        "Canvas: Admin > Developer Keys > + Developer Key > + LTI Registration)",
        err=True,
    )


@click.group("keys")
def keys_cli() -> None:
    """The tool's own signing keys (published at /lti/jwks)."""


@keys_cli.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Sign with the published next key, publish a new next key, retire the old key after a grace period."""
    with _unit_of_work() as session:
        active, upcoming = tool_keys.rotate(session)
    click.echo(
        f"now signing with {active}; published next key {upcoming}; "
        f"the previous key stays published for {tool_keys.RETIRED_KEY_GRACE.days} days"
    )


@keys_cli.command("reencrypt")
@with_appcontext
def keys_reencrypt() -> None:
    """Encrypt every private key with the first key of WOM_KEY_ENCRYPTION_KEYS (after adding a new one)."""
    with _unit_of_work() as session:
        count = tool_keys.reencrypt(session)
    click.echo(
        f"{count} tool key(s) encrypted with the first key of WOM_KEY_ENCRYPTION_KEYS; "
        "keys after the first may now be removed"
    )


@keys_cli.command("list")
@with_appcontext
def keys_list() -> None:
    """List the tool's keys and their status."""
    session = _session()
    try:
        tool_keys.ensure_keys(session)
        session.commit()
        for key in tool_keys.list_keys(session):
            retired = f" retired {key.retired_at:%Y-%m-%d %H:%M}Z" if key.retired_at else ""
            click.echo(f"{key.kid}  {key.status.value:<8} created {key.created_at:%Y-%m-%d %H:%M}Z{retired}")
    finally:
        session.close()
