"""Property-based run of Schemathesis against /openapi.json: no 5xx, responses match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Small and bounded: about 25 operations x this many examples, each a real HTTP request.
EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# The API server runs in a thread of this process, and psycopg_pool draws its connection jitter
# from the global `random`: Hypothesis sees that draw while it generates a case and warns as if the
# strategy used `random`. It says nothing about the strategies here.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_openapi_fuzz(client, world, tokens):
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    base_url = str(client.base_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for user in ("admin", "tech_a"):
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        for operation in operations:

            @given(case=operation.as_strategy(headers=headers))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base_url, checks=CHECKS)

            run()
