"""One dlt load for benchmarks/sync_throughput.py, run by the Python of benchmarks/.venv-dlt.

Reads a JSON argument: source and warehouse (each host, port, user, password, database),
dataset, tables, backend, chunk_size, loader_file_format, pipelines_dir. Loads the tables
with dlt's sql_database source into the postgres destination (write disposition
`replace`) and prints one JSON line: seconds (source creation to load done, without
interpreter start-up and imports, as headwater's sync is timed) and rows per table.
"""

import json
import sys
import time

import dlt
from dlt.sources.sql_database import sql_database


def url(server: dict, scheme: str = "postgresql") -> str:
    """A libpq URL. dlt wants a host name and a password: a socket directory goes in the
    query, which libpq lets override the host; a trust-authenticated server ignores the
    password. ConnectorX parses the same form."""
    socket = server["host"].startswith("/")
    host = "localhost" if socket else server["host"]
    query = f"?host={server['host']}" if socket else ""
    password = server["password"] or "unused"
    return (
        f"{scheme}://{server['user']}:{password}@{host}:{server['port']}/{server['database']}"
        f"{query}"
    )


def main() -> None:
    args = json.loads(sys.argv[1])
    destination = dlt.destinations.postgres(credentials=url(args["warehouse"]))
    pipeline = dlt.pipeline(
        pipeline_name="headwater_bench",
        destination=destination,
        dataset_name=args["dataset"],
        pipelines_dir=args["pipelines_dir"],
        progress=None,
    )
    started = time.perf_counter()
    source = sql_database(
        credentials=url(args["source"], "postgresql+psycopg2"),
        schema="public",
        table_names=args["tables"],
        backend=args["backend"],
        chunk_size=args["chunk_size"],
        reflection_level="full_with_precision",
        # ConnectorX streams Arrow batches of chunk_size rows instead of whole tables.
        backend_kwargs={"return_type": "arrow_stream"} if args["backend"] == "connectorx" else None,
    )
    info = pipeline.run(
        source, write_disposition="replace", loader_file_format=args["loader_file_format"]
    )
    seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    normalized = pipeline.last_trace.last_normalize_info
    rows = {
        table: count
        for table, count in (normalized.row_counts if normalized else {}).items()
        if not table.startswith("_dlt")
    }
    print(json.dumps({"seconds": seconds, "rows": rows, "dlt": dlt.__version__}))


if __name__ == "__main__":
    main()
