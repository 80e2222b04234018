"""Bus consumers, one file per subscription."""
