"""Ways to damage a real trace file, for the fuzz tests (this module holds no tests).

Each mutation takes the file's bytes and a seeded `random.Random` and returns new bytes; the
same seed always gives the same file. Byte-level damage (flips, cuts, invalid UTF-8, a BOM,
CRLF) and structural damage (a value of the wrong JSON type at a random path, huge or
non-finite numbers, deep nesting), the latter also inside the JSON strings that attributes
such as `gen_ai.input.messages` hold, where the messages' parts, roles and meta live.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

__all__ = ["MUTATIONS", "SOURCES", "damaged_copies", "mutate", "touch_everything"]

ROOT = Path(__file__).parent.parent
SOURCES = sorted(
    [*ROOT.glob("sample_traces/*.jsonl"), *(ROOT / "tests" / "fixtures").glob("*.jsonl")]
)

_INF = "\x00INF\x00"  # placeholders swapped for literals orjson will not write
_NEG_INF = "\x00NEGINF\x00"
_NAN = "\x00NAN\x00"
_BIG = "\x00BIG\x00"
_NEG_BIG = "\x00NEGBIG\x00"
_LITERALS = {
    orjson.dumps(_INF): b"1e400",
    orjson.dumps(_NEG_INF): b"-1e400",
    orjson.dumps(_NAN): b"NaN",
    orjson.dumps(_BIG): str(2**70).encode(),
    orjson.dumps(_NEG_BIG): str(-(2**70)).encode(),
}


for _depth in (200, 1000, 1020):  # orjson writes no more than 255 levels: spliced as text
    _LITERALS[orjson.dumps(f"\x00DEEP{_depth}\x00")] = b"[" * _depth + b"]" * _depth
for _depth in (100, 300, 340):
    _LITERALS[orjson.dumps(f"\x00DEEPANY{_depth}\x00")] = (
        b'{"arrayValue":{"values":[' * _depth + b'{"stringValue":"x"}' + b"]}}" * _depth
    )


def _deep(depth: int) -> Any:
    return f"\x00DEEP{depth}\x00"


def _deep_any(depth: int) -> Any:
    return f"\x00DEEPANY{depth}\x00"


def _wrong_values(rng: random.Random) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: None,
        lambda: True,
        lambda: 0,
        lambda: -1,
        lambda: _BIG,
        lambda: _NEG_BIG,
        lambda: "9" * 40,
        lambda: "-" + "9" * 30,
        lambda: "",
        lambda: "x",
        lambda: [],
        lambda: {},
        lambda: 1.5,
        lambda: _INF,
        lambda: _NEG_INF,
        lambda: _NAN,
        lambda: "Infinity",
        lambda: "NaN",
        lambda: [1, "a", None],
        lambda: {"role": 5, "parts": "x"},
        lambda: {"stringValue": 7},
        lambda: {"intValue": "9" * 30},
        lambda: {"intValue": "1e400"},
        lambda: {"doubleValue": "Infinity"},
        lambda: {"doubleValue": _INF},
        lambda: {"arrayValue": {"values": [1, None, {"intValue": []}]}},
        lambda: {"kvlistValue": {"values": [{"key": 1}, None]}},
        lambda: {"bytesValue": 12},
        lambda: _deep(rng.choice([200, 1000, 1020])),
        lambda: _deep_any(rng.choice([100, 300, 340])),
        lambda: "x" * rng.choice([3000, 70000]),
    ]
    return rng.choice(choices)()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value`, descending into JSON held in strings (marked
    by a `None` step: parse the string, then go on)."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*prefix, i)))
    elif isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            inner = orjson.loads(value)
        except orjson.JSONDecodeError:
            return out
        out.extend(_paths(inner, (*prefix, None)))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    step, rest = path[0], path[1:]
    if step is None:  # JSON inside a string
        return orjson.dumps(_replace(orjson.loads(value), rest, new)).decode()
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[step] = _replace(value[step], rest, new)
    return copy


def _dumps(value: Any) -> bytes:
    data = orjson.dumps(value)
    for placeholder, literal in _LITERALS.items():
        data = data.replace(placeholder, literal)
        # ... also where the placeholder ended up inside a JSON string in a string
        data = data.replace(orjson.dumps(placeholder.decode())[1:-1], literal)
    return data


def wrong_type(data: bytes, rng: random.Random) -> bytes:
    """One value somewhere in one line replaced by a value of another type or size."""
    lines = data.split(b"\n")
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    if not candidates:
        return data
    i = rng.choice(candidates)
    try:
        value = orjson.loads(lines[i])
    except orjson.JSONDecodeError:
        return data
    paths = _paths(value)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        try:
            value = _replace(value, path, _wrong_values(rng))
        except (KeyError, IndexError, TypeError, orjson.JSONDecodeError):
            continue
        paths = _paths(value)
    try:
        lines[i] = _dumps(value)
    except TypeError:  # nesting a mutation spliced in before, deeper than orjson writes
        return data
    return b"\n".join(lines)


_NUMBER = re.compile(rb':(-?[0-9][0-9.eE+-]*|"[0-9]+")')
_ODD_NUMBERS = (
    b"1e400",
    b"-1e400",
    b'"1e400"',
    b"1" + b"0" * 30,
    b'"' + b"9" * 25 + b'"',
    b"-5",
    b'"-99999999999999999999"',
    b"0.5",
    b'"Infinity"',
    b"18446744073709551616",
)


def number_swap(data: bytes, rng: random.Random) -> bytes:
    """A number (nanosecond time, token count, offset) swapped for a huge or odd one."""
    spots = [match.span(1) for match in _NUMBER.finditer(data)]
    if not spots:
        return data
    start, end = rng.choice(spots)
    return data[:start] + rng.choice(_ODD_NUMBERS) + data[end:]


def byte_flips(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if buffer:
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    return bytes(buffer)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def invalid_utf8(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff"]) + data[i:]


def bom(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]) + data


def crlf(data: bytes, rng: random.Random) -> bytes:
    return data.replace(b"\n", b"\r\n") if rng.random() < 0.7 else data.replace(b"\n", b"\r")


def shuffle_and_repeat(data: bytes, rng: random.Random) -> bytes:
    lines = [line for line in data.split(b"\n") if line]
    lines += rng.sample(lines, k=rng.randint(0, len(lines)))
    rng.shuffle(lines)
    return b"\n".join(lines) + b"\n"


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "wrong_type": wrong_type,
    "number_swap": number_swap,
    "byte_flips": byte_flips,
    "truncate": truncate,
    "invalid_utf8": invalid_utf8,
    "bom": bom,
    "crlf": crlf,
    "shuffle_and_repeat": shuffle_and_repeat,
}


def mutate(data: bytes, kinds: list[str], seed: int) -> bytes:
    rng = random.Random(seed)
    for kind in kinds:
        data = MUTATIONS[kind](data, rng)
    return data


def touch_everything(traces: Any) -> list[Any]:
    """Read every public part of every session: what `show`, `export` and `replay` read."""
    from definable_trace import DefinableTraceError

    read: list[Any] = [str(traces), *map(str, traces.warnings)]
    for session in traces:
        read += [repr(session), session.messages, session.metrics, session.models]
        read += [session.model_calls, session.duration]
        for turn in session.turns:
            read += [repr(turn), turn.messages, turn.history, turn.history_before, turn.input]
            read += [turn.error, turn.spans, turn.metrics, *map(repr, turn.tool_calls)]
            for call in turn.model_calls:
                read += [repr(call), call.input_messages, call.output_message, call.metrics]
            try:
                read.append(session.history(turn.index))
            except DefinableTraceError as exc:  # a project error is an answer
                read.append(exc)
    return read


def damaged_copies(tmp: Path, per_source: int, seed: int) -> Iterator[Path]:
    """The committed traces, each followed by `per_source` damaged copies written in `tmp`
    (one or two mutations each): the same copies for the same `seed`, every run."""
    rng = random.Random(seed)
    kinds = sorted(MUTATIONS)
    for source in SOURCES:
        yield source
        data = source.read_bytes()
        for k in range(per_source):
            mutant = tmp / f"{source.stem}.{k}.jsonl"
            chosen = rng.sample(kinds, rng.randint(1, 2))
            mutant.write_bytes(mutate(data, chosen, rng.randrange(2**32)))
            yield mutant
