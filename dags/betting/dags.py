"""Airflow DAGs of the betting domain, built by the shared factory from pipeline.yaml.

`betting_elt` runs hourly; `betting_maintenance` is triggered by hand.
"""

from pathlib import Path

from headwater.orchestration import maintenance_dag, pipeline_dag

PIPELINE = Path(__file__).with_name("pipeline.yaml")

betting_elt = pipeline_dag(PIPELINE)
betting_maintenance = maintenance_dag(PIPELINE)
