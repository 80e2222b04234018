"""`python -m leoflow_agent`: the composition root of the agent process.

Reads the assignment and options from the environment once, runs the assignment,
and exits with run.py's exit code (0 reported, 1 not reported, 2 misconfigured).
The agent's own diagnostics go to its stderr (the pod's or process's log); the
task's log goes to the logs service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from . import spine_trace

spine_trace.mark_process_start()
spine_trace.mark("agent.main")

# Marked before the heavy imports below, so a trace shows what they cost.
from .assignment import ConfigurationError, assignment_from_env, options_from_env  # noqa: E402
from .run import EXIT_CONFIGURATION, run_assignment  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    environ = dict(os.environ)
    if (sys.argv[1:] if argv is None else argv) == ["--warm"]:
        # The warm-start template of a DAG environment (warm_start.py): it forks
        # standby agents that get their assignment over a pipe instead.
        from .warm_start import main as warm_main

        return warm_main(environ)
    try:
        assignment = assignment_from_env(environ)
        options = options_from_env(environ)
    except ConfigurationError as exc:
        logging.getLogger("leoflow.agent").error("cannot start: %s", exc)
        return EXIT_CONFIGURATION
    return asyncio.run(run_assignment(assignment, options, environ))


if __name__ == "__main__":
    sys.exit(main())
