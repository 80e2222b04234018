"""HTTP transport helpers: the route boundary (auth, error mapping), request parsing
in FastAPI's validation-error shape, and JSON responses in Airflow's conventions."""
