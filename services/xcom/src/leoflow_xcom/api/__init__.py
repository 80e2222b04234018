"""Transport only: the gRPC servicer and proto <-> domain mapping."""
