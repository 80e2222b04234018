"""The local execution backend: one OS process per task try."""
