"""The documentation cannot rot: every example runs, and the site builds with ``--strict``.

* Every fenced ```` ```python ```` block of ``docs/*.md`` runs as a standalone script, each in a
  fresh subprocess with this interpreter, in its own temporary working directory, with a
  timeout, without ``HF_TOKEN`` / ``HF_SPACES_*`` in the environment, and with the network
  blocked except loopback (examples use ``LocalSpace``). A block whose first line is
  ``# not run: <reason>`` is only compiled.
* ``docs/examples/demo.py`` (``make demo``) runs the same way, with its LangChain and
  LlamaIndex parts.
* ``mkdocs build --strict`` builds the real site (``mkdocs.yml`` as it is) into a temporary
  directory: a page of the nav that does not exist, a broken link or any other warning fails
  it, which two more tests prove on a broken copy of the docs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TIMEOUT = 90.0
NOT_RUN = "# not run:"

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.DOTALL | re.MULTILINE,
)

# Installed before the example runs: only loopback may be reached.
_GUARD = """
import runpy
import socket
import sys

def _allowed(host):
    if isinstance(host, bytes):
        host = host.decode()
    return host is None or host in ("localhost", "::1", "") or str(host).startswith("127.")

def _blocked(host):
    return OSError(f"network access to {host!r} is blocked in documentation examples")

_connect, _connect_ex, _getaddrinfo = (
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
)

def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _allowed(address[0]):
        raise _blocked(address[0])
    return _connect(self, address)

def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _allowed(address[0]):
        raise _blocked(address[0])
    return _connect_ex(self, address)

def getaddrinfo(host, *args, **kwargs):
    if not _allowed(host):
        raise socket.gaierror(socket.EAI_NONAME, f"blocked in documentation examples: {host}")
    return _getaddrinfo(host, *args, **kwargs)

socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo

