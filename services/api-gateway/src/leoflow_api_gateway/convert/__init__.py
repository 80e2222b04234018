"""Pure translations from the services' protobuf messages to Airflow's REST shapes.

No I/O here: each function takes the messages (and any names looked up by the
caller) and returns a datamodel. Where Leoflow has no such thing, the field gets
Airflow's valid empty value (null, [], false) — never invented data.
"""
