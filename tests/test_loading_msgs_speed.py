"""Shortcuts of reading histories give what the plain way gives.

- Other instrumentations' canonical messages are made by `_foreign.copy_with` instead of
  pydantic's `model_copy(update=...)`: the same object (fields, fields set and its order, no
  extra or private values), for every message of the committed traces and of damaged
  versions of them, and for hand-made messages of every field.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loading_mutations import MUTATIONS, SOURCES, mutate
from pydantic import ConfigDict

from definable_trace import DefinableTraceError
from definable_trace._loading._foreign import _Entry, _hash, _ListSource, copy_with
from definable_trace.loading import TraceSet, load_traces
from definable_trace.model import Audio, File, Image, Message, Metrics, Video

_MUTANTS_PER_SOURCE = 6


def _loaded(tmp: Path) -> Iterator[TraceSet]:
    """The committed traces, then damaged versions of each (the same ones every run)."""
    rng = random.Random(20261129)
    kinds = sorted(MUTATIONS)
    for source in SOURCES:
        yield load_traces(source)
        data = source.read_bytes()
        for k in range(_MUTANTS_PER_SOURCE):
            mutant = tmp / f"{source.stem}.{k}.jsonl"
            chosen = rng.sample(kinds, rng.randint(1, 2))
            mutant.write_bytes(mutate(data, chosen, rng.randrange(2**32)))
            with contextlib.suppress(DefinableTraceError):
                yield load_traces(mutant)


def _same(made: Message, plain: Message) -> None:
    """Two messages alike in everything pydantic keeps of them."""
    assert type(made) is type(plain)
    assert made.__dict__ == plain.__dict__
    assert list(made.__dict__) == list(plain.__dict__)
    assert made.model_fields_set == plain.model_fields_set
    assert list(made.model_fields_set) == list(plain.model_fields_set)
    assert made.__pydantic_extra__ == plain.__pydantic_extra__
    assert made.__pydantic_private__ == plain.__pydantic_private__
    assert made.model_dump(mode="json") == plain.model_dump(mode="json")
    assert made == plain


def _entries(traces: TraceSet) -> Iterator[_Entry]:
    for session in traces:
        for turn in session.turns:
            source: Any = turn._source
            if isinstance(source, _ListSource):
                yield from source.history


def test_canonical_messages_are_what_model_copy_makes(tmp_path: Path) -> None:
    """Every canonical message of the committed traces and their mutants, made by the
    loader, against `model_copy` of its template with the same update."""
    checked = 0
    for traces in _loaded(tmp_path):
        for entry in _entries(traces):
            made = entry.message()
            update: dict[str, object] = {
                "id": _hash(entry.head, entry.position, entry.body) if entry.head else made.id,
                "created_at": entry.seconds,
            }
            if entry.usage is not None:
                update["metrics"] = entry.usage.metrics()
            _same(made, entry.template.model_copy(update=update))
            assert made.metrics is update.get("metrics", entry.template.metrics)
            checked += 1
    assert checked > 200


def _every_field() -> list[Message]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return [
        Message(role="user"),
        Message(role="user", content="héllo 東京", name="ann"),
        Message(role="assistant", tool_calls=[call], reasoning_content="because"),
        Message(role="tool", content="12 C", tool_call_id="c1"),
        Message(
            role="user",
            content="look",
            images=[Image(url="https://example.com/a.png")],
            audio=[Audio(content=b"\x00\x01", format="wav")],
            videos=[Video(url="https://example.com/v.mp4")],
            files=[File(url="https://example.com/f.pdf", filename="f.pdf")],
        ),
        Message(role="assistant", content="hi", metrics=Metrics(input_tokens=3), id="x"),
        Message.model_construct(role="system", content="be brief"),
    ]


_UPDATES: list[dict[str, object]] = [
    {},
    {"id": "abc", "created_at": 12},
    {"id": "abc", "created_at": 12, "metrics": Metrics(output_tokens=5, duration=0.25)},
    {"created_at": 7, "id": "first", "content": "other"},
]


@pytest.mark.parametrize("update", _UPDATES, ids=lambda u: ",".join(u) or "none")
def test_every_field_copies_as_model_copy_copies(update: dict[str, object]) -> None:
    for template in _every_field():
        made = copy_with(template, dict(update))
        _same(made, template.model_copy(update=dict(update)))
        assert made is not template
        assert made.model_fields_set is not template.model_fields_set
        made.content = "changed"  # its own fields and fields set, as a copy's
        assert template.content != "changed" or "content" in update
        assert "content" in made.model_fields_set


def test_what_the_shortcut_does_not_know_takes_model_copy() -> None:
    """A subclass (which may hold extra or private values) is copied by pydantic."""

    class Noted(Message):
        model_config = ConfigDict(extra="allow")

    template = Noted(role="user", content="hi", note="kept")  # type: ignore[call-arg]
    made = copy_with(template, {"id": "a", "created_at": 1})
    _same(made, template.model_copy(update={"id": "a", "created_at": 1}))
    assert made.__pydantic_extra__ == {"note": "kept"}
