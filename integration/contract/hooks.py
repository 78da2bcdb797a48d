"""Schemathesis hooks and checks for the MediaMesh contract tests (loaded through SCHEMATHESIS_HOOKS by
integration/contract/run.sh for every run).

- before_call edits only positive cases of the fuzzing and stateful phases (see the comment there).
  It gives every request that carries a schema-valid Idempotency-Key a fresh one,
  so the fuzzer never replays a create by key (a replay returns the first response, even for a
  resource deleted since, which ensure_resource_availability would read as "created resource not
  found"). Negative cases are sent as generated: they must still be refused.
- before_call also moves half the schema-valid `publish_at` instants it sees (publishProgram,
  publishEpisode) into the window the contract allows, between a minute and 300 days from now: the
  schema cannot say "in the future, at most 366 days ahead", so a generated instant is nearly always
  refused with 422 and scheduling would never be reached. The other half still tests the refusal.
- before_call also gives half the schema-valid language codes it sees (`language`,
  `target.default_language`) one the platform knows ($MEDIAMESH_CONTRACT_LANGUAGES, from
  listLanguages): any two letters fit the schema, but an installation knows a handful, so a
  generated code is nearly always refused with 422, and with it nearly every create.
- before_call also points half the positive requests at things that exist: the ids that creates of
  this run answered (after_call keeps them, and the refresh tokens logins answered) replace the path
  parameters and reference fields (category_id, cover_asset_id, ...) the fuzzer drew, and a
  refresh_token, and an API key to exchange (api_key; fixtures.py's, or one createApiKey or
  rotateApiKey answered). A random id names nothing (404, or 422 for a reference), so without this the
  operations on an item are reached only at the end of a chain of links the stateful phase seldom
  completes.
- before_call also gives the operations that need an item in a given state (a draft to publish, a
  soft-deleted item to purge, an open program to add episodes to) an item of that state for half
  their positive requests, from the pools fixtures.py seeded (FIXTURES), without the If-Match the
  fuzzer drew (it never names the item's version); an item leaves its pool once an operation
  succeeded on it. References to assets point at a ready asset, and half the uploads
  carry a real PNG (random bytes are refused with 415, the contract): without these, the run's own
  items are archived, deleted or purged early and those success paths are reached by chance
  (map_body puts the PNG in as the body is drawn, and shows an image drawn with attach_as cover or
  thumbnail on a program or episode that exists).
- before_call also keeps the fuzzer away from the accounts the runs use ($MEDIAMESH_CONTRACT_KEEP_USERS,
  ids separated by commas): a userId path parameter naming one becomes a random id (404). Otherwise
  an ADMIN run finds its own id (listUsers) and changes its own roles, which ends its token (a
  token stops working when its account's rights change) and every later request gets 401.
- before_call also points three in four positive putMetadata requests at a program or an episode that
  exists (fixtures.py's metadataProgramId, metadataEpisodeId, or one this run created), with the
  content_type it has and without the fields that type lacks or the read-only publish_date: the CMS
  owns a content item's descriptive fields and the metadata service accepts metadata only for content
  that exists, with its type (a drawn id is 422, a drawn type 409), so without this a PUT would never
  succeed. getMetadata and the version reads are pointed at the same items (contentId), and half
  the version reads at version 1, which every item has.
- metadata_agrees (REST): after a successful write of a content item's descriptive fields
  (putMetadata, updateProgram, updateEpisode), every read of that item agrees within 2 s: the CMS
  read, the metadata read and, for published content, discovery's read show the same title,
  description (the CMS summary), category, language, tags, duration, extra and publish date.
- after_call writes one line per request (run, operationId, status) to $MEDIAMESH_CONTRACT_COUNTS;
  integration/contract/coverage.py turns them into the per-operation table of cases and 2xx. A
  GraphQL request is counted under its root field (Query.myFeed, Mutation.followProgram) as 200 when
  the answer has data and no error, else as its first error's code (UNAUTHENTICATED, NOT_FOUND...).
- before_call also points half the positive followProgram and unfollowProgram mutations of the
  signed-in GraphQL run at a published program (publishedProgramId in $MEDIAMESH_CONTRACT_KNOWN):
  a drawn id names nothing (NOT_FOUND), so following would never succeed.
- role_allowed (REST, runs with $MEDIAMESH_CONTRACT_ROLE set): a token of that role gets no 2xx from
  an operation whose x-roles does not list the role, only the documented 401/403; no answer is a 5xx.
- graphql_classified_errors replaces Schemathesis's not_a_server_error for GraphQL, which counts every
  resolver error as a server failure. MediaMesh classifies each GraphQL error with extensions.code, so
  the check can tell an honest answer from a failure: the HTTP status must be below 500, and every
  error must carry one of the codes below. INTERNAL (a panic or an unexpected error) or an
  unclassified resolver error fails the run. NOT_IMPLEMENTED is the GraphQL twin of REST's 501 for
  fields a later release fills.
"""
import datetime
import json
import os
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import schemathesis
from schemathesis.transport.serialization import Binary

