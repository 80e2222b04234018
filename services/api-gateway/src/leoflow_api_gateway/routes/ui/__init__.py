"""Airflow's private UI API (/ui), one module per resource as in Airflow."""