path = sys.argv[1]
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
"""


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return not self.code.lstrip().startswith(NOT_RUN)


def collect_blocks(docs: Path = DOCS) -> list[Block]:
    """The ```python blocks of ``docs/*.md`` (top level only), with their line numbers."""
    blocks = []
    for page in sorted(docs.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            blocks.append(Block(page.name, line, textwrap.dedent(m.group("body"))))
    return blocks


BLOCKS = collect_blocks()


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_SPACES_", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(ROOT)  # this checkout's packages, whatever else is installed
    return env


def run_block(block: Block, workdir: Path) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "example.py"
    script.write_text(block.code, encoding="utf-8")
    return run_script(script, workdir)


def run_script(script: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with the network guard, in ``workdir``, without tokens, with a timeout."""
    workdir.mkdir(parents=True, exist_ok=True)
    guard = workdir.parent / f"_guard_{workdir.name}.py"
    guard.write_text(_GUARD, encoding="utf-8")
    try:
        return subprocess.run(
            [sys.executable, str(guard), str(script)],
            cwd=workdir,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(
            exc.cmd, -1, str(exc.stdout or ""), f"timed out after {TIMEOUT}s"
        )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every block once, several at a time (each in its own process and directory)."""
    base = tmp_path_factory.mktemp("docs-examples")
    runnable = [b for b in BLOCKS if b.runs]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {
            b.id: pool.submit(run_block, b, base / f"b{i:03d}") for i, b in enumerate(runnable)
        }
        return {key: f.result() for key, f in futures.items()}


def test_the_docs_have_examples() -> None:
    pages = {b.page for b in BLOCKS if b.runs}
    for page in ("quickstart.md", "configuration.md", "cli.md", "troubleshooting.md"):
        assert page in pages, f"{page} has no runnable example"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_example_runs(block: Block, results: dict[str, Any]) -> None:
    if not block.runs:
        compile(block.code, block.id, "exec")  # "# not run:" blocks must still be Python
        assert block.code.lstrip()[len(NOT_RUN) :].split("\n", 1)[0].strip(), (
            f"{block.id}: say why after '{NOT_RUN}'"
        )
        return
    result = results[block.id]
    assert result.returncode == 0, (
        f"{block.id} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )


DEMO_SECTIONS = (
    "Test Connection",
    "generate(prompt, tier)",
    "generate(prompt, tier, context)",
    "stream (tier 'company', TGI)",
    "generateVariations(prompt, 3, 'company')",
    "generateStructure(prompt, schema)",
    "demo_langchain",
    "demo_llama_index",
)


def test_the_demo_runs(tmp_path: Path) -> None:
    """``make demo`` (docs/examples/demo.py and its LangChain and LlamaIndex parts)."""
    result = run_script(DOCS / "examples" / "demo.py", tmp_path / "demo")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    out = result.stdout
    headings = [line for line in out.splitlines() if line.startswith("=== ")]
    assert [h[4:].rstrip(" =") for h in headings[1:]] == list(DEMO_SECTIONS)
    for tier in ("base", "company", "abstraction", "user"):
        assert f"[{tier:<11}] Demo answer from {tier}:" in out
    assert "title: GrowBox" in out and "(asked 2 times)" in out
    assert "skipped" not in out
    assert out.rstrip().endswith("All four tiers answered.")


def test_the_guard_blocks_the_network_but_not_loopback(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import socket
        try:
            socket.create_connection(("example.com", 443), timeout=2)
        except OSError as exc:
            assert "blocked" in str(exc), exc
        else:
            raise SystemExit("the network was reachable")
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        socket.create_connection(server.getsockname(), timeout=2).close()
        print("guarded")
        """
    )
    result = run_block(Block("guard", 1, code), tmp_path / "guard")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "guarded"


def test_a_failing_example_is_reported(tmp_path: Path) -> None:
    result = run_block(Block("x.md", 1, "raise SystemExit('boom')\n"), tmp_path / "fail")
    assert result.returncode == 1 and "boom" in result.stderr


def test_examples_run_without_tokens_in_the_environment(tmp_path: Path) -> None:
    os.environ["HF_TOKEN"] = "hf_should_not_reach_examples"
    try:
        code = "import os\nassert 'HF_TOKEN' not in os.environ\n"
        result = run_block(Block("env", 1, code), tmp_path / "env")
    finally:
        del os.environ["HF_TOKEN"]
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------- mkdocs

# What `mkdocs build` reads: the config, the pages, the changelog snippet and the packages
# whose docstrings mkdocstrings renders.
_SITE_SOURCES = (
    "mkdocs.yml",
    "CHANGELOG.md",
    "docs",
    "langchain_hf_spaces",
    "llama_index_hf_spaces",
)


def _nav_targets(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_targets(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_targets(value)


def build_site(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the project at ``root``, as ``make docs`` runs it."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _copy_of_the_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for name in _SITE_SOURCES:
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "space-template")
            shutil.copytree(source, root / name, ignore=ignore)
        else:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, root / name)
    return root


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """The real site builds with --strict: every nav page exists, every link resolves."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = list(_nav_targets(config["nav"]))
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert not missing, f"pages in mkdocs.yml's nav that do not exist: {missing}"
    result = build_site(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    for page in pages:  # each nav page became an HTML page
        stem = Path(page).with_suffix("")
        built = tmp_path / "site" / ("index.html" if page == "index.md" else f"{stem}/index.html")
        assert built.is_file(), f"{page} was not built"
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "SpacesClient" in api and "generate" in api  # mkdocstrings rendered the docstrings
    changelog = (tmp_path / "site" / "changelog" / "index.html").read_text(encoding="utf-8")
    release = re.search(r"^## \[?([^\]\n]+)", (ROOT / "CHANGELOG.md").read_text("utf-8"), re.M)
    assert release is not None and release.group(1) in changelog  # the snippet was included
    # The scripts behind `make demo` and the Space template are not part of the site.
    assert not (tmp_path / "site" / "examples").exists()
    assert not (tmp_path / "site" / "space-template").exists()


def test_mkdocs_build_fails_on_a_missing_nav_page(tmp_path: Path) -> None:
    root = _copy_of_the_project(tmp_path)
    (root / "docs" / "security.md").unlink()
    result = build_site(root, tmp_path / "site")
    assert result.returncode == 1
    assert "A reference to 'security.md' is included in the 'nav' configuration" in result.stderr
    assert "in strict mode" in result.stdout + result.stderr  # "Aborted with 3 warnings ..."


def test_mkdocs_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    root = _copy_of_the_project(tmp_path)
    page = root / "docs" / "quickstart.md"
    page.write_text(
        page.read_text(encoding="utf-8") + "\nSee [the missing page](no-such-page.md).\n",
        encoding="utf-8",
    )
    result = build_site(root, tmp_path / "site")
    assert result.returncode == 1
    assert (
        "Doc file 'quickstart.md' contains a link 'no-such-page.md', but the target is not found"
        in result.stderr
    )