from fixtures import png

PNG = png()

ALLOWED_CODES = {
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "NOT_IMPLEMENTED",
    "UNAUTHENTICATED",  # the personal fields and mutations (myFeed, followProgram, ...) without a token
    "FORBIDDEN",
    "RATE_LIMITED",
    "UNAVAILABLE",
    "COMPLEXITY_LIMIT_EXCEEDED",
    "DEPTH_LIMIT_EXCEEDED",
    "PERSISTED_QUERY_NOT_FOUND",
}

# common.yaml#/components/parameters/IdempotencyKey
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
# common.yaml#/components/schemas/LanguageCode
LANGUAGE = re.compile(r"^[a-z]{2}$")

_counts_lock = threading.Lock()
# The hooks' own coin: Hypothesis seeds the global `random` afresh for every case it generates, so
# random.random() gave every case the same draw (one operation's requests were all pointed at the
# same kind of item, or none were).
_rng = random.Random()

# What creates answered in this run, by the path parameter that names it.
CREATED_BY = {
    "createProgram": "programId",
    "createEpisode": "episodeId",
    "createSource": "sourceId",
    "triggerIngestRun": "runId",
    "uploadAsset": "assetId",
    "createUploadSession": "assetId",
    "createCategory": "categoryId",
    "createUser": "userId",
    "registerUser": "userId",
    "createApiKey": "apiKeyId",
}
# Creates whose items also have metadata (contentId), and the pool of their type.
CONTENT_POOLS = {"createProgram": "metadataProgramId", "createEpisode": "metadataEpisodeId"}
# Body fields that refer to such things.
REFERENCES = {
    "program_id": "programId",
    "category_id": "categoryId",
    "parent_id": "categoryId",
    "default_category_id": "categoryId",
    "cover_asset_id": "assetId",
    "media_asset_id": "assetId",
    "thumbnail_asset_id": "assetId",
}
# Operations that succeed only on an item in a given state: the path parameter and the pool of
# fixtures.py that holds such items. The pools named in CONSUMED lose an item once an operation
# succeeded on it (it is published, or gone).
FIXTURES = {
    "createEpisode": ("programId", "openProgramId"),
    "publishProgram": ("programId", "draftProgramId"),
    "publishEpisode": ("episodeId", "draftEpisodeId"),
    "purgeProgram": ("programId", "deletedProgramId"),
    "purgeEpisode": ("episodeId", "deletedEpisodeId"),
    "listSimilarPrograms": ("programId", "publishedProgramId"),
    "followProgram": ("programId", "publishedProgramId"),
    "listSimilarEpisodes": ("episodeId", "publishedEpisodeId"),
    # v2's reads of one program or episode (the v1 ones reach theirs through the stateful links).
    "getProgramV2": ("programId", "publishedProgramId"),
    "listProgramEpisodesV2": ("programId", "publishedProgramId"),
    "getEpisodeV2": ("episodeId", "publishedEpisodeId"),
    # Changes of a program's or episode's descriptive fields (metadata_agrees then reads them).
    "updateProgram": ("programId", "metadataProgramId"),
    "updateEpisode": ("episodeId", "metadataEpisodeId"),
}
CONSUMED = {"draftProgramId", "draftEpisodeId", "deletedProgramId", "deletedEpisodeId"}
# Seeded by run.sh ($MEDIAMESH_CONTRACT_KNOWN, "kind=id" pairs separated by commas, such as
# episodeId=...; refreshToken=... for a session of an account the fuzzer does not know; fixtures.py).
_known = {}
_refresh_tokens = []
for _pair in filter(None, os.environ.get("MEDIAMESH_CONTRACT_KNOWN", "").split(",")):
    _kind, _, _value = _pair.partition("=")
    if _kind == "refreshToken":
        _refresh_tokens.append(_value)
    elif _value:
        _known.setdefault(_kind, []).append(_value)
