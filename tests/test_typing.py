"""Types are checked: everything with mypy; consent, audit, the decision point, the unit of work and the plugin
framework strictly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRICT = ["consent", "audit", "core/policy.py", "core/access.py", "core/categories.py", "core/unit_of_work.py", "core/runtime.py",
          "core/plugins", "plugins"]


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_code_type_checks() -> None:
    result = mypy()
    assert result.returncode == 0, result.stdout


def test_consent_and_the_decision_point_type_check_strictly() -> None:
    result = mypy("--strict", *STRICT)
    assert result.returncode == 0, result.stdout
