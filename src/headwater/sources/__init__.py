"""Source-system schemas, one folder per domain."""

from importlib import resources


def schema_sql(domain: str) -> str:
    return resources.files(__package__).joinpath(domain, "schema.sql").read_text()
