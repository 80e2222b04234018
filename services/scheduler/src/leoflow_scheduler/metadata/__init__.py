"""Airflow's metadata around DAGs: variables, connections (secrets encrypted at rest
and masked on every read), the event log, users' favorite DAGs, and the delivery of
variables and connections to task processes."""
