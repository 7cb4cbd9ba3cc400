"""Alembic environment: the URL comes from the caller (`ivr db init`), the schema from models.Base."""
from alembic import context
from sqlalchemy import engine_from_config, pool

import models

config = context.config
target_metadata = models.Base.metadata

connectable = config.attributes.get("connection")
if connectable is None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                     poolclass=pool.NullPool).connect()
with connectable.begin():
    context.configure(connection=connectable, target_metadata=target_metadata,
                      render_as_batch=connectable.dialect.name == "sqlite")
    context.run_migrations()
