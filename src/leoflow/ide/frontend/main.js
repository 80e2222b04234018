// Lite's /ide editor: a file tree of the DAG workspace, CodeMirror 6 with Python and
// YAML highlighting, create/rename/delete, save (Ctrl+S) -> Lite hot-reloads the
// folder; import errors (Airflow's /api/v2/importErrors) listed and followed after a save.
//
// Every call is same-origin with the UI's session cookie. Changes carry the
// X-Leoflow-IDE header the gateway requires. Text from the server (file names,
// errors) only ever goes into the page as textContent.

import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { yaml } from "@codemirror/lang-yaml";
import { oneDark } from "@codemirror/theme-one-dark";

const $ = (id) => document.getElementById(id);
const state = { path: null, mtime: null, saved: "", selected: null, entries: [], errors: [], open: new Set() };
let view = null;

// -- server calls ---------------------------------------------------------------------

async function call(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "X-Leoflow-IDE": "1", ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (response.status === 401) {
    window.location.href = `../auth/login?next=${encodeURIComponent(window.location.pathname)}`;
    throw new Error("not logged in");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && data.detail;
    const message = typeof detail === "string" ? detail : Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : response.statusText;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

const api = {
  tree: () => call("GET", "api/tree"),
  read: (path) => call("GET", `api/file?path=${encodeURIComponent(path)}`),
  save: (path, content, mtime) => call("PUT", `api/file?path=${encodeURIComponent(path)}`, { content, expected_mtime_ns: mtime }),
  create: (path, type) => call("POST", "api/entries", { path, type }),
  rename: (from, to) => call("POST", "api/rename", { from, to }),
  remove: (path) => call("DELETE", `api/entries?path=${encodeURIComponent(path)}`),
  importErrors: () => call("GET", "../api/v2/importErrors?limit=100&order_by=filename"),
  dagVersions: (dagId) => call("GET", `../api/v2/dags/${encodeURIComponent(dagId)}/dagVersions?order_by=-version_number&limit=1`),
};

function status(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.className = `status ${kind}`;
}

// -- the tree -----------------------------------------------------------------------

function buildTree(entries) {
  const root = { children: new Map() };
  for (const entry of entries) {
    let node = root;
    const parts = entry.path.split("/");
    parts.forEach((name, i) => {
      if (!node.children.has(name)) node.children.set(name, { name, path: parts.slice(0, i + 1).join("/"), type: "dir", children: new Map() });
      node = node.children.get(name);
    });
    node.type = entry.type;
  }
  return root;
}

function brokenFolders() {
  return new Set(state.errors.map((e) => e.filename.split("/")[0]));
}

function renderTree() {
  const broken = brokenFolders();
  const errorFiles = new Set(state.errors.map((e) => e.filename));
  const list = $("tree");
  list.replaceChildren();
  const render = (node, parent, depth) => {
    const children = [...node.children.values()].sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === "dir" ? -1 : 1));
    for (const child of children) {
      const li = document.createElement("li");
      const row = document.createElement("span");
      row.className = "row";
      row.style.paddingLeft = `${8 + depth * 14}px`;
      if (child.path === state.selected) row.classList.add("selected");
      if ((child.type === "dir" && depth === 0 && broken.has(child.name)) || errorFiles.has(child.path)) row.classList.add("broken");
      const icon = document.createElement("span");
      icon.className = "icon";
      icon.textContent = child.type === "dir" ? (state.open.has(child.path) ? "▾" : "▸") : "·";
      row.append(icon, document.createTextNode(child.name));
      row.setAttribute("role", "treeitem");
      row.addEventListener("click", () => {
        state.selected = child.path;
        if (child.type === "dir") {
          state.open.has(child.path) ? state.open.delete(child.path) : state.open.add(child.path);
          renderTree();
        } else {
          openFile(child.path);
        }
      });
      li.append(row);
      parent.append(li);
      if (child.type === "dir" && state.open.has(child.path)) {
        const ul = document.createElement("ul");
        li.append(ul);
        render(child, ul, depth + 1);
      }
    }
  };
  render(buildTree(state.entries), list, 0);
}

async function refreshTree() {
  const tree = await api.tree();
  $("workspace-name").textContent = tree.root;
  state.entries = tree.entries;
  renderTree();
}

// -- the editor -----------------------------------------------------------------------

function languageFor(path) {
  if (path.endsWith(".py")) return [python()];
  if (path.endsWith(".yaml") || path.endsWith(".yml")) return [yaml()];
  return [];
}

function isDirty() {
  return view !== null && state.path !== null && view.state.doc.toString() !== state.saved;
}

function showDirty() {
  $("dirty").hidden = !isDirty();
  $("save").disabled = !isDirty();
}

async function openFile(path, line) {
  if (path !== state.path && isDirty() && !window.confirm(`Discard the unsaved changes to ${state.path}?`)) return;
  let file;
  try {
    file = await api.read(path);
  } catch (error) {
    status(`${path}: ${error.message}`, "error");
    return;
  }
  state.path = path;
  state.mtime = file.mtime_ns;
  state.saved = file.content;
  state.selected = path;
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) state.open.add(parts.slice(0, i).join("/"));
  const extensions = [
    basicSetup,
    oneDark,
    keymap.of([indentWithTab, { key: "Mod-s", preventDefault: true, run: () => { save(); return true; } }]),
    EditorView.updateListener.of((update) => { if (update.docChanged) showDirty(); }),
    ...languageFor(path),
  ];
  const doc = EditorState.create({ doc: file.content, extensions });
  if (view) view.setState(doc);
  else view = new EditorView({ state: doc, parent: $("editor") });
  $("current-path").textContent = path;
  showDirty();
  renderTree();
  if (line && line > 0 && line <= view.state.doc.lines) {
    const at = view.state.doc.line(line).from;
    view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
  }
  view.focus();
}

