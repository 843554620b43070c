"""Run every benchmark: ``python -m bench`` (``make bench``)."""

from bench import launch_validation, request_overhead, widgets_load, xapi_delivery

if __name__ == "__main__":
    request_overhead.run()
    launch_validation.run()
    from bench import jwks  # GET /lti/jwks next to GET /healthz (goal: at least 0.5x its throughput)

    jwks.run()
    if (problem := widgets_load.postgres_problem()) is None:
        widgets_load.run()
    else:
        print(f"widgets under load: skipped, PostgreSQL at {widgets_load.database_url()} does not answer: {problem}")
    from bench import held_lock  # answer times under a held table lock (seconds, not ratios)

    if (problem := held_lock.postgres_problem()) is None:
        held_lock.run()
    else:
        print(f"held lock: skipped, PostgreSQL at {held_lock.database_url()} does not answer: {problem}")
    if (problem := xapi_delivery.lrs_problem()) is None:
        xapi_delivery.run()
    else:
        print(f"xAPI delivery: skipped, the test LRS is not installed: {problem}")
    from bench import launch_load  # full LTI launches at 20 concurrent browsers, next to /healthz

    if (problem := launch_load.postgres_problem()) is None:
        launch_load.run()
    else:
        print(f"launches under load: skipped, PostgreSQL at {launch_load.database_url()} does not answer: {problem}")
