"""Shapes of the private UI API (/ui), from 3.2.2's _private_ui.yaml."""
