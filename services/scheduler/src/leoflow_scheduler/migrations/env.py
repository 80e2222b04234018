"""Alembic environment: migrations always run on the connection `upgrade()` passes
in (it already holds the migration lock); there is no offline mode."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
