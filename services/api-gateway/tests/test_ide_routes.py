"""/ide: Lite's editor. Its file API is confined to the workspace (no absolute
paths, no "..", no symlink leading out), needs Admin and, for changes, the
X-Leoflow-IDE header; the routes exist only when a workspace is configured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

EDITOR = {"X-Leoflow-IDE": "1"}


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "workspace"
    (root / "sales").mkdir(parents=True)
    (root / "sales" / "dag.py").write_text("print('v1')\n")
    (root / "sales" / "leoflow.yaml").write_text("dag_id: sales\n")
    (root / "sales" / "__pycache__").mkdir()
    (root / "sales" / "__pycache__" / "dag.cpython-311.pyc").write_bytes(b"\0")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    os.symlink(outside, root / "escape")  # a folder link leading out
    os.symlink(outside / "secret.txt", root / "sales" / "secret_link.txt")  # a file link leading out
    os.symlink(root / "sales" / "dag.py", root / "sales" / "inner_link.py")  # a link that stays inside
    return root


@pytest.fixture
def ide_dir(tmp_path) -> Path:
    built = tmp_path / "ide"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text('<base href="{{ ide_base_href }}"><script src="assets/editor.js"></script>')
    (built / "assets" / "editor.js").write_text("console.log('editor')")
    return built


@pytest.fixture
def ide(gateway_client, make_settings, workspace, ide_dir, token_for):
    client = gateway_client(make_settings(ide_workspace=workspace, ide_dir=ide_dir))
    client.headers["Authorization"] = f"Bearer {token_for('Admin')}"
    return client


async def test_tree_lists_the_workspace_without_debris_or_links_leading_out(ide):
    answer = await ide.get("/ide/api/tree")
    assert answer.status_code == 200
    paths = {e["path"]: e["type"] for e in answer.json()["entries"]}
    assert paths == {
        "sales": "dir",
        "sales/dag.py": "file",
        "sales/leoflow.yaml": "file",
        "sales/inner_link.py": "file",
    }


async def test_read_save_create_rename_delete(ide, workspace):
    opened = (await ide.get("/ide/api/file", params={"path": "sales/dag.py"})).json()
    assert opened["content"] == "print('v1')\n"

    saved = await ide.put("/ide/api/file", params={"path": "sales/dag.py"}, headers=EDITOR,
                          json={"content": "print('v2')\n", "expected_mtime_ns": opened["mtime_ns"]})
    assert saved.status_code == 200 and (workspace / "sales" / "dag.py").read_text() == "print('v2')\n"
    assert saved.json()["mtime_ns"] == str((workspace / "sales" / "dag.py").stat().st_mtime_ns)
    stale = await ide.put("/ide/api/file", params={"path": "sales/dag.py"}, headers=EDITOR,
                          json={"content": "lost\n", "expected_mtime_ns": str(int(opened["mtime_ns"]) - 1)})
    assert stale.status_code == 409 and (workspace / "sales" / "dag.py").read_text() == "print('v2')\n"

    assert (await ide.post("/ide/api/entries", headers=EDITOR, json={"path": "ml", "type": "dir"})).status_code == 201
    assert (await ide.post("/ide/api/entries", headers=EDITOR, json={"path": "ml/dag.py", "type": "file"})).status_code == 201
    assert (await ide.post("/ide/api/entries", headers=EDITOR, json={"path": "ml/dag.py", "type": "file"})).status_code == 409
    assert (workspace / "ml" / "dag.py").read_text() == ""

    moved = await ide.post("/ide/api/rename", headers=EDITOR, json={"from": "ml", "to": "ml_v2"})
    assert moved.status_code == 200 and (workspace / "ml_v2" / "dag.py").is_file() and not (workspace / "ml").exists()
    into_itself = await ide.post("/ide/api/rename", headers=EDITOR, json={"from": "ml_v2", "to": "ml_v2/deeper"})
    assert into_itself.status_code == 400

    assert (await ide.delete("/ide/api/entries", params={"path": "ml_v2"}, headers=EDITOR)).status_code == 204
    assert not (workspace / "ml_v2").exists()
    assert (await ide.delete("/ide/api/entries", params={"path": "ml_v2"}, headers=EDITOR)).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../outside/secret.txt",
        "sales/../../outside/secret.txt",
        "sales/./../../outside/secret.txt",
        "..",
        "sales\\..\\..\\outside",
        "escape/secret.txt",
        "escape/new_dir/new.py",
        "sales/secret_link.txt",
        "sales/dag.py\x00.txt",
        "~/.bashrc",
        "",
    ],
)
async def test_paths_outside_the_workspace_are_refused_everywhere(ide, workspace, path):
    secret = workspace.parent / "outside" / "secret.txt"
    refused = (400, 422)  # 422: the gateway refuses NUL in any input before routing
    assert (await ide.get("/ide/api/file", params={"path": path})).status_code in refused
    write = await ide.put("/ide/api/file", params={"path": path}, headers=EDITOR, json={"content": "pwned"})
    assert write.status_code in refused
    assert (await ide.post("/ide/api/entries", headers=EDITOR, json={"path": path or "x/..", "type": "file"})).status_code in refused
    assert (await ide.post("/ide/api/rename", headers=EDITOR, json={"from": "sales/dag.py", "to": path or ".."})).status_code in refused
    assert (await ide.delete("/ide/api/entries", params={"path": path}, headers=EDITOR)).status_code in refused
    assert secret.read_text() == "top secret\n"
    assert [p.name for p in secret.parent.iterdir()] == ["secret.txt"]
    assert (workspace / "sales" / "dag.py").is_file()


async def test_a_symlink_inside_the_workspace_may_be_used(ide):
    answer = await ide.get("/ide/api/file", params={"path": "sales/inner_link.py"})
    assert answer.status_code == 200 and answer.json()["content"] == "print('v1')\n"


async def test_changes_need_the_editor_header_and_this_origin(ide, workspace):
    bare = await ide.put("/ide/api/file", params={"path": "sales/dag.py"}, json={"content": "x"})
    assert bare.status_code == 403
    foreign = await ide.put("/ide/api/file", params={"path": "sales/dag.py"}, json={"content": "x"},
                            headers={**EDITOR, "Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert (workspace / "sales" / "dag.py").read_text() == "print('v1')\n"


async def test_admin_only(gateway_client, make_settings, workspace, ide_dir, token_for):
    client = gateway_client(make_settings(ide_workspace=workspace, ide_dir=ide_dir))
    assert (await client.get("/ide/api/tree")).status_code == 401
    for role in ("Viewer", "User", "Op"):
        client.headers["Authorization"] = f"Bearer {token_for(role)}"
        assert (await client.get("/ide/api/tree")).status_code == 403
        assert (await client.put("/ide/api/file", params={"path": "sales/dag.py"}, headers=EDITOR, json={"content": "x"})).status_code == 403


async def test_bad_bodies_and_binary_files(ide, workspace):
    (workspace / "sales" / "model.bin").write_bytes(b"\x00\x01\x02")
    assert (await ide.get("/ide/api/file", params={"path": "sales/model.bin"})).status_code == 415
    assert (await ide.get("/ide/api/file")).status_code == 422
    assert (await ide.get("/ide/api/file", params={"path": "sales/nope.py"})).status_code == 404
    bad_type = await ide.post("/ide/api/entries", headers=EDITOR, json={"path": "x", "type": "socket"})
    assert bad_type.status_code == 422
    extra = await ide.put("/ide/api/file", params={"path": "sales/dag.py"}, headers=EDITOR, json={"content": "x", "mode": 777})
    assert extra.status_code == 422
    big = await ide.put("/ide/api/file", params={"path": "sales/big.py"}, headers=EDITOR, json={"content": "x" * (1024 * 1024 + 1)})
    assert big.status_code == 413


async def test_the_page_needs_a_login_and_fills_in_its_base(gateway_client, make_settings, workspace, ide_dir, token_for):
    client = gateway_client(make_settings(ide_workspace=workspace, ide_dir=ide_dir, base_url="/airflow"))
    anonymous = await client.get("/airflow/ide/", follow_redirects=False)
    assert anonymous.status_code == 302
    assert anonymous.headers["location"] == "/airflow/auth/login?next=%2Fairflow%2Fide%2F"
    client.cookies.set("_token", token_for("Admin"))
    page = await client.get("/airflow/ide/")
    assert page.status_code == 200 and '<base href="/airflow/ide/">' in page.text
    assert (await client.get("/airflow/ide/assets/editor.js")).status_code == 200
    client.cookies.set("_token", token_for("Viewer"))
    assert (await client.get("/airflow/ide/")).status_code == 403


async def test_an_unbuilt_editor_says_what_to_run(gateway_client, make_settings, workspace, tmp_path, token_for):
    client = gateway_client(make_settings(ide_workspace=workspace, ide_dir=tmp_path / "not-built"))
    client.cookies.set("_token", token_for("Admin"))
    page = await client.get("/ide/")
    assert page.status_code == 503 and "scripts/build-ide.sh" in page.text
    assert (await client.get("/ide/api/tree")).status_code == 200  # the API works without it


async def test_no_workspace_no_ide(gateway_client, make_settings, token_for):
    client = gateway_client(make_settings())
    client.headers["Authorization"] = f"Bearer {token_for('Admin')}"
    answer = await client.get("/ide/api/tree")
    assert "entries" not in answer.text
    put = await client.put("/ide/api/file", params={"path": "x.py"}, headers=EDITOR, json={"content": "x"})
    assert put.status_code in (404, 405)