_known_lock = threading.Lock()
# The seeded ids alone, which stay the same for the whole run (map_body's choices must not change
# when a case is drawn again).
_SEEDED = {kind: list(ids) for kind, ids in _known.items()}
# uploadAsset's attach_as: the content type it goes with and the seeded pool of such content.
# (Not the metadataOwn* items: a change there moves the CMS version under putMetadata's If-Match.)
ATTACH_TARGETS = {"cover": ("program", "openProgramId"), "thumbnail": ("episode", "publishedEpisodeId")}


def _known_id(kind):
    with _known_lock:
        ids = _known.get(kind)
        return _rng.choice(ids) if ids else None


def _point_at_known(case):
    op = _operation_id(case)
    params = case.path_parameters
    if params:
        fixture = FIXTURES.get(op)
        for name in list(params):
            if fixture and fixture[0] == name and _rng.random() < 0.5:
                known = _known_id(fixture[1])
                if known:
                    params[name] = known
                    # An If-Match the fuzzer drew never names the item's version (412).
                    for header in [h for h in (case.headers or {}) if h.lower() == "if-match"]:
                        del case.headers[header]
                    continue
            known = _known_id(name)
            if known and _rng.random() < 0.5:
                params[name] = known
    body = case.body
    if not isinstance(body, dict):
        return
    for holder in (body, body.get("target")):
        if not isinstance(holder, dict):
            continue
        for field, kind in REFERENCES.items():
            if isinstance(holder.get(field), str):
                known = (kind == "assetId" and _known_id("readyAssetId")) or _known_id(kind)
                if known and _rng.random() < 0.5:
                    holder[field] = known
    # recordEngagement: half the events drawn become events about a published episode that the
    # service counts (an episode, no client clock that may be in the future).
    for event in body.get("events") if isinstance(body.get("events"), list) else []:
        known = _known_id("publishedEpisodeId")
        if isinstance(event, dict) and known and _rng.random() < 0.5:
            event.update(content_type="episode", content_id=known)
            event.pop("occurred_at", None)
            if event.get("type") == "view":
                event.pop("position_seconds", None)
    # exchangeApiKey: half the keys drawn become a key that exists (fixtures.py, or made in this run).
    if isinstance(body.get("api_key"), str) and _rng.random() < 0.5:
        known = _known_id("apiKey")
        if known:
            body["api_key"] = known
    # createApiKey: half the keys drawn ask for a scope every role holds, with no expiry, ranges or
    # owner: drawn scopes are mostly ones the caller does not hold, drawn instants mostly past and
    # drawn owners unknown, each refused with 422 or 404.
    if _operation_id(case) == "createApiKey" and isinstance(body.get("scopes"), list) and _rng.random() < 0.5:
        body["scopes"] = ["account:read"]
        for field in ("expires_at", "allowed_cidrs", "owner_id"):
            body.pop(field, None)
    if isinstance(body.get("refresh_token"), str) and _rng.random() < 0.5:
        with _known_lock:
            if _refresh_tokens:
                body["refresh_token"] = _refresh_tokens.pop(_rng.randrange(len(_refresh_tokens)))


def _point_metadata_at_known(case):
    """putMetadata: half the positive requests name a program or an episode that exists, with the
    body that type can have."""
    if _operation_id(case) != "putMetadata" or not isinstance(case.body, dict) or _rng.random() >= 0.75:
        return
    kind = _rng.choice(["program", "episode"])
    # Half of them name the fixture's own program or episode, which no other operation is pointed at:
    # the shared pools also hold items that the run's deletes may have soft-deleted (409).
    own = _rng.random() < 0.5
    known = _known_id(("metadataOwn" if own else "metadata") + ("ProgramId" if kind == "program" else "EpisodeId"))
    if not known:
        return
    case.path_parameters["contentId"] = known
    body = case.body
    body["content_type"] = kind
    body.pop("publish_date", None)  # set by publishing in the CMS
    for field in (("duration_seconds",) if kind == "program" else ("category_id", "tags")):
        body.pop(field, None)
    # What no schema says: a language the platform knows, a category that exists, each extra key once.
    languages = [code for code in os.environ.get("MEDIAMESH_CONTRACT_LANGUAGES", "").split(",") if code]
    if languages:
        body["language"] = _rng.choice(languages)
    if "category_id" in body:
        category = _known_id("categoryId")
        if category:
            body["category_id"] = category
        else:
            body.pop("category_id")
    if isinstance(body.get("extra"), list):
        seen = set()
        body["extra"] = [e for e in body["extra"] if isinstance(e, dict) and e.get("key") not in seen and not seen.add(e.get("key"))]
    for header in [h for h in (case.headers or {}) if h.lower() == "if-match"]:
        del case.headers[header]  # a drawn If-Match never names the item's version (412)
    if own and _rng.random() < 0.7:
        # And most of those keep only the required fields, with values the CMS accepts: a drawn
        # title, free text, tag, extra attribute, duration or category (one the run may have
        # deleted) is refused often enough (422) that a run could end without a 2xx.
        body["title"] = f"Contract metadata {_rng.randrange(10**6)}"
        for field in ("description", "tags", "extra", "category_id", "duration_seconds"):
            body.pop(field, None)


