"""Domain services: plain functions over a SQLAlchemy session and plain arguments.

They never commit (the request or CLI command owns the transaction) and know nothing of Flask,
pylti1p3 or tincan (an import-linter contract holds them to it).
"""
