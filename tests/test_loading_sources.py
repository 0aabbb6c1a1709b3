"""What `load_traces` accepts: files, directories (recursively), gzip, `-` for stdin, documents."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_loading_foreign import WEATHER_HISTORY, shape
from test_loading_support import FIXTURES

from definable_trace._errors import TraceFormatError
from definable_trace.loading import load_traces

_LOAD_STDIN = (
    "from definable_trace.loading import load_traces\n"
    "traces = load_traces('-')\n"
    "print([s.id for s in traces], traces.paths, [str(w) for w in traces.warnings])\n"
)


def _tree(tmp_path: Path) -> Path:
    top = tmp_path / "traces"
    (top / "b" / "deeper").mkdir(parents=True)
    (top / "a").mkdir()
    (top / ".git").mkdir()
    shutil.copy(FIXTURES / "openai_v2_events.jsonl", top / "a" / "spans.jsonl")
    with gzip.open(top / "b" / "deeper" / "logs.jsonl.gz", "wb") as f:
        f.write((FIXTURES / "openai_v2_events.logs.jsonl").read_bytes())
    shutil.copy(FIXTURES / "openinference.jsonl", top / "b" / "oi.json")
    (top / "package.json").write_text('{"name": "not traces"}')
    (top / "README.md").write_text("# notes\n")
    (top / ".git" / "config.json").write_text('{"core": {}}')
    (top / ".hidden.jsonl").write_text("garbage")
    return top


def test_a_directory_is_read_recursively_and_other_files_are_warnings(tmp_path: Path) -> None:
    top = _tree(tmp_path)
    traces = load_traces(top)
    assert sorted(s.id for s in traces) == ["oi-s1", "oi-s2", "v2-s1", "v2-s2"]
    assert shape(traces.session("v2-s1")) == WEATHER_HISTORY  # spans and logs, two folders
    assert shape(traces.session("oi-s1")) == WEATHER_HISTORY
    assert traces.paths == [str(top)]
    skipped = [(Path(w.path).name, w.message.split(":")[0]) for w in traces.warnings]
    assert skipped == [("README.md", "skipped"), ("package.json", "skipped")]
    assert "not OTLP trace data" in traces.warnings[1].message
    assert load_traces(top).warnings == traces.warnings  # the same order every time


def test_an_empty_directory_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    traces = load_traces(tmp_path / "empty")
    assert len(traces) == 0
    assert [str(w) for w in traces.warnings] == [
        f"{tmp_path / 'empty'}: directory holds no trace file"
    ]


def test_a_single_file_that_is_not_traces_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    path.write_text('{"name": "x"}')
    with pytest.raises(TraceFormatError, match="not OTLP trace data"):
        load_traces(path)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_dash_reads_standard_input(compress: bool) -> None:
    data = (FIXTURES / "openinference.jsonl").read_bytes()
    if compress:
        data = gzip.compress(data)
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_STDIN], input=data, capture_output=True, check=True
    )
    assert out.stdout.decode().strip() == "['oi-s1', 'oi-s2'] ['<stdin>'] []"


def test_binary_standard_input_is_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_STDIN], input=b"\x00\x01binary", capture_output=True
    )
    assert out.returncode == 1
    assert b"TraceFormatError: <stdin>:1: binary input, not OTLP JSON" in out.stderr


def test_sources_of_every_kind_load_as_one_input(tmp_path: Path) -> None:
    """A file, a directory and documents together: sessions may span them."""
    import orjson

    logs = [
        orjson.loads(x)
        for x in (FIXTURES / "openai_v2_events.logs.jsonl").read_bytes().splitlines()
    ]
    (tmp_path / "d").mkdir()
    shutil.copy(FIXTURES / "openinference.jsonl", tmp_path / "d" / "oi.jsonl")
    traces = load_traces(FIXTURES / "openai_v2_events.jsonl", tmp_path / "d", iter(logs))
    assert shape(traces.session("v2-s1")) == WEATHER_HISTORY
    assert "oi-s1" in traces
