"""The HTTP surface: Airflow's public REST API (routes/public), its private UI API
(routes/ui), the simple auth manager's login (routes/login.py) and the UI's static
files (ui_assets.py). Route order matters: specific paths before catch-alls."""
