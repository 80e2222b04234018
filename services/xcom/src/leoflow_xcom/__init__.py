"""Leoflow's xcom service: XCom values (JSON, 256 KiB each by default) per task
instance, fan-in assembly of call arguments, purge on clear."""
