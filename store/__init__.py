"""Persistence, the bottom layer: SQLAlchemy models and Alembic migrations, the queries
the rest of the code calls by name, PIN hashes, the all-or-nothing streaming import, the ID
number rules and the plain records it returns.

It imports nothing of `ivr`: all SQL lives here, and `ivr` depends on it, never the reverse.
"""