async function save(overwrite = false) {
  if (!view || !state.path) return;
  const content = view.state.doc.toString();
  const folder = state.path.split("/")[0];
  // What the folder's DAG is at before the save: Lite may register the new version
  // before a request made after the save returns.
  const dagId = await dagIdOf(folder);
  const before = dagId ? await latestVersion(dagId) : null;
  try {
    const saved = await api.save(state.path, content, overwrite ? null : state.mtime);
    state.mtime = saved.mtime_ns;
    state.saved = content;
    showDirty();
    status(`saved ${state.path}`, "ok");
    followReload(folder, dagId, before, Date.now());
  } catch (error) {
    if (error.status === 409 && window.confirm(`${error.message}\n\nOverwrite the file on disk?`)) return save(true);
    status(`not saved: ${error.message}`, "error");
  }
}

// -- hot reload feedback --------------------------------------------------------------

async function dagIdOf(folder) {
  try {
    const { content } = await api.read(`${folder}/leoflow.yaml`);
    const match = content.match(/^dag_id:\s*["']?([\w.-]+)["']?\s*$/m);
    return match ? match[1] : null;
  } catch {
    return null;
  }
}

async function latestVersion(dagId) {
  try {
    const versions = await api.dagVersions(dagId);
    return versions.dag_versions.length ? versions.dag_versions[0] : null;
  } catch {
    return null;
  }
}

// After a save: watch for the folder's new version or its import error (Lite
// recompiles it within a second or two; a new environment takes longer).
async function followReload(folder, dagId, before, started) {
  status(`${folder}: compiling…`);
  while (Date.now() - started < 120000) {
    await new Promise((resolve) => setTimeout(resolve, 400));
    await refreshErrors();
    const error = state.errors.find((e) => e.filename.startsWith(`${folder}/`) && Date.parse(e.timestamp) >= started - 1000);
    if (error) {
      status(`${folder}: import error — the last good version keeps running`, "error");
      return;
    }
    const now = dagId ? await latestVersion(dagId) : null;
    if (now && (!before || now.version_number !== before.version_number)) {
      status(`${dagId}: version ${now.version_number} registered`, "ok");
      return;
    }
    if (!state.errors.some((e) => e.filename.startsWith(`${folder}/`)) && Date.now() - started > 4000) {
      status(`${folder}: compiled, no change to the DAG`, "ok");
      return;
    }
  }
}

async function refreshErrors() {
  try {
    state.errors = (await api.importErrors()).import_errors;
  } catch {
    return;
  }
  const list = $("problems");
  list.replaceChildren();
  for (const error of state.errors) {
    const li = document.createElement("li");
    const file = document.createElement("span");
    file.className = "file";
    file.textContent = error.filename;
    li.append(file, document.createTextNode(`  ${error.stack_trace}`));
    const line = Number((error.stack_trace.match(/^[^:\s]+:(\d+):/) || [])[1] || 0);
    li.addEventListener("click", () => openFile(error.filename, line));
    list.append(li);
  }
  const badge = $("problem-count");
  badge.textContent = String(state.errors.length);
  badge.className = state.errors.length ? "badge has" : "badge";
  renderTree();
}

// -- create / rename / delete ---------------------------------------------------------

function selectedFolder() {
  if (!state.selected) return "";
  const entry = state.entries.find((e) => e.path === state.selected);
  if (entry && entry.type === "dir") return `${entry.path}/`;
  const slash = state.selected.lastIndexOf("/");
  return slash >= 0 ? state.selected.slice(0, slash + 1) : "";
}

async function act(what, run) {
  try {
    await run();
    await refreshTree();
  } catch (error) {
    status(`${what}: ${error.message}`, "error");
  }
}

$("new-file").addEventListener("click", () => {
  const path = window.prompt("New file (path in the workspace)", selectedFolder());
  if (path) act("new file", async () => { await api.create(path, "file"); await openFile(path); });
});
$("new-folder").addEventListener("click", () => {
  const path = window.prompt("New folder (a DAG folder needs a leoflow.yaml)", selectedFolder());
  if (path) act("new folder", async () => { await api.create(path, "dir"); state.open.add(path); });
});
$("rename").addEventListener("click", () => {
  if (!state.selected) return status("select a file or folder first");
  const to = window.prompt(`Rename or move ${state.selected} to`, state.selected);
  if (to && to !== state.selected) {
    act("rename", async () => {
      await api.rename(state.selected, to);
      if (state.path === state.selected) { state.path = to; $("current-path").textContent = to; }
      state.selected = to;
    });
  }
});
$("delete").addEventListener("click", () => {
  if (!state.selected) return status("select a file or folder first");
  if (!window.confirm(`Delete ${state.selected}? A deleted DAG folder deregisters its DAG (its history is kept).`)) return;
  act("delete", async () => {
    await api.remove(state.selected);
    if (state.path && (state.path === state.selected || state.path.startsWith(`${state.selected}/`))) {
      state.path = null;
      view && view.setState(EditorState.create({ doc: "" }));
      $("current-path").textContent = "Open a file from the workspace";
      showDirty();
    }
    state.selected = null;
  });
});
$("refresh").addEventListener("click", () => act("refresh", refreshErrors));
$("save").addEventListener("click", () => save());
window.addEventListener("beforeunload", (event) => { if (isDirty()) event.preventDefault(); });

refreshTree().catch((error) => status(`cannot list the workspace: ${error.message}`, "error"));
refreshErrors();
setInterval(refreshErrors, 5000);
