"""Run every benchmark: ``python -m bench`` (``make bench``)."""

from bench import launch_validation, request_overhead, widgets_load

if __name__ == "__main__":
    request_overhead.run()
    launch_validation.run()
    if (problem := widgets_load.postgres_problem()) is None:
        widgets_load.run()
    else:
        print(f"widgets under load: skipped, PostgreSQL at {widgets_load.database_url()} does not answer: {problem}")
