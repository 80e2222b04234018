"""leoflow_common: what every Leoflow service shares (config, errors, states, auth,
db, bus, grpc, runtime, telemetry, testing). It never imports a service."""
