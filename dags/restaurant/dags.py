"""Airflow DAGs of the restaurant domain, built by the shared factory from pipeline.yaml.

`restaurant_elt` runs every five minutes; `restaurant_maintenance` is triggered by hand.
The live dashboards are kept fresh by `headwater run restaurant --every 10s`, not by these.
"""

from pathlib import Path

from headwater.orchestration import maintenance_dag, pipeline_dag

PIPELINE = Path(__file__).with_name("pipeline.yaml")

restaurant_elt = pipeline_dag(PIPELINE)
restaurant_maintenance = maintenance_dag(PIPELINE)
