"""Schemathesis hooks for the MediaMesh contract tests (loaded through SCHEMATHESIS_HOOKS).

graphql_classified_errors replaces Schemathesis's not_a_server_error for GraphQL, which counts every
resolver error as a server failure. MediaMesh classifies each GraphQL error with extensions.code, so the
check can tell an honest answer from a failure: the HTTP status must be below 500, and every error must
carry one of the codes below. INTERNAL (a panic or an unexpected error) or an unclassified resolver
error fails the run. NOT_IMPLEMENTED is the GraphQL twin of REST's 501 for fields a later release fills.
"""
import schemathesis

ALLOWED_CODES = {
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "NOT_IMPLEMENTED",
    "RATE_LIMITED",
    "UNAVAILABLE",
    "COMPLEXITY_LIMIT_EXCEEDED",
    "DEPTH_LIMIT_EXCEEDED",
    "PERSISTED_QUERY_NOT_FOUND",
}


@schemathesis.check
def graphql_classified_errors(ctx, response, case):
    """GraphQL answers are never 5xx and every error carries a known extensions.code."""
    if response.status_code >= 500:
        raise AssertionError(f"GraphQL endpoint answered HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise AssertionError("GraphQL response is not JSON")
    if not isinstance(payload, dict):
        raise AssertionError("GraphQL response is not a JSON object")
    for error in payload.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in ALLOWED_CODES:
            raise AssertionError(f"GraphQL error without a known code ({code!r}): {error.get('message')}")
