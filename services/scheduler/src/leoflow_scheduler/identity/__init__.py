"""Users, roles and passwords."""
