"""headwater: batch-incremental ELT from PostgreSQL and file sources to analytics marts."""

__version__ = "0.1.0"
