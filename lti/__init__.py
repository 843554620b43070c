"""LTI 1.3 adapter: OIDC login, launch validation, keys, deep linking and the demo LMS."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the LTI blueprint, its CLI groups and, with ``WOM_DEMO``, the demo LMS."""
    import lti.registration_views  # noqa: F401  (adds GET /lti/register to bp)
    from lti.cli import keys_cli, platform_cli, registration_url
    from lti.keysets import PlatformKeySets
    from lti.nrps import sync_rosters
    from lti.views import bp
    from plugin.services import tool_keys
    from plugin.web import get_settings
    from plugin.worker import register_job

    app.extensions["wordofmouth.key_sets"] = PlatformKeySets(https_only=get_settings(app).is_production)
    # The tool's private keys are encrypted at rest (plugin/services/tool_keys.py).
    tool_keys.use_key_cipher(
        app.extensions["wordofmouth.sessions"],
        tool_keys.key_cipher(get_settings(app).key_encryption_keys, get_settings(app).secret_key),
    )
    settings = get_settings(app)
    if settings.rate_limit_lti != "off":
        # Per client address: generous, because a whole office may reach us through one NAT address.
        app.extensions["wordofmouth.limiter"].limit(settings.rate_limit_lti)(bp)
    app.register_blueprint(bp)
    app.cli.add_command(platform_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(registration_url)
    register_job(app, "roster-sync", sync_rosters)  # NRPS rosters; every WOM_WORKER_POLL_SECONDS
    if settings.demo:
        from lti.demo.cli import demo_cli
        from lti.demo.views import demo_bp

        app.register_blueprint(demo_bp)
        app.cli.add_command(demo_cli)
