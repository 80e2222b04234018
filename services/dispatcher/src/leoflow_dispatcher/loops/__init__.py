"""Periodic jobs, one file per loop, each exposing run_once()."""
