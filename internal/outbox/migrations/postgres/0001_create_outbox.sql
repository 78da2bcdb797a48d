-- The transactional outbox: events written in the same transaction as the change they describe,
-- published later by the relay in id order.
CREATE TABLE outbox (
    id           BIGSERIAL   PRIMARY KEY,
    event_id     TEXT        NOT NULL UNIQUE,
    topic        TEXT        NOT NULL,
    aggregate_id TEXT        NOT NULL,               -- the message key
    event_type   TEXT        NOT NULL,
    payload      BYTEA       NOT NULL,               -- Avro single-object encoding
    headers      TEXT        NOT NULL DEFAULT '{}',  -- JSON object of string values
    occurred_at  TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    last_error   TEXT
);

-- The relay's scan: unsent rows in id order.
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;

-- Purging sent rows by age.
CREATE INDEX outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;
