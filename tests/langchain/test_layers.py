"""The LangChain layer's shape: no import cycle, runnables on the base only, a plain tool protocol.

The import graph is read from the source with ``ast``: every ``import`` anywhere in a module
(function bodies and ``TYPE_CHECKING`` blocks included) and every string naming a module of the
package (what ``importlib.import_module`` would be given), so a deferred import cannot hide a
loop.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import langchain_hf_spaces
from langchain_hf_spaces import _tools
from langchain_hf_spaces._keys import PROMPT_KEYS
from langchain_hf_spaces._lc_messages import native_tool_calls
from langchain_hf_spaces.client import SpaceAnswer

PACKAGE = Path(langchain_hf_spaces.__file__).parent
NAME = "langchain_hf_spaces"
LANGCHAIN_LAYER = {
    f"{NAME}.{m}"
    for m in (
        "_lc_base",
        "_lc_messages",
        "chat_models",
        "llms",
        "output_parsers",
        "runnables",
        "tiers",
    )
}
MODELS_AND_RUNNABLES = {f"{NAME}.llms", f"{NAME}.chat_models", f"{NAME}.runnables"}


def _modules() -> dict[str, tuple[Path, str]]:
    """Module name -> (file, the package its relative imports start from)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
            package = ".".join(parts)
        else:
            package = ".".join(parts[:-1])
        out[".".join(parts)] = (path, package)
    return out


def imports_of(source: str, known: set[str], package: str = NAME) -> set[str]:
    """Modules of ``known`` that ``source`` (a module of ``package``) imports, anywhere in it."""
    found: set[str] = set()

    def add(name: str) -> None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                add(full if full in known else base)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "." in node.value  # a submodule, as importlib is given it (not a logger name)
            and node.value in known
        ):
            found.add(node.value)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: imports_of(path.read_text(encoding="utf-8"), known, package) - {name}
        for name, (path, package) in modules.items()
    }


def cycles_through(graph: dict[str, set[str]], targets: set[str]) -> list[list[str]]:
    """Each import loop (as a path back to its start) that passes through one of ``targets``."""
    loops = []
    for start in sorted(targets):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    loops.append([*path, start])
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return loops


def test_the_graph_reader_sees_deferred_and_string_imports() -> None:
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c"}
    source = (
        "from pkg import a\n"
        "def later():\n"
        "    from .c import other\n"
        "    from pkg.b import thing\n"
        "    return thing\n"
        "LAZY = {'X': 'pkg.c'}\n"
    )
    assert imports_of(source, known, package="pkg") == {"pkg.a", "pkg.b", "pkg.c"}
    loop = cycles_through({"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}, {"pkg.a"})
    assert loop == [["pkg.a", "pkg.b", "pkg.a"]]


def test_no_import_loop_through_the_langchain_layer() -> None:
    graph = _graph()
    assert set(graph) >= LANGCHAIN_LAYER
    assert cycles_through(graph, LANGCHAIN_LAYER) == []


def test_models_and_runnables_do_not_import_each_other_in_a_loop() -> None:
    graph = _graph()
    # runnables.py depends on the shared base only, never on a concrete model
    assert graph[f"{NAME}.runnables"] & (LANGCHAIN_LAYER - {f"{NAME}.runnables"}) == {
        f"{NAME}._lc_base"
    }
    for name in MODELS_AND_RUNNABLES:
        for other in MODELS_AND_RUNNABLES - {name}:
            assert not (other in graph[name] and name in graph[other]), (name, other)
    assert f"{NAME}.llms" not in graph[f"{NAME}.chat_models"]
    assert f"{NAME}.chat_models" not in graph[f"{NAME}.llms"]


def test_runnables_call_no_private_method_of_the_models() -> None:
    base = (PACKAGE / "_lc_base.py").read_text(encoding="utf-8")
    declared = {
        node.name
        for node in ast.walk(ast.parse(base))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_")
    }
    tree = ast.parse((PACKAGE / "runnables.py").read_text(encoding="utf-8"))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "model"
        and node.attr.startswith("_")
    }
    assert used and used <= declared  # only hooks the base declares


def test_the_tool_protocol_and_the_keys_are_framework_free() -> None:
    graph = _graph()
    assert graph[f"{NAME}._keys"] == set()
    for name in ("_tools", "_keys"):
        code = (
            f"import sys, {NAME}.{name}; "
            "print(sorted(m for m in sys.modules "
            "if m.startswith(('langchain_core', 'llama_index'))))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "[]", name


def test_the_tool_protocol_gives_plain_dicts() -> None:
    content, calls, invalid = _tools.parse_tool_reply(
        'Sure. {"tool_calls": [{"name": "add", "arguments": {"a": 1}}, {"name": "rm"}]}', ["add"]
    )
    assert content == "Sure."
    assert type(calls[0]) is dict and calls[0]["name"] == "add"
    assert calls[0]["arguments"] == {"a": 1} and calls[0]["id"]
    assert invalid == [
        {
            "id": invalid[0]["id"],
            "name": "rm",
            "arguments": "{}",
            "error": "Unknown tool 'rm' (bound: add).",
        }
    ]
    rendered = _tools.render_tool_calls([{"name": "add", "arguments": {"a": 1}}])
    assert _tools.parse_tool_reply(rendered, ["add"])[1][0]["arguments"] == {"a": 1}

    native = [
        {"id": "c1", "name": "add", "arguments": '{"a": 2}'},
        {"id": "c2", "name": "add", "arguments": "{oops"},
    ]
    calls, invalid = _tools.parse_native_tool_calls(native)
    assert calls == [{"id": "c1", "name": "add", "arguments": {"a": 2}}]
    assert invalid[0]["id"] == "c2" and invalid[0]["arguments"] == "{oops"


def test_langchain_gets_its_own_tool_call_types() -> None:
    answer = SpaceAnswer(
        text="",
        tier="base",
        url="https://acme-base.hf.space",
        revision=None,
        protocol="openai",
        latency=0.1,
        attempts=1,
        tool_calls=[{"id": "c1", "name": "add", "arguments": '{"a": 2}'}],
    )
    calls, invalid = native_tool_calls(answer)
    assert calls == [{"name": "add", "args": {"a": 2}, "id": "c1", "type": "tool_call"}]
    assert invalid == []


def test_prompt_keys_have_one_home() -> None:
    assert PROMPT_KEYS == ("prompt", "input", "question", "messages")
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_keys.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):
                values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                assert not set(PROMPT_KEYS) <= values, f"a second list of prompt keys in {path}"
