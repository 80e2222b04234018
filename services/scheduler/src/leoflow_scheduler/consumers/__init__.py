"""Bus subscriptions, one file each."""
