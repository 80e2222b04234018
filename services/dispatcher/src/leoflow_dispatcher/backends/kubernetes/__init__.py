"""The `kubernetes` execution backend: one ephemeral pod per task try.

Pure decisions: pod_spec.build_pod (task try -> V1Pod) and outcome.assess_pod
(pod -> outcome). I/O: api (the pods API through the official client), watcher
(list-then-watch), backend (the ExecutionBackend). Importing this package does
not import the kubernetes client; settings.py is read by DispatcherSettings.
"""
