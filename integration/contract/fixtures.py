"""Seeds what one Schemathesis run of integration/contract/run.sh starts from, through the CMS gateway, and
prints it as MEDIAMESH_CONTRACT_KNOWN ("kind=value" pairs separated by commas) for hooks.py.

A random id names nothing, and the few things a run creates are soon archived, deleted or purged by
the run itself, so without fixtures the success paths that need an item in a given state (a draft to
publish, a soft-deleted item to purge, an open program to add an episode to, a published program and
episodes for the public side, a ready asset to refer to, an unused refresh token, an API key, a
program and an episode to write metadata for) are reached by chance or not at all. Each kind below is one such state;
hooks.py points part of the positive requests of the operations that need it at these items, and
drops an item from its pool once an operation succeeded on it.

Usage: python3 fixtures.py BASE_URL ADMIN_TOKEN SLUG SESSION_EMAIL SESSION_PASSWORD
"""
import json
import struct
import sys
import urllib.error
import urllib.request
import uuid
import zlib

DRAFTS = 8  # draft programs to publish, draft episodes to publish
DELETED = 6  # soft-deleted programs and episodes to purge
SESSIONS = 6  # refresh tokens (each is single use)
API_KEYS = 4  # API keys to exchange, and API keys to read, rotate and revoke
SOURCES = 3  # ingest sources to read, change, run and delete


def png():
    """A valid 1x1 PNG: media sniffs the type from the bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


class Client:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None, content_type="application/json", auth=True):
        headers = {"Content-Type": content_type} if body is not None else {}
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise SystemExit(f"fixtures: {method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}")
        return json.loads(raw) if raw else None

    def program(self, slug):
        return self.call("POST", "/api/v1/cms/programs", {"kind": "show", "title": "Contract " + slug, "slug": slug, "language": "en"})["id"]

    def episode(self, program, number):
        return self.call("POST", f"/api/v1/cms/programs/{program}/episodes",
                         {"episode_number": number, "title": "Contract episode", "language": "en"})["id"]

    def upload(self):
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cover.png\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + png() + f"\r\n--{boundary}--\r\n".encode()
        return self.call("POST", "/api/v1/media/assets", body, "multipart/form-data; boundary=" + boundary)["id"]


def main(argv):
    if len(argv) != 6:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    base, token, slug, email, password = argv[1:]
    c = Client(base.rstrip("/"), token)
    pairs = []
    # Anything the fuzzer may change or take down: a program with three episodes.
    program = c.program(slug)
    pairs.append(("programId", program))
    pairs += [("episodeId", c.episode(program, n)) for n in (1, 2, 3)]
    # A program only createEpisode is pointed at, so it stays open for new episodes.
    pairs.append(("openProgramId", c.program(slug + "-open")))
    pairs += [("draftProgramId", c.program(f"{slug}-draft-{n}")) for n in range(DRAFTS)]
    drafts = c.program(slug + "-drafts")
    pairs += [("draftEpisodeId", c.episode(drafts, n + 1)) for n in range(DRAFTS)]
    for n in range(DELETED):
        deleted = c.program(f"{slug}-deleted-{n}")
        c.call("DELETE", f"/api/v1/cms/programs/{deleted}")
        pairs.append(("deletedProgramId", deleted))
    holder = c.program(slug + "-deleted-episodes")
    for n in range(DELETED):
        episode = c.episode(holder, n + 1)
        c.call("DELETE", f"/api/v1/cms/episodes/{episode}")
        pairs.append(("deletedEpisodeId", episode))
    # A published program with published episodes, for the discovery operations that need one
    # (more like this, follow, engagement events); only they are pointed at it.
    public = c.program(slug + "-public")
    public_episodes = [c.episode(public, n) for n in (1, 2)]
    c.call("POST", f"/api/v1/cms/programs/{public}/publish?with_episodes=true")
    pairs.append(("publishedProgramId", public))
    pairs += [("publishedEpisodeId", e) for e in public_episodes]
    pairs.append(("readyAssetId", c.upload()))
    # A program and an episode whose metadata putMetadata is pointed at (with their content_type),
    # and the version reads (contentId); the public program too, so that a PUT reaches discovery.
    meta = c.program(slug + "-metadata")
    meta_episode = c.episode(meta, 1)
    pairs += [("metadataProgramId", meta), ("metadataProgramId", public), ("metadataEpisodeId", meta_episode)]
    # The same two again, in pools no other operation is pointed at (so never deleted by the run).
    pairs += [("metadataOwnProgramId", meta), ("metadataOwnEpisodeId", meta_episode)]
    pairs += [("contentId", meta), ("contentId", meta_episode), ("contentId", public)]
    # Ingest sources (disabled, at a name that does not resolve, which ingest accepts and never
    # fetches on its own) for the source and run operations: a drawn source is nearly always
    # refused (422), so without them getSource, updateSource, deleteSource, triggerIngestRun and
    # the run reads are reached only after one of the rare creates that pass.
    for n in range(SOURCES):
        pairs.append(("sourceId", c.call("POST", "/api/v1/ingest/sources", {
            "name": f"Contract {slug} feed {n}", "type": "rss", "url": f"https://feeds.example.com/{slug}-{n}.xml", "enabled": False,
            "target": {"default_kind": "podcast", "default_language": "en"}})["id"]))
    # API keys: some whose secrets exchangeApiKey is pointed at, others whose ids getApiKey,
    # rotateApiKey and revokeApiKey are (a revoked key's secret no longer exchanges).
    for n in range(API_KEYS):
        key = c.call("POST", "/api/v1/auth/api-keys", {"name": f"{slug} exchange {n}", "scopes": ["account:read"]})
        pairs.append(("apiKey", key["key"]))
        pairs.append(("apiKeyId", c.call("POST", "/api/v1/auth/api-keys", {"name": f"{slug} managed {n}", "scopes": ["account:read"]})["id"]))
    for _ in range(SESSIONS):
        session = c.call("POST", "/api/v1/auth/login", {"email": email, "password": password}, auth=False)
        pairs.append(("refreshToken", session["refresh_token"]))
    print(",".join(f"{kind}={value}" for kind, value in pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
