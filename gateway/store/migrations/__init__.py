"""Alembic migrations of the gateway's store; run them with ``gateway.store.migrate`` or ``court-gateway migrate``."""
