"""``make cassettes-gradio``: record the Gradio cassettes from real Gradio servers of each version.

For each major version it builds (once) a server venv under ``.gradio-venvs/<major>`` with the
era's pins, starts every app of ``tests/support/gradio_apps.py`` there, records what that
version's ``gradio_client`` answers (``cassettes/test_gradio_versions/reference-<major>.json``),
re-records the version's cassettes with ``pytest --record-mode=rewrite`` against the servers, and
stops them. Gradio 6 runs from the project's own ``.venv`` (the dev extra's gradio).

    python tests/support/record_gradio.py            # every version
    python tests/support/record_gradio.py 4 5        # some
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".gradio-venvs"
CASSETTES = ROOT / "cassettes" / "test_gradio_versions"
PINS: dict[str, list[str]] = {
    "3": ["gradio==3.50.2", "fastapi==0.104.1", "pydantic==2.10.6"],
    "4": ["gradio==4.44.1", "huggingface_hub==0.25.2", "fastapi==0.115.0", "pydantic==2.10.6"],
    "5": ["gradio==5.50.0"],
    "6": [],  # the project's .venv (dev extra)
}
SERVERS_ENV = "HF_SPACES_GRADIO_SERVERS"


def python_for(major: str) -> Path:
    if not PINS[major]:
        return ROOT / ".venv" / "bin" / "python"
    venv = VENVS / major
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists() or stamp.read_text() != " ".join(PINS[major]):
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS[major]], check=True)
        stamp.write_text(" ".join(PINS[major]))
    return python


def record(major: str) -> None:
    python = python_for(major)
    with tempfile.TemporaryDirectory() as tmp:
        servers = Path(tmp) / "servers.json"
        server = subprocess.Popen(
            [str(python), str(ROOT / "tests/support/gradio_apps.py"), "--out", str(servers)],
            stdin=subprocess.PIPE,
            cwd=tmp,
        )
        try:
            deadline = time.monotonic() + 180
            while not servers.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gradio {major}: the app server did not start")
                time.sleep(0.5)
            version = json.loads(servers.read_text())["version"]
            print(f"gradio {version}: servers up; recording the gradio_client reference")
            CASSETTES.mkdir(parents=True, exist_ok=True)
            reference = CASSETTES / f"reference-{major}.json"
            subprocess.run(
                [
                    str(python),
                    str(ROOT / "tests/support/gradio_reference.py"),
                    str(servers),
                    str(reference),
                ],
                check=True,
                cwd=tmp,
            )
            env = {**os.environ, SERVERS_ENV: str(servers)}
            subprocess.run(
                [
                    *(str(ROOT / ".venv/bin/python"), "-m", "pytest", "-q", "-p"),
                    *("no:cacheprovider", "tests/gradio_versions", "-k", f"v{major}"),
                    "--record-mode=rewrite",
                ],
                check=True,
                cwd=ROOT,
                env=env,
            )
        finally:
            if server.stdin is not None:
                server.stdin.close()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def main() -> None:
    majors = sys.argv[1:] or list(PINS)
    for major in majors:
        if major not in PINS:
            raise SystemExit(f"unknown Gradio major version {major!r} (known: {', '.join(PINS)})")
        record(major)


if __name__ == "__main__":
    main()
