"""Property-based fuzzing of the JSON API from its OpenAPI description
(Schemathesis): whatever a client sends, no 5xx, and every answer is what the
description says (status, content type, body schema).

Schemathesis's check that every schema-valid request succeeds is left out:
a filter value is checked against the catalogue (``office=zzz`` names no
office, ``since=2021-13`` is no date), so a well-formed request can rightly
get a 400, which the description lists."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from thb_search.web import create_app

#: Examples per operation and mode: well-formed requests and malformed ones
#: (3 operations with parameters, 2 modes: over 1,000 requests in all).
EXAMPLES = 180


def test_api_answers_as_described(bundled_index: Path) -> None:
    app = create_app(bundled_index)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    sent: dict[str, int] = {}
    try:
        for found, mode in product(schema.get_all_operations(), GenerationMode):
            operation = found.ok()
            if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
                continue  # nothing to get wrong
            fuzz(operation, mode, sent)
    finally:
        app.state.library.catalogue.close()
    assert sorted(sent) == ["GET /api/facets", "GET /api/publications/{rid}",
                            "GET /api/publications/{rid}/similar", "GET /api/search"]
    assert sum(sent.values()) >= 1000, sent


def fuzz(operation, mode: GenerationMode, sent: dict[str, int]) -> None:  # noqa: ANN001
    """Send one operation ``EXAMPLES`` generated requests, counting them in ``sent``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def answers(case) -> None:  # noqa: ANN001
        response = case.call()
        sent[operation.label] = sent.get(operation.label, 0) + 1
        if mode is GenerationMode.NEGATIVE and response.status_code < 400:
            return  # a malformed value that the API reads leniently (e.g. page=+1)
        assert response.status_code < 500, response.text
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    answers()
