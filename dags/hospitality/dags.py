"""Airflow DAGs of the hospitality domain, built by the shared factory from pipeline.yaml.

`hospitality_elt` runs every five minutes; `hospitality_maintenance` is triggered by hand.
Between runs, `headwater run hospitality --every 60s` keeps the marts within a minute.
"""

from pathlib import Path

from headwater.orchestration import maintenance_dag, pipeline_dag

PIPELINE = Path(__file__).with_name("pipeline.yaml")

hospitality_elt = pipeline_dag(PIPELINE)
hospitality_maintenance = maintenance_dag(PIPELINE)
