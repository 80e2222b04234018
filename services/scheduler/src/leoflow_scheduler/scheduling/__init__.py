"""Scheduling decisions. The pure ones (trigger rules, retry delays, run outcome)
are tables and functions without I/O; `evaluator` applies them to a locked run."""
