"""Leoflow's logs service: one log per task-instance try, appended by the task's
agent while it runs, read and followed by users (through the gateway)."""
