"""Transport only: gRPC servicers that parse requests, call the domain, and map
rows to messages. Errors are leoflow_common.errors, mapped by the shared server."""
