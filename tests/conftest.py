"""Shared test setup.

tests/ has no __init__.py, so pytest's default ("prepend") import mode puts tests/ on
sys.path before importing this file; plain `postgres_server` is therefore importable.
"""

# Throwaway PostgreSQL server: `postgres_server` (session) and `postgres_url` (per test).
pytest_plugins = ["postgres_server"]
