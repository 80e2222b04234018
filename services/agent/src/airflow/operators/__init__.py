"""`airflow.operators` (Airflow 2 import paths of the standard operators)."""
