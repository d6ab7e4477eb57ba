"""Airflow DAGs of the marketplace domain, built by the shared factory from pipeline.yaml.

`marketplace_elt` runs hourly; `marketplace_maintenance` is triggered by hand. What
they do and what to do when they fail: the DAG docs in the Airflow UI, and runbooks/.
"""

from pathlib import Path

from headwater.orchestration import maintenance_dag, pipeline_dag

PIPELINE = Path(__file__).with_name("pipeline.yaml")

marketplace_elt = pipeline_dag(PIPELINE)
marketplace_maintenance = maintenance_dag(PIPELINE)
