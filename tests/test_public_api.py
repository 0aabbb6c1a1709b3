"""The public surface: every name in `__all__` resolves, and nothing private leaks into it."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC_MODULES = [
    "definable_trace",
    "definable_trace.agent",
    "definable_trace.model",
    "definable_trace.loading",
    "definable_trace.replay",
    "definable_trace.testing",
]


def _isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps `__all__` in: CONSTANTS, then Classes, then the rest."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_resolve_and_are_sorted(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_style)
    for attr in exported:
        assert getattr(module, attr) is not None, f"{name}.{attr}"
        assert not attr.startswith("_") or attr == "__version__"


def test_seed_import_paths() -> None:
    import definable_trace
    from definable_trace.agent import Agent
    from definable_trace.model import Message, OpenAIChat

    assert definable_trace.Agent is Agent
    assert definable_trace.OpenAIChat is OpenAIChat
    assert definable_trace.Message is Message


def test_importing_the_package_does_not_load_heavy_libraries() -> None:
    """`import definable_trace` (and the loader) must stay cheap for the CLI."""
    code = (
        "import sys, definable_trace, definable_trace.loading; "
        "print(sorted(m for m in ('openai', 'opentelemetry.sdk') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_package_ships_py_typed() -> None:
    from importlib.resources import files

    assert files("definable_trace").joinpath("py.typed").is_file()


def test_every_package_directory_is_listed_in_pyproject() -> None:
    """A wheel holds only the packages pyproject lists; a forgotten one breaks `pip install .`."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; CI runs 3.11

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    dirs = {
        ".".join(p.parent.relative_to(root).parts)
        for p in (root / "definable_trace").rglob("__init__.py")
    }
    assert dirs <= listed
    assert config["package-dir"]["deftrace_cli"] == "cli"
