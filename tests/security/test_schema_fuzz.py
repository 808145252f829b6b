"""Schemathesis against /api/schema/: generated requests as a staff user, so the
write endpoints are exercised; no 5xx, and every answer conforms to the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Per operation; the whole fuzz run stays well under a minute.
FUZZ_EXAMPLES_PER_OPERATION = 25
# Not JSON API operations: the schema document itself and its HTML viewer.
NOT_FUZZED = ["/api/schema/", "/api/docs/"]
# What every answer must satisfy. Left out on purpose: the data-acceptance checks
# (a valid-looking topic "0" that does not exist is rightly a 400; DRF reads 0/1
# as booleans by design) and the auth-replay checks (the token rides on every
# request; tests/security/test_matrix.py covers who may do what).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Loaded at collection: the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).exclude(
    path=NOT_FUZZED
)


@pytest.fixture
def fuzz_world(world, isolated_cache, settings):
    settings.API_WRITE_RATE = "1000000/min"  # the fuzzer is not a flood test
    # Requests go through the WSGI handler in this thread; like Django's test
    # client, keep it from closing the test's connection (and transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield world
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api__fuzzed_requests_conform_to_the_schema(case, fuzz_world):
    world = fuzz_world
    token = world.users["staff"].auth_token.key
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
