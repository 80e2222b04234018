"""The `leoflow` command line."""
