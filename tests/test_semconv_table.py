"""Our attribute table against the OpenTelemetry semantic-conventions package.

The writer and reader use `definable_trace._semconv`'s own constants so that the library installs
beside any OpenTelemetry release; this test pins each standard name to the package's spelling,
where the installed package has it (older releases lack the newer GenAI names).
"""

from __future__ import annotations

import pytest

from definable_trace import _semconv as sc

gen_ai = pytest.importorskip("opentelemetry.semconv._incubating.attributes.gen_ai_attributes")


def test_every_gen_ai_name_matches_the_semconv_package() -> None:
    if not hasattr(gen_ai, "GEN_AI_PROVIDER_NAME"):  # e.g. 0.51b0, which SDK 1.30 pins
        pytest.skip("this opentelemetry-semantic-conventions predates the current GenAI names")
    ours = {name: value for name, value in vars(sc).items() if name.startswith("GEN_AI_")}
    assert len(ours) >= 30
    compared = 0
    for name, value in ours.items():
        theirs = getattr(gen_ai, name, None)
        if theirs is not None:
            assert value == theirs, name
            compared += 1
    assert compared >= len(ours) - 1  # only cache_write is newer than the package


def test_the_general_names_match_the_semconv_package() -> None:
    from opentelemetry.semconv._incubating.attributes import session_attributes, user_attributes
    from opentelemetry.semconv.attributes import error_attributes, server_attributes

    assert sc.SESSION_ID == session_attributes.SESSION_ID
    assert sc.USER_ID == user_attributes.USER_ID
    assert sc.ERROR_TYPE == error_attributes.ERROR_TYPE
    assert sc.SERVER_ADDRESS == server_attributes.SERVER_ADDRESS
    assert sc.SERVER_PORT == server_attributes.SERVER_PORT


def test_the_metric_names_match_the_semconv_package() -> None:
    from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

    assert sc.METRIC_OPERATION_DURATION == gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
    assert sc.METRIC_TOKEN_USAGE == gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
