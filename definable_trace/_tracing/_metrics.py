"""The GenAI client metrics: token usage and operation duration histograms.

Names and bucket boundaries are the semantic conventions' (the same advisory buckets as
`opentelemetry-util-genai`), so dashboards built for other GenAI instrumentations work as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.metrics import Meter

from .. import _semconv as sc

__all__ = ["GenAIInstruments"]

_DURATION_BUCKETS = [0.01 * 2**i for i in range(14)]  # 0.01 ... 81.92 s
_TOKEN_BUCKETS = [4**i for i in range(14)]  # 1 ... 67108864


class GenAIInstruments:
    """The two histograms every chat call records into."""

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            name=sc.METRIC_OPERATION_DURATION,
            description="GenAI operation duration",
            unit="s",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            name=sc.METRIC_TOKEN_USAGE,
            description="Measures number of input and output tokens used",
            unit="{token}",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )

    def record(
        self,
        attributes: Mapping[str, Any],
        duration: float,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> None:
        self.duration.record(duration, attributes)
        for kind, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None:
                self.tokens.record(count, {**attributes, sc.GEN_AI_TOKEN_TYPE: kind})
