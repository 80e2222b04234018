"""Leader-only periodic jobs, one per file, each exposing run_once()."""
