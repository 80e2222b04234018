"""Periodic jobs, one file per loop."""
