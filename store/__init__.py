"""Persistence: SQLAlchemy models, data access and the all-or-nothing importer."""
