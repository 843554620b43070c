"""``wordofmouth demo seed``: fill the demo LMS's courses with its people's activity."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from lti.cli import _unit_of_work
from lti.demo import seed as demo_seed
from lti.demo.platform import DemoPlatform
from plugin.web import get_settings


@click.group("demo")
def demo_cli() -> None:
    """The demo LMS (WOM_DEMO=1): a stand-in for Moodle or Canvas."""


@demo_cli.command("seed")
@with_appcontext
def seed() -> None:
    """Give the demo courses ratings, reviews, votes and comments (once per database)."""
    with _unit_of_work() as session:
        platform = DemoPlatform(get_settings(current_app)).ensure_registered(session)
        seeded = demo_seed.seed(session, platform.id)
    click.echo("demo courses seeded" if seeded else "demo courses already have activity; nothing to do")