def _point_versions_at_known(case):
    """The version reads of an item that exists: half name version 1, which every item has (its
    creation in the CMS), instead of a drawn number."""
    op = _operation_id(case)
    if op not in ("diffMetadataVersions", "getMetadataVersion") or _rng.random() >= 0.5:
        return
    known = _known_id("contentId")
    if not known:
        return
    case.path_parameters["contentId"] = known
    if op == "getMetadataVersion":
        case.path_parameters["version"] = 1
    elif isinstance(case.query, dict):
        case.query["from"], case.query["to"] = 1, 1


def _operation_id(case):
    raw = getattr(getattr(case.operation, "definition", None), "raw", None)
    return raw.get("operationId") if isinstance(raw, dict) else None


def _graphql_field(case):
    """The root field a GraphQL case asks for (Query.myFeed, Mutation.followProgram), else None."""
    label = getattr(case.operation, "label", "") or ""
    return label if _operation_id(case) is None and label.startswith(("Query.", "Mutation.")) else None


# The id argument of a follow mutation in a drawn GraphQL document.
_FOLLOW_ID = re.compile(r'((?:followProgram|unfollowProgram)\s*\(\s*id\s*:\s*)"(?:[^"\\]|\\.)*"')


def _point_follow_at_known(case):
    """Half the follow and unfollow mutations name a published program (see the module doc)."""
    programs = _SEEDED.get("publishedProgramId")
    if not programs or not isinstance(case.body, str) or _rng.random() >= 0.5:
        return
    case.body = _FOLLOW_ID.sub(lambda m: m.group(1) + json.dumps(_rng.choice(programs)), case.body, count=1)


def _graphql_outcome(response):
    """200 for an answer with data and no error; else the first error's code, or the HTTP status."""
    try:
        payload = response.json()
    except ValueError:
        return str(response.status_code) if response.status_code >= 300 else "not-json"
    if not isinstance(payload, dict):
        return "not-an-object"
    errors = payload.get("errors") or []
    if errors:
        return str((errors[0].get("extensions") or {}).get("code") or "error") if isinstance(errors[0], dict) else "error"
    if response.status_code != 200 or payload.get("data") is None:
        return str(response.status_code) if response.status_code != 200 else "no-data"
    return "200"


@schemathesis.hook
def map_body(context, body):
    """Half the uploads drawn carry a real PNG: random bytes are refused with 415 (the contract).
    This happens as the body is drawn, not in before_call: Schemathesis judges an edited body
    that holds binary data to be invalid, and would then expect the upload's 201 to be a refusal.
    The choice follows the drawn bytes (their length), so a case drawn again is the same case."""
    raw = getattr(getattr(context.operation, "definition", None), "raw", None)
    if not isinstance(raw, dict) or raw.get("operationId") != "uploadAsset" or not isinstance(body, dict):
        return body
    drawn = body.get("file")
    data = drawn.data if isinstance(drawn, Binary) else drawn
    if isinstance(data, bytes) and len(data) % 2 == 0:
        body = dict(body, file=Binary(PNG))
        # An image with attach_as cover or thumbnail is shown on a program or episode fixtures.py
        # made: a drawn id names nothing (422), so attach_as would never reach the CMS's change.
        target = ATTACH_TARGETS.get(body.get("attach_as"))
        if target and _SEEDED.get(target[1]):
            body.update(attach_content_type=target[0], attach_content_id=_SEEDED[target[1]][0])
    return body


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """importContent's body: the contract describes its lines as an array (ImportLines), sent one
    JSON value a line; anything else the fuzzer draws is sent as one line."""
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode()


