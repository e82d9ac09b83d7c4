-- conflict: the history of committed moves, written by each move's own
-- statement. `id` is the resource's key as text, whatever its type.
CREATE TABLE IF NOT EXISTS conflict_history (
    kind        text        NOT NULL,
    id          text        NOT NULL,
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
-- Databases set up by releases before migrations (`PgStore::migrate`) have
-- the table with a bigint id, and some without the last three columns.
ALTER TABLE conflict_history ALTER COLUMN id TYPE text USING id::text;
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS actor text;
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS reason text;
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS metadata jsonb;
