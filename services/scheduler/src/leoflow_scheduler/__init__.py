"""leoflow_scheduler: the metadata owner of Leoflow. It registers compiled DAGs,
creates and drives DagRuns, and is the single writer of task-instance state (every
change goes through `state_machine.propose`). Its gRPC API is served by every
replica; the event-driven scheduling work runs on the elected leader only."""
