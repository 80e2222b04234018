"""Lite's pieces that need no running service: one Lite per home (the lock), which
changes concern which DAG folder, a stale postmaster.pid, backups that are not
backups, `leoflow init` and `leoflow doctor`."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leoflow.cli.main import app
from leoflow.lite.backup import BackupError, _extract, _read_manifest
from leoflow.lite.lock import LiteAlreadyRunning, LiteLock
from leoflow.lite.postgres import ManagedPostgres
from leoflow.lite.workspace import folder_of, is_relevant_change

LEOFLOW = Path(sys.executable).parent / "leoflow"
REPO = Path(__file__).resolve().parents[2]


def test_one_lite_per_home(tmp_path):
    first = LiteLock(tmp_path)
    first.acquire("lite")
    first.describe(url="http://127.0.0.1:8088")
    with pytest.raises(LiteAlreadyRunning) as running:
        LiteLock(tmp_path).acquire("reset-password")
    assert f"pid {os.getpid()}" in str(running.value) and "http://127.0.0.1:8088" in str(running.value)
    first.release()
    second = LiteLock(tmp_path)
    second.acquire("backup")
    with pytest.raises(LiteAlreadyRunning, match="leoflow lite backup"):
        LiteLock(tmp_path).acquire("lite")
    second.release()


def test_a_dead_holder_never_blocks(tmp_path):
    """The kernel drops a flock with its holder, however it dies."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO / 'src')!r});"
         f"from leoflow.lite.lock import LiteLock; lock = LiteLock(__import__('pathlib').Path({str(tmp_path)!r})); lock.acquire();"
         "print('held', flush=True); import time; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(LiteAlreadyRunning):
        LiteLock(tmp_path).acquire()
    holder.kill()
    holder.wait()
    lock = LiteLock(tmp_path)
    lock.acquire()
    lock.release()


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("sales/dag.py", "sales"),
        ("sales/lib/helpers.py", "sales"),
        ("sales", "sales"),
        ("sales/__pycache__/dag.cpython-311.pyc", None),
        ("sales/.venv/lib/x.py", None),
        (".git/HEAD", None),
        ("README.md", None),
    ],
)
def test_which_folder_a_change_concerns(tmp_path, path, folder):
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "sales").mkdir()
    assert folder_of(tmp_path, tmp_path / path) == folder
    assert folder_of(tmp_path, Path("/elsewhere") / path) is None


def test_editor_debris_is_not_a_change():
    assert is_relevant_change("/ws/sales/dag.py")
    for debris in ("/ws/sales/.dag.py.swp", "/ws/sales/dag.py~", "/ws/sales/__pycache__/x.pyc", "/ws/sales/.#dag.py"):
        assert not is_relevant_change(debris)


def test_a_stale_postmaster_pid_of_another_process_is_removed(tmp_path):
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    # A PID that is alive but is not a postgres of this data directory (PIDs get reused).
    (data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{data_dir}\n")
    server = ManagedPostgres(data_dir, 1, "pw", tmp_path, None)
    server.clear_leftover()
    assert not (data_dir / "postmaster.pid").exists()


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_archives_that_are_not_lite_backups_are_refused(tmp_path):
    not_gzip = tmp_path / "junk.tgz"
    not_gzip.write_text("junk")
    with pytest.raises(BackupError, match="cannot read") as bad:
        _extract(not_gzip, tmp_path / "out1")
    assert bad.value.exit_code == 2

    escaping = tmp_path / "escape.tgz"
    _tar(escaping, {"../../evil.txt": b"x", "manifest.json": b"{}"})
    with pytest.raises(BackupError):
        _extract(escaping, tmp_path / "out2")
    assert not (tmp_path / "evil.txt").exists()

    for manifest, message in (
        (None, "manifest.json is missing"),
        ({"format": "something-else"}, "unknown format"),
        ({"format": "leoflow-lite-backup", "version": 99}, "not supported"),
        ({"format": "leoflow-lite-backup", "version": 1}, "no database.dump"),
    ):
        folder = tmp_path / f"m{len(message)}"
        folder.mkdir()
        if manifest is not None:
            (folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BackupError, match=message):
            _read_manifest(folder)


def test_init_scaffolds_a_dag_folder(tmp_path):
    runner = CliRunner()
    made = runner.invoke(app, ["init", "my_dag", "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    assert "dag_id: my_dag" in (tmp_path / "my_dag" / "leoflow.yaml").read_text()
    assert 'DAG("my_dag"' in (tmp_path / "my_dag" / "dag.py").read_text()
    again = runner.invoke(app, ["init", "my_dag", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["init", "my_dag", "--dir", str(tmp_path), "--force"]).exit_code == 0
    for bad in ("../up", "has space", "x/y", ".."):
        refused = runner.invoke(app, ["init", bad, "--dir", str(tmp_path)])
        assert refused.exit_code == 2 and "not a valid DAG id" in refused.output


def test_the_scaffold_compiles(tmp_path):
    assert CliRunner().invoke(app, ["init", "compiles", "--dir", str(tmp_path)]).exit_code == 0
    result = subprocess.run(
        [str(LEOFLOW), "compile", str(tmp_path / "compiles"), "--out", str(tmp_path / "out" / "dag.json")],
        env={**os.environ, "LEOFLOW_HOME": str(REPO / "var" / "test-home")}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    spec = json.loads((tmp_path / "out" / "dag.json").read_text())
    assert sorted(t["task_id"] for t in spec["tasks"]) == ["extract", "load", "transform"]


def test_doctor_fails_on_a_taken_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([str(LEOFLOW), "doctor", "--port", str(port)], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "LEOFLOW_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    assert result.returncode == 1, result.stdout
    assert f"port {port}" in result.stdout and "in use" in result.stdout
    assert "PostgreSQL binaries" in result.stdout and "Traceback" not in result.stdout + result.stderr


async def test_a_port_taken_by_another_postgres_while_starting_is_replaced(tmp_path, monkeypatch):
    """The port Lite chose was taken before its server bound it, by another
    PostgreSQL (which refuses Lite's password): Lite's server starts on a free port
    instead of Lite reporting a wrong password."""
    import shutil
    import tempfile

    from leoflow.lite.ports import free_port

    # Readable by the unprivileged server user (pytest's own folders are not).
    data_root = Path(tempfile.mkdtemp(prefix="leoflow-pg-test-"))
    data_root.chmod(0o755)  # noqa: ASYNC240 - test set-up
    request_cleanup = lambda: shutil.rmtree(data_root, ignore_errors=True)  # noqa: E731
    monkeypatch.setenv("LEOFLOW_PG_DATA_ROOT", str(data_root))
    squatter = ManagedPostgres.prepare(tmp_path / "other-home", free_port())
    await squatter.start()
    try:
        ours = ManagedPostgres.prepare(tmp_path / "home", squatter.port)
        await ours.start()
        try:
            assert ours.port != squatter.port
            import asyncpg

            conn = await asyncpg.connect(ours.dsn, timeout=10)
            assert await conn.fetchval("SELECT current_setting('data_directory')") == str(ours.data_dir)
            await conn.close()
        finally:
            ours.stop()
    finally:
        squatter.stop()
        request_cleanup()
