"""Does msgspec pay? Decoding the same lines with orjson and with msgspec, same run.

    python bench/decode_msgspec.py FILE.jsonl

Four decoders over every line of FILE (best of three, CPU seconds): `orjson.loads` (the
benches' floor), msgspec's generic decoder (dicts, as orjson), and the loader's typed decoding
(`definable_trace/_loading/_typed.py`: only the fields the loader reads, into `Struct`s), once
with every string decoded and once with string values kept raw (`msgspec.Raw`, what the loader
does on lines of 1 MB or more). Decoded values are dropped at once (holding them all is another
cost: the garbage collector's). Files: `load_throughput.py --shape many-short` / `few-long`
make them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from definable_trace._loading._typed import decode_typed


def best_cpu(lines: list[bytes], decode: Callable[[bytes], Any]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for line in lines:
            decode(line)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    lines = [line for line in Path(sys.argv[1]).read_bytes().splitlines() if line.strip()]
    size = sum(map(len, lines)) / 1e6
    floor = best_cpu(lines, orjson.loads)
    typed = sum(decode_typed(line, 1 << 62) is not None for line in lines)
    print(f"{len(lines)} lines ({typed} of spans the typed decoding takes), {size:.0f} MB")
    print(f"orjson.loads                 {floor:.3f} s CPU")
    for name, decode in (
        ("msgspec generic", msgspec.json.Decoder().decode),
        ("typed, strings decoded", lambda line: decode_typed(line, 1 << 62)),
        ("typed, strings raw", lambda line: decode_typed(line, 0)),
    ):
        cpu = best_cpu(lines, decode)
        print(f"{name:<28} {cpu:.3f} s CPU  ({floor / cpu:.2f}x orjson's speed)")


if __name__ == "__main__":
    main()
