"""Airflow 3.2.2's REST shapes as pydantic models, with Airflow's names, one module
per resource (mirroring airflow/api_fastapi/core_api/datamodels). The authority for
every field is the OpenAPI spec shipped in the apache-airflow-core 3.2.2 wheel."""