@schemathesis.hook
def before_call(context, case, kwargs):
    keep = set(filter(None, os.environ.get("MEDIAMESH_CONTRACT_KEEP_USERS", "").split(",")))
    params = case.path_parameters
    if keep and params and str(params.get("userId")) in keep:
        params["userId"] = str(uuid.uuid4())
    meta = case.meta
    phase = type(meta.phase.data).__name__ if meta is not None else ""
    if meta is None or meta.generation.mode.is_negative or phase not in ("FuzzingPhaseData", "StatefulPhaseData"):
        # Sent as generated: an edit makes Schemathesis revalidate the case, which goes wrong for
        # negative cases (one that drops the Authorization header is then sent with it) and for the
        # coverage phase's cases (an edited example is then judged against another scenario's schema).
        return
    if _graphql_field(case) in ("Mutation.followProgram", "Mutation.unfollowProgram"):
        _point_follow_at_known(case)
        return
    if phase != "StatefulPhaseData":  # the stateful phase's ids come from the links, which its checks rely on
        _point_at_known(case)
        _point_metadata_at_known(case)
        _point_versions_at_known(case)
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("publish_at"), str) and _rng.random() < 0.5:
        try:
            datetime.datetime.fromisoformat(body["publish_at"].replace("Z", "+00:00"))
        except ValueError:
            pass  # not an instant: a negative case, sent as generated
        else:
            ahead = datetime.timedelta(seconds=_rng.randint(60, 300 * 86400))
            when = datetime.datetime.now(datetime.timezone.utc) + ahead
            body["publish_at"] = when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    languages = [code for code in os.environ.get("MEDIAMESH_CONTRACT_LANGUAGES", "").split(",") if code]
    for item in body if isinstance(body, list) else [body]:  # importContent's lines are items too
        if not (languages and isinstance(item, dict)):
            continue
        for holder in (item, item.get("target")):
            if isinstance(holder, dict):
                for field in ("language", "default_language"):
                    value = holder.get(field)
                    if isinstance(value, str) and LANGUAGE.match(value) and _rng.random() < 0.5:
                        holder[field] = _rng.choice(languages)
    headers = case.headers
    if not headers:
        return
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and IDEMPOTENCY_KEY.match(value):
            headers[name] = str(uuid.uuid4())


@schemathesis.hook
def after_call(context, case, response):
    op = _operation_id(case)
    if 200 <= response.status_code < 300 and op in FIXTURES and FIXTURES[op][1] in CONSUMED:
        name, pool = FIXTURES[op]
        with _known_lock:
            if str(case.path_parameters.get(name)) in _known.get(pool, []):
                _known[pool].remove(str(case.path_parameters[name]))
    if 200 <= response.status_code < 300 and op in CREATED_BY or op in ("login", "refreshToken", "rotateApiKey"):
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            with _known_lock:
                if op in CREATED_BY and isinstance(payload.get("id"), str):
                    _known.setdefault(CREATED_BY[op], []).append(payload["id"])
                    if op in CONTENT_POOLS:
                        _known.setdefault(CONTENT_POOLS[op], []).append(payload["id"])
                        _known.setdefault("contentId", []).append(payload["id"])
                if op in ("createApiKey", "rotateApiKey") and isinstance(payload.get("key"), str):
                    _known.setdefault("apiKey", []).append(payload["key"])
                if op in ("login", "refreshToken") and isinstance(payload.get("refresh_token"), str):
                    _refresh_tokens.append(payload["refresh_token"])
    path = os.environ.get("MEDIAMESH_CONTRACT_COUNTS")
    field = _graphql_field(case)
    if not path or not (op or field):
        return
    outcome = _graphql_outcome(response) if field else response.status_code
    line = f"{os.environ.get('MEDIAMESH_CONTRACT_RUN', '-')}\t{op or field}\t{outcome}\n"
    with _counts_lock, open(path, "a", encoding="utf-8") as f:
        f.write(line)


@schemathesis.check
def role_allowed(ctx, response, case):
    """A role outside the operation's x-roles gets 401/403, never 2xx; nothing answers 5xx."""
    role = os.environ.get("MEDIAMESH_CONTRACT_ROLE")
    raw = getattr(getattr(case.operation, "definition", None), "raw", None)
    if not role or not isinstance(raw, dict):
        return None
    status = response.status_code
    if status >= 500:
        raise AssertionError(f"{role} token: HTTP {status} from {raw.get('operationId')}")
    roles = raw.get("x-roles")
    if roles is None or role in roles:
        return None
    if str(case.method).upper() != str(case.operation.method).upper():
        return None  # a method the path does not have (405), which unsupported_method judges
    if 200 <= status < 300:
        raise AssertionError(
            f"{role} token got HTTP {status} from {raw.get('operationId')}, which is for {', '.join(roles)} only"
        )
    if status not in (401, 403):
        raise AssertionError(
            f"{role} token got HTTP {status} from {raw.get('operationId')} (for {', '.join(roles)} only); "
            "expected the documented 401 or 403"
        )
    return None


