"""``hf-spaces doctor`` reports a misspelt setting, naming it and the closest valid name.

Runs the command as a user does (a subprocess, in a temporary directory, with an environment
free of ``HF_TOKEN`` and other ``HF_SPACES_*`` variables). The settings fail to load, so no Space
is contacted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def doctor(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SPACES_", "HF_TOKEN"))}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), clean.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "langchain_hf_spaces", "doctor"],
        cwd=cwd,
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings_line(output: str) -> str:
    lines = [line for line in output.splitlines() if "FAIL" in line and "settings" in line]
    assert len(lines) == 1, output
    return lines[0]


def test_doctor_names_a_misspelt_variable_and_the_right_one(tmp_path: Path) -> None:
    result = doctor(
        tmp_path,
        {"HF_SPACES_BASE_URL": "http://127.0.0.1:9", "HF_SPACES_DEFUALT_TIER": "base"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    line = _settings_line(result.stdout)
    assert "HF_SPACES_DEFUALT_TIER" in line
    assert "did you mean HF_SPACES_DEFAULT_TIER?" in line


def test_doctor_names_a_misspelt_file_key_and_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "hf-spaces.toml").write_text(
        'version = 1\n[tiers.base]\nurl = "http://127.0.0.1:9"\nread_timout = 5\n',
        encoding="utf-8",
    )
    result = doctor(tmp_path, {})
    assert result.returncode == 1, result.stdout + result.stderr
    line = _settings_line(result.stdout)
    assert "unknown key 'read_timout' in [tiers.base]: did you mean 'read_timeout'?" in line
