"""The migrations build exactly the schema that `tables.py` declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from thresher.store.store import Store
from thresher.store.tables import metadata


def test_migrations_match_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
