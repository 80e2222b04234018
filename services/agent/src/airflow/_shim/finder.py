"""Reject imports of Airflow modules the shim does not provide, with one clear message.

The finder sits at the end of `sys.meta_path`, so every module the shim really ships is
found first by the ordinary path finder; only names under `airflow.` that nothing else
can find reach it, and it raises instead of letting Python report a bare
"No module named ..." that would look like a broken install.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder


class UnsupportedAirflowModule(ModuleNotFoundError):
    """An `airflow.*` module that Leoflow's shim does not implement."""


class UnsupportedModuleFinder(MetaPathFinder):
    """Meta path finder that fails any `airflow.*` import no other finder resolved."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "airflow" or not fullname.startswith("airflow."):
            return None
        raise UnsupportedAirflowModule(
            f"module '{fullname}' is not supported by Leoflow "
            "(supported: airflow.sdk, airflow.decorators, airflow.models, "
            "airflow.providers.standard operators, airflow.exceptions, airflow.macros, airflow.utils.trigger_rule)",
            name=fullname,
        )


def install_unsupported_module_finder() -> None:
    """Append the finder once per interpreter (idempotent across re-imports)."""
    if not any(isinstance(f, UnsupportedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(UnsupportedModuleFinder())
