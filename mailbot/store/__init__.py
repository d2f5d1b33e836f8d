"""The store: typed models, engine and sessions, and Alembic migrations."""
