"""Airflow's public REST API (/api/v2), one module per resource as in Airflow."""
