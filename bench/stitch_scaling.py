"""What stitching session-less calls costs, and that it grows linearly with the calls.

    python bench/stitch_scaling.py              # 250, 500, 1,000, 2,000 conversations
    python bench/stitch_scaling.py --turns 12

The files are made from the real openai-v2 fixture's first call (tests/fixtures/
openai_v2_sessionless.jsonl, written by the real instrumentation): N conversations of T turns,
their calls interleaved in time, each call its own trace, as `OpenAIInstrumentor().instrument()`
alone writes them. Each size is written twice: without session ids (stitched) and with
`gen_ai.conversation.id` on every call (the baseline, same calls, same bytes give or take the id).
Printed per size: CPU seconds of `load_traces` + every session's `messages` for both, their
ratio, and microseconds per call (flat when the cost is linear in the calls). Every stitched
history is checked equal to its baseline's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "openai_v2_sessionless.jsonl"


def _template() -> dict[str, Any]:
    line = FIXTURE.read_bytes().splitlines()[0]
    return json.loads(line)


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _line(template: dict[str, Any], span: dict[str, Any]) -> str:
    document = json.loads(json.dumps(template))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"] = [span]
    return json.dumps(document, separators=(",", ":"))


def write(path: Path, conversations: int, turns: int, *, named: bool) -> int:
    template = _template()
    base = template["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    keep = [
        a
        for a in base["attributes"]
        if a["key"] not in ("gen_ai.input.messages", "gen_ai.output.messages")
    ]
    calls = 0
    with path.open("w") as out:
        for turn in range(turns):  # interleaved: turn t of every conversation, then t + 1
            for c in range(conversations):
                history = [_text("system", "You are a terse bot.")]
                for t in range(turn + 1):
                    history.append(_text("user", f"conversation {c}, question {t}"))
                    if t < turn:
                        history.append(_text("assistant", f"answer {t} to {c}"))
                answer = [_text("assistant", f"answer {turn} to {c}")]
                seed = f"{c}:{turn}".encode()
                start = 1_700_000_000_000_000_000 + (turn * conversations + c) * 1_000_000
                attributes = [
                    *keep,
                    {
                        "key": "gen_ai.input.messages",
                        "value": {"stringValue": json.dumps(history)},
                    },
                    {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(answer)}},
                ]
                if named:
                    attributes.append(
                        {"key": "gen_ai.conversation.id", "value": {"stringValue": f"c{c}"}}
                    )
                span = {
                    **base,
                    "traceId": hashlib.md5(seed).hexdigest(),  # an id, not security
                    "spanId": hashlib.md5(seed).hexdigest()[:16],
                    "parentSpanId": "",
                    "startTimeUnixNano": str(start),
                    "endTimeUnixNano": str(start + 500_000),
                    "attributes": attributes,
                }
                out.write(_line(template, span) + "\n")
                calls += 1
    return calls


def measure(path: Path) -> tuple[float, list[list[tuple[str, str | None]]]]:
    from definable_trace.loading import load_traces

    start = time.process_time()
    traces = load_traces(path)
    histories = [[(m.role, m.content) for m in s.messages] for s in traces]
    return time.process_time() - start, sorted(histories)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="*", default=[250, 500, 1000, 2000])
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(
        f"{'conversations':>13} {'calls':>7} {'named s':>8} {'stitched s':>10} {'ratio':>6} "
        f"{'us/call':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            named_path, bare_path = Path(tmp) / "named.jsonl", Path(tmp) / "bare.jsonl"
            calls = write(named_path, size, args.turns, named=True)
            write(bare_path, size, args.turns, named=False)
            named_cpu, named = measure(named_path)
            bare_cpu, bare = measure(bare_path)
            assert bare == named, "stitched histories differ from the named ones"
            print(
                f"{size:>13} {calls:>7} {named_cpu:>8.2f} {bare_cpu:>10.2f} "
                f"{bare_cpu / named_cpu:>6.2f} {bare_cpu / calls * 1e6:>8.0f}"
            )


if __name__ == "__main__":
    main()
