"""An answer's token counts are written once, where the call happened (issue 7 point 4).

The chat span that produced an answer holds its counts as `gen_ai.usage.*`; the answer's meta
entry leaves them out in every list of that session, and the loader reads them back from that
span (found by the answer's message id among the session's spans). Answers a session inherited
(a fork, a history given a new session id, one written by another tracing setup, as another
process would) keep their counts in the entry, so that a session's lists stay prefixes of each
other. Every file here is written by our agent over real HTTP and must reload exactly.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_support import Reply, ToolCallReply, attribute, spans_of, weather, write_lines

from definable_trace import Message, OpenAIChat, configure_tracing, flush_tracing
from definable_trace.agent import Agent
from definable_trace.loading import load_traces
from definable_trace.replay import ForkOptions, fork
from definable_trace.testing import FakeOpenAIServer

COUNTS = {"input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"}


def _script() -> list[Reply]:
    return [
        Reply(
            tool_calls=[ToolCallReply("weather", {"city": "Oslo"})],
            prompt_tokens=9,
            completion_tokens=4,
            cached_tokens=3,
        ),
        Reply(content="Cold.", prompt_tokens=11, completion_tokens=2, reasoning_tokens=1),
        Reply(content="Yes.", prompt_tokens=15, completion_tokens=1),
        Reply(content="No.", prompt_tokens=17, completion_tokens=1),
    ]


def _turns(
    inputs: list[str],
    *,
    messages: list[Message] | None = None,
    session_id: str | None = "s",
    script: list[Reply] | None = None,
) -> list[Any]:
    """Consecutive turns of one conversation with the tracing set up now; their outputs."""
    outputs: list[Any] = []
    with FakeOpenAIServer(script if script is not None else _script()) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, "Be brief.", tools=[weather])
        for text in inputs:
            output = agent.run(text, messages=messages, session_id=session_id)
            outputs.append(output)
            messages = output.messages
    flush_tracing()
    return outputs


def _lists(path: Path, session: str) -> list[list[dict[str, Any]]]:
    """The meta lists of a session's chat spans, in file order."""
    found = []
    for _, span in spans_of(path):
        attrs = {a["key"]: a["value"] for a in span["attributes"]}
        if span["name"].startswith("chat") and attrs["session.id"]["stringValue"] == session:
            found.append(orjson.loads(attribute(span, "definable_trace.messages")["stringValue"]))
    return found


def _key(m: Message, content: bool) -> Any:
    return m if content else (m.id, m.role, m.created_at, m.metrics, m.tool_call_id)


def _reloads_exactly(path: Path, session: str, history: list[Message], content: bool) -> None:
    """The session's history, from the whole file and from the session read alone."""
    for traces in (load_traces(path), load_traces(path, session=session)):
        rebuilt = traces.session(session).messages
        assert [_key(m, content) for m in rebuilt] == [_key(m, content) for m in history]
        assert [w for w in traces.warnings if "capture was off" not in w.message] == []


@pytest.mark.parametrize(
    "tracing",
    [{}, {"capture_content": False}, {"history": "delta"}],
    ids=["full", "no-content", "compact"],
)
def test_a_sessions_own_answers_leave_their_counts_to_their_chat_spans(
    tmp_path: Path, tracing: dict[str, Any]
) -> None:
    path = tmp_path / "t.jsonl"
    configure_tracing(path, **tracing)
    outputs = _turns(["weather in Oslo?", "sure?", "really?"])
    final = outputs[-1].messages
    answers = [m for m in final if m.role == "assistant"]
    assert [m.metrics.input_tokens for m in answers if m.metrics] == [9, 11, 15, 17]
    assert answers[1].metrics and answers[1].metrics.reasoning_tokens == 1
    lists = _lists(path, "s")
    assert len(lists) == 4
    for entries in lists:  # every answer of the session, in every list: no count
        metrics = [e["metrics"] for e in entries if "metrics" in e]
        assert metrics and not [m for m in metrics if COUNTS & set(m)]
    if "history" not in tracing:  # full mode: each list is a prefix of the next
        texts = [orjson.dumps(e).decode() for e in lists]
        for shorter, longer in itertools.pairwise(texts):
            assert longer.startswith(shorter[:-1] + ",")
    _reloads_exactly(path, "s", final, "capture_content" not in tracing)
    turn = load_traces(path).session("s").turns[0]
    assert [c.metrics.input_tokens for c in turn.model_calls] == [9, 11]
    assert [c.metrics.cache_read_tokens for c in turn.model_calls] == [3, 0]


