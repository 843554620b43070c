"""Run every benchmark: ``python -m bench`` (``make bench``)."""

from bench import launch_validation, request_overhead

if __name__ == "__main__":
    request_overhead.run()
    launch_validation.run()
