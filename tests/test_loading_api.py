"""The loader's public surface: its names, what importing it costs, the small value types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_loading_support import Reply, conversation

import definable_trace._loading as private
import definable_trace.loading as public
from definable_trace.loading import TraceWarning, load_traces

EXPECTED = [
    "Lineage",
    "ModelCall",
    "Session",
    "SessionNotFoundError",
    "SpanRecord",
    "ToolCall",
    "TraceSet",
    "TraceWarning",
    "Turn",
    "load_traces",
]


def test_public_names_are_sorted_and_complete() -> None:
    assert public.__all__ == sorted(public.__all__) == EXPECTED
    assert private.__all__ == EXPECTED
    for name in EXPECTED:
        assert getattr(public, name) is getattr(private, name)


def test_importing_the_loader_pulls_in_neither_openai_nor_the_otel_sdk() -> None:
    code = (
        "import sys, definable_trace.loading\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx', 'httpx2')"
        " or m.startswith('opentelemetry.sdk') or m.startswith('opentelemetry.trace')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_warning_reads_as_path_line_message() -> None:
    assert str(TraceWarning("a.jsonl", 3, "bad")) == "a.jsonl:3: bad"
    assert str(TraceWarning("a.jsonl", None, "empty")) == "a.jsonl: empty"


def test_span_records_show_what_the_file_held(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    [output] = conversation(path, [Reply(content="ok")], ["hi"])
    turn = load_traces(path).session("s1").turns[0]
    run, chat = turn.spans
    assert run.name == "invoke_agent tester" and chat.name == "chat gpt-4o"
    assert chat.parent_span_id == run.span_id and run.parent_span_id is None
    assert chat.trace_id == run.trace_id and len(chat.trace_id) == 32
    assert (chat.path, chat.line) == (str(path), 1)
    assert chat.kind == 3 and chat.status_code == 0 and chat.status_message is None
    assert chat.end_ns >= chat.start_ns > 0
    attributes = chat.attributes
    assert run.span_id == output.run_id == turn.run_id  # chat: found by parent
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert '"content":"hi"' in attributes["gen_ai.input.messages"]
    assert chat.get("gen_ai.request.model") == "gpt-4o"
    assert turn.start == run.start and turn.duration == run.duration


def test_documents_load_like_the_file_they_came_from() -> None:
    """Parsed OTLP documents (a trace store's answers) take the same path as a file's lines."""
    import orjson

    path = Path(__file__).parent.parent / "sample_traces" / "math_tutor.jsonl"
    documents = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    from_file = load_traces(path)
    from_documents = load_traces(iter(documents))
    assert [s.id for s in from_documents] == [s.id for s in from_file]
    assert from_documents.sessions[0].messages == from_file.sessions[0].messages
    assert from_documents.paths == ["<documents>"]
