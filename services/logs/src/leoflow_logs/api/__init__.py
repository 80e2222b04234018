"""Transport only: the gRPC servicer."""
