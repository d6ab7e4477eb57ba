"""Lint-time stand-ins for the dbt and headwater macros the models call.

sqlfluff renders the models with its jinja templater (see ../../.sqlfluff for why not the
dbt templater). These functions return what the macros' PostgreSQL implementations
return, so sqlfluff parses the same SQL dbt runs. Modules here are exposed to the
templates by name: `dbt.hash(...)`, `headwater.utc_date(...)`.
"""

from types import SimpleNamespace

# The dbt `target` the models read (`target.type`, `target.name`): the local PostgreSQL one.
target = SimpleNamespace(type="postgres", name="local", schema="public", database="warehouse")
