-- API keys (only the SHA-256 of a secret is stored; a rotation keeps the previous one until
-- previous_valid_until) and the scopes each role granted when the service last started, so that a
-- role that loses a scope revokes its older tokens. Times are Unix milliseconds.
CREATE TABLE api_keys (
    id                   TEXT PRIMARY KEY,
    owner_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    prefix               TEXT NOT NULL,
    secret_hash          TEXT NOT NULL UNIQUE,
    previous_hash        TEXT UNIQUE,
    previous_valid_until BIGINT,
    scopes               TEXT NOT NULL,
    allowed_cidrs        TEXT NOT NULL,
    expires_at           BIGINT,
    created_at           BIGINT NOT NULL,
    rotated_at           BIGINT,
    last_used_at         BIGINT,
    last_used_address    TEXT
);
CREATE INDEX api_keys_owner ON api_keys (owner_id, id);

CREATE TABLE role_scopes (
    role   TEXT PRIMARY KEY,
    scopes TEXT NOT NULL
);
