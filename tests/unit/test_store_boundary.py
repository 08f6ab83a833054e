"""The store is reached only through its protocol (klavi_mock/storage/protocol.py): outside
klavi_mock/storage/ no code reads a backend's dictionaries, indexes, log or queue, and only
the composition root (app.py) picks a backend. Checked on the source, so a new shortcut
fails here before it spreads."""

from __future__ import annotations

import ast
from pathlib import Path

from klavi_mock.storage.protocol import Store

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "klavi_mock" / "storage"
# Where a backend may be named: the composition root, the contract's backend list, and the
# benchmark that fills a state file.
MAY_PICK_A_BACKEND = {
    ROOT / "klavi_mock" / "app.py",
    ROOT / "tests" / "storage" / "conftest.py",
    ROOT / "bench" / "harness.py",  # fill_state_file (bench/run.py is only its command line)
}
BACKEND_MODULES = {
    "klavi_mock.storage.memory",
    "klavi_mock.storage.sqlite",
    "klavi_mock.storage.delivery_log",
    "klavi_mock.storage.delivery_queue",
    "klavi_mock.storage.records",
}
STORE_NAMES = {"store", "_store"}  # what a store is called: `store`, `self.store`, `sandbox.store`...
PROTOCOL = {name for name in vars(Store) if not name.startswith("_")} | set(Store.__annotations__)


def _sources() -> list[Path]:
    return [
        path
        for folder in ("klavi_mock", "tests", "bench", "tools", "contract_tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if STORAGE not in path.parents and path.parent != ROOT / "tests" / "storage"
    ]


def _off_protocol(source: str) -> list[tuple[int, str]]:
    """Attributes read from something called a store that the protocol does not have."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        named = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
        if named in STORE_NAMES and node.attr not in PROTOCOL:
            found.append((node.lineno, f"{named}.{node.attr}"))
    return found


def _backend_imports(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in BACKEND_MODULES:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name in BACKEND_MODULES]
    return found


def test_nothing_outside_storage_reaches_past_the_store_protocol() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _sources()
        for line, what in _off_protocol(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "not in the Store protocol (storage/protocol.py):\n" + "\n".join(offenders)


def test_only_the_composition_root_picks_a_backend() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in _sources()
        if path not in MAY_PICK_A_BACKEND
        for line, module in _backend_imports(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "use klavi_mock.storage.protocol (Store) instead:\n" + "\n".join(offenders)


def test_the_checks_can_fail() -> None:
    """What the store was before it had a protocol is caught."""
    before = "for task in call.sandbox.store.tasks.values(): pass\nself._store.outbox.take(now, 1)\n"
    assert _off_protocol(before) == [(1, "store.tasks"), (2, "_store.outbox")]
    assert _backend_imports("from klavi_mock.storage.memory import MemoryStore\n") == [(1, "klavi_mock.storage.memory")]
    assert _off_protocol("store.get_link(None, 'x')\nsandbox.store.commit()\n") == []