@schemathesis.check
def graphql_classified_errors(ctx, response, case):
    """GraphQL answers are never 5xx and every error carries a known extensions.code."""
    if _operation_id(case) is not None:  # an OpenAPI operation: not GraphQL
        return None
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


# The descriptive fields every read of a content item must agree on.
_DESCRIPTIVE_WRITES = {"putMetadata": "contentId", "updateProgram": "programId", "updateEpisode": "episodeId"}


def _get(base, path, auth):
    """GET base+path: (status, JSON body or None)."""
    req = urllib.request.Request(base + path, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def _cms_view(kind, item):
    """What the CMS read says of the descriptive fields, as the metadata API names them."""
    published = item.get("scheduled_publish_at") if item.get("status") == "scheduled" else item.get("published_at")
    view = {
        "title": item.get("title"), "description": item.get("summary") or None, "language": item.get("language"),
        "extra": item.get("extra") or [], "publish_date": _instant(published),
    }
    if kind == "program":
        view.update(category_id=item.get("category_id"), tags=item.get("tags") or [])
    else:
        view.update(duration_seconds=item.get("duration_seconds"))
    return view


def _metadata_view(kind, m):
    view = {
        "title": m.get("title"), "description": m.get("description") or None, "language": m.get("language"),
        "extra": m.get("extra") or [], "publish_date": _instant(m.get("publish_date")),
    }
    if kind == "program":
        view.update(category_id=m.get("category_id"), tags=m.get("tags") or [])
    else:
        view.update(duration_seconds=m.get("duration_seconds"))
    return view


def _instant(value):
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)
    except ValueError:
        return value


@schemathesis.check
def metadata_agrees(ctx, response, case):
    """After a successful write of a content item's descriptive fields, the CMS read, the metadata
    read and (published content) discovery's read agree within 2 s."""
    op = _operation_id(case)
    if op not in _DESCRIPTIVE_WRITES or not 200 <= response.status_code < 300 or os.environ.get("MEDIAMESH_CONTRACT_ROLE"):
        return None
    item_id = str((case.path_parameters or {}).get(_DESCRIPTIVE_WRITES[op]))
    try:
        written = response.json()
    except ValueError:
        return None
    kind = {"updateProgram": "program", "updateEpisode": "episode"}.get(op) or (written or {}).get("content_type")
    parts = urllib.parse.urlsplit(response.request.url)
    base = f"{parts.scheme}://{parts.netloc}"
    auth = response.request.headers.get("Authorization")
    discovery = os.environ.get("MEDIAMESH_CONTRACT_DISCOVERY_URL")
    cms_path = f"/api/v1/cms/{kind}s/{item_id}"
    deadline = time.monotonic() + 2
    while True:
        status, item = _get(base, cms_path, auth)
        if status == 404 or (item or {}).get("deleted_at"):
            return None  # purged or deleted meanwhile: nothing left to agree on
        m_status, m = _get(base, f"/api/v1/metadata/items/{item_id}", auth)
        views = {}
        if status == 200 and m_status == 200:
            views = {"cms": _cms_view(kind, item), "metadata": _metadata_view(kind, m)}
            if discovery and kind == "program" and item.get("status") == "published":
                d_status, d = _get(discovery, f"/api/v1/discovery/programs/{item_id}", None)
                if d_status == 200:
                    views["discovery"] = {
                        "title": d.get("title"), "description": d.get("summary") or None, "language": d.get("language"),
                        "category_id": (d.get("category") or {}).get("id"),
                        "tags": d.get("tags") or [],
                    }
        if views and all(
            all(v.get(k) == views["cms"].get(k) for k in v) for v in views.values()
        ):
            return None
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{op} {item_id} answered {response.status_code}, but 2 s later the reads disagree: "
                + json.dumps({name: {k: str(x) for k, x in v.items()} for name, v in views.items()}, ensure_ascii=False)
                + f" (CMS {status}, metadata {m_status})"
            )
        time.sleep(0.05)
