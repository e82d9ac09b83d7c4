-- The schema of conflict_runtime::store::PgStore and PgKeys. PgStore::migrate
-- runs this file; it is safe to run again. Tables live in the connection's
-- search_path.

-- One row per resource. `state` and `version` are the truth: a move changes
-- them in one conditional UPDATE. `body` is the rest of the resource.
CREATE TABLE IF NOT EXISTS conflict_resources (
    kind           text   NOT NULL,
    id             bigint NOT NULL,
    state          text   NOT NULL,
    previous_state text,
    version        bigint NOT NULL,
    body           jsonb  NOT NULL,
    PRIMARY KEY (kind, id)
);

-- Server-assigned ids.
CREATE SEQUENCE IF NOT EXISTS conflict_resource_ids;

-- Every committed move, written by the same statement as the move.
CREATE TABLE IF NOT EXISTS conflict_history (
    kind        text        NOT NULL,
    id          bigint      NOT NULL,
    version     bigint      NOT NULL,
    from_state  text        NOT NULL,
    to_state    text        NOT NULL,
    action      text,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text,
    reason      text,
    metadata    jsonb,
    PRIMARY KEY (kind, id, version)
);
-- Added after the first release: databases migrated before gain them here.
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS actor text;
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS reason text;
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS metadata jsonb;

-- Idempotency keys and the answers kept for replay.
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
