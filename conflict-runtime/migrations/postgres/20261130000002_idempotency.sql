-- conflict: idempotency keys and the answers kept for replay (`PgKeys`).
CREATE TABLE IF NOT EXISTS conflict_idempotency (
    scope       text        NOT NULL,
    key         text        NOT NULL,
    fingerprint bytea       NOT NULL,
    claimed_at  timestamptz NOT NULL,
    status      smallint,
    headers     jsonb,
    body        bytea,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS conflict_idempotency_claimed ON conflict_idempotency (claimed_at);
