"""Compiled DAGs (DagSpec): validation, canonical form and hash, the task graph,
and schedule parsing. Pure: no I/O."""
