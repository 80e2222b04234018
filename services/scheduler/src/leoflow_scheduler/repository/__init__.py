"""One module per table: module-level async functions taking a keyword-only
`conn`. They never open or commit transactions: the caller owns the transaction.
Every query is scoped by tenant_id. None of them writes a `state` column: that is
`state_machine.propose`'s job."""
