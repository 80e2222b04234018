"""The scheduler's operations: each runs in one transaction (a UnitOfWork), reads
and writes through `repository`, changes state only through `state_machine`, and
publishes events only through the outbox."""
