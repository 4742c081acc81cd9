"""Alembic's entry point for the registry: migrations run on the connection `Database.migrate` opened."""

from alembic import context

from workbench.registry.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