def test_a_history_given_a_new_session_id_keeps_its_counts(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    configure_tracing(path)
    [first] = _turns(["weather in Oslo?"])
    [second] = _turns(["sure?"], messages=first.messages, session_id="other", script=_script()[2:])
    inherited = {m.id for m in first.messages}
    [entries] = _lists(path, "other")
    for entry, message in zip(entries, second.messages, strict=True):
        if message.metrics is None:
            continue
        if message.id in inherited:  # answered in session "s": the counts travel with it
            assert entry["metrics"]["input_tokens"] == message.metrics.input_tokens
        else:
            assert not COUNTS & set(entry["metrics"])
    _reloads_exactly(path, "other", second.messages, True)
    _reloads_exactly(path, "s", first.messages, True)


def test_a_fork_keeps_the_counts_of_the_answers_it_inherits(tmp_path: Path) -> None:
    source = tmp_path / "source.jsonl"
    configure_tracing(source)
    outputs = _turns(["weather in Oslo?", "sure?", "really?"])
    session = load_traces(source, session="s").session("s")
    assert session.messages == outputs[-1].messages
    out = tmp_path / "fork.jsonl"
    configure_tracing(out)
    result = fork(session, ForkOptions(at=3, recorded=True, session_id="f"))
    flush_tracing()
    [entries] = _lists(out, "f")
    inherited = {m.id for m in outputs[1].messages}
    kept = [e for e in entries if e["id"] in inherited and "metrics" in e]
    assert kept and all("output_tokens" in e["metrics"] for e in kept)
    assert not COUNTS & set(entries[-1]["metrics"])  # the fork's own answer: on its span
    _reloads_exactly(out, "f", result.history, True)


def test_another_tracing_setup_continuing_a_session_writes_the_counts_again(
    tmp_path: Path,
) -> None:
    """What this process recorded is all it leaves out: a history rebuilt from the file and
    continued by a new setup (as another process would) keeps the counts of what it did not
    record, in the same session; an answer whose counts were edited keeps its new ones."""
    path = tmp_path / "t.jsonl"
    configure_tracing(path)
    [first] = _turns(["weather in Oslo?"])
    history = load_traces(path).session("s").messages
    assert history == first.messages
    configure_tracing(path)
    [second] = _turns(["sure?"], messages=history, script=_script()[2:])
    last = _lists(path, "s")[-1]
    assert last[2]["metrics"]["input_tokens"] == 9  # the earlier setup's answer
    # Edited in place before the next turn: the entry holds what was sent.
    edited = second.messages
    assert edited[-1].metrics is not None
    edited[-1].metrics.input_tokens = 99
    [third] = _turns(["really?"], messages=edited, script=_script()[3:])
    assert _lists(path, "s")[-1][-3]["metrics"]["input_tokens"] == 99
    _reloads_exactly(path, "s", third.messages, True)


def test_an_answer_whose_chat_span_is_missing_reads_zero_counts_with_a_warning(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.jsonl"
    configure_tracing(path)
    outputs = _turns(["weather in Oslo?", "sure?"])
    final = outputs[-1].messages
    lost = final[2]  # the first call's answer (the tool call)
    # One span a line, less the chat span that answered `lost`.
    lines: list[bytes] = []
    holders: set[int] = set()
    for where, span in spans_of(path):
        if _answers(span, lost.id):
            continue
        value = _meta(span)
        if value is not None and lost.id in value:
            holders.add(len(lines) + 1)
        scope = {"scope": where["scope"], "spans": [span]}
        resource = {"resource": where["resource"], "scopeSpans": [scope]}
        lines.append(orjson.dumps({"resourceSpans": [resource]}))
    assert len(holders) == 2  # the first turn's second call, the second turn's call
    cut = write_lines(tmp_path / "cut.jsonl", lines)
    for traces in (load_traces(cut), load_traces(cut, session="s")):
        rebuilt = traces.session("s").messages
        assert len(rebuilt) == len(final)
        for got, want in zip(rebuilt, final, strict=True):
            if got.id == lost.id:
                assert want.metrics is not None and got.metrics is not None
                assert got.metrics.input_tokens == got.metrics.output_tokens == 0
                assert got.metrics.duration == want.metrics.duration
                assert got.model_copy(update={"metrics": want.metrics}) == want
            else:
                assert got == want
        [warning] = traces.warnings
        assert warning.path == str(cut) and warning.line in holders
        assert lost.id in warning.message and "token counts" in warning.message


def _meta(span: dict[str, Any]) -> str | None:
    """A span's `definable_trace.messages` JSON, if it has one."""
    for item in span["attributes"]:
        if item["key"] == "definable_trace.messages":
            text: str = item["value"]["stringValue"]
            return text
    return None


def _answers(span: dict[str, Any], message_id: str) -> bool:
    value = _meta(span)
    if not span["name"].startswith("chat") or value is None:
        return False
    return bool(orjson.loads(value)[-1]["id"] == message_id)
