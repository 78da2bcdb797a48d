-- OpenID Connect sign-in: the logins under way (state, stored as SHA-256, with the nonce and the
-- PKCE verifier it was started with) and the external identities linked to users. Times are Unix
-- milliseconds.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    provider   TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE user_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
