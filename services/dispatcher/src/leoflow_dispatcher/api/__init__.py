"""Transport: the gRPC servicer agents call."""
