"""Run every benchmark: ``python -m bench`` (``make bench``)."""

from bench import request_overhead

if __name__ == "__main__":
    request_overhead.run()
