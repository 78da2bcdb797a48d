-- Events a consumer has applied, recorded in the same transaction as their effect.
CREATE TABLE inbox (
    consumer     TEXT   NOT NULL,
    event_id     TEXT   NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
