"""Schemathesis against /api/schema/: generated requests with every kind of
credential (session, Token, Api-Key, Bearer connection token), with hostile
cursors, nesting, ranges and types mixed in; no 5xx, and every answer conforms
to the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client, override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from subscribers.models import ApiKey, Scope
from tests.security.test_bad_input import FORGED_CURSORS
from tests.subscribers.conftest import JWT_SECRET, claims_for, hs256

# Per operation and kind of credential; the whole run stays around a minute.
FUZZ_EXAMPLES_PER_OPERATION = 12
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
# Loaded anonymously: the schema is public for this load only (API_SCHEMA_PUBLIC).
with override_settings(API_SCHEMA_PUBLIC=True):
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/", get_wsgi_application()
    ).exclude(path=NOT_FUZZED)

# Values the schema does not describe but clients send: numbers past a float
# and past 64 bits, a number where a string belongs, nesting past the limit.
HOSTILE_VALUES = [10**400, -(10**400), 2**64, 5, 1.5, [[[[[[[[]]]]]]]] * 3, "[" * 40]
DEEP = {"a": [{"b": []}]}
for _ in range(20):
    DEEP = {"a": [DEEP]}  # 41 levels: past API_MAX_JSON_DEPTH
HOSTILE_VALUES.append(DEEP)


@schema.hook
def flatmap_query(context, query):
    """Sometimes a forged cursor, on the operations that page with one."""
    names = {p.name for p in context.operation.query} if context.operation else set()
    if "cursor" not in names:
        return st.just(query)
    forged = st.sampled_from(FORGED_CURSORS).map(
        lambda c: {**(query or {}), "cursor": c}
    )
    return st.one_of(st.just(query), forged)


@schema.hook
def flatmap_body(context, body):
    """Sometimes one field of a JSON object body replaced by a hostile value."""
    if not isinstance(body, dict) or not body:
        return st.just(body)
    hostile = st.tuples(st.sampled_from(sorted(body)), st.sampled_from(HOSTILE_VALUES))
    return st.one_of(st.just(body), hostile.map(lambda kv: {**body, kv[0]: kv[1]}))


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


@pytest.fixture
def credentials(fuzz_world, auth, settings) -> dict:
    """Headers and cookies of one kind of credential, made once per test."""
    staff = fuzz_world.users["staff"]
    settings.HUB_JWT_SECRET = JWT_SECRET
    if auth == "session":
        client = Client()
        client.force_login(staff)
        csrf = "c" * 32  # cookie and header agree, as a browser page's do
        return {
            "cookies": {
                "sessionid": client.cookies["sessionid"].value,
                "csrftoken": csrf,
            },
            "headers": {"X-CSRFToken": csrf},
        }
    if auth == "token":
        return {"headers": {"Authorization": f"Token {staff.auth_token.key}"}}
    if auth == "api_key":
        _, key = ApiKey.objects.create_key(name="fuzz", scopes=list(Scope.values))
        return {"headers": {"Authorization": f"Api-Key {key}"}}
    token = hs256(claims_for("fuzz-subscriber"))
    return {"headers": {"Authorization": f"Bearer {token}"}}


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.parametrize("auth", ["session", "token", "api_key", "bearer"])
def test_api__fuzzed_requests_conform_to_the_schema(case, credentials):
    case.call_and_validate(**credentials, checks=CHECKS)
