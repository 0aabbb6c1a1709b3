"""The convention registry: the first convention in `CONVENTIONS` that claims a span owns it.

Driven through `load_traces` on the real instrumentations' fixtures, with attributes of a
convention asked later added to every span: the result must not change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from definable_trace._loading._conventions import CONVENTIONS
from definable_trace.loading import load_traces

FIXTURES = Path(__file__).parent / "fixtures"


def _with_attribute(source: Path, target: Path, key: str, value: str) -> None:
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        document: dict[str, Any] = json.loads(line)
        for resource in document.get("resourceSpans", ()):
            for scope in resource.get("scopeSpans", ()):
                for span in scope.get("spans", ()):
                    span.setdefault("attributes", []).append(
                        {"key": key, "value": {"stringValue": value}}
                    )
        lines.append(json.dumps(document))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _histories(path: Path) -> dict[str, list[tuple[str, str | None]]]:
    return {s.id: [(m.role, m.content) for m in s.messages] for s in load_traces(path)}


@pytest.mark.parametrize(
    ("fixture", "name"),
    [("openinference.jsonl", "openinference"), ("openllmetry_old.jsonl", "openllmetry")],
)
def test_an_earlier_convention_wins_over_the_generic_semconv_reader(
    tmp_path: Path, fixture: str, name: str
) -> None:
    marked = tmp_path / fixture
    _with_attribute(FIXTURES / fixture, marked, "gen_ai.operation.name", "chat")
    traces = load_traces(marked)
    assert {s.convention for s in traces} == {name}
    assert _histories(marked) == _histories(FIXTURES / fixture)
    assert any(h for h in _histories(marked).values())


def test_openinference_is_asked_before_openllmetry(tmp_path: Path) -> None:
    marked = tmp_path / "openinference.jsonl"
    _with_attribute(FIXTURES / "openinference.jsonl", marked, "llm.request.type", "chat")
    assert {s.convention for s in load_traces(marked)} == {"openinference"}


def test_the_registry_names_are_distinct_and_the_generic_reader_is_last() -> None:
    names = [c.name for c in CONVENTIONS]
    assert len(set(names)) == len(names)
    assert names[0] == "definable" and names[-1] == "openai-v2"
