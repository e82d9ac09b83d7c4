-- conflict: the outbox. The history is the outbox: each row gets its place
-- in one global order (`position`) once the transaction that wrote it (`xid`)
-- is over. Trimming moves a kind's resume point (`conflict_outbox_trims`);
-- the rows stay, as history. Durable handlers keep a cursor per kind and
-- their deliveries.
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE conflict_history ADD COLUMN IF NOT EXISTS position bigint;
-- The latest place (`max(position)`) and every place once; a move's row,
-- not placed yet, is in neither index: only the placer writes them.
CREATE UNIQUE INDEX IF NOT EXISTS conflict_history_position
    ON conflict_history (position) WHERE position IS NOT NULL;
CREATE INDEX IF NOT EXISTS conflict_history_kind_position
    ON conflict_history (kind, position) WHERE position IS NOT NULL;
CREATE INDEX IF NOT EXISTS conflict_history_unplaced ON conflict_history (xid) WHERE position IS NULL;

CREATE TABLE IF NOT EXISTS conflict_cursors (
    handler  text   NOT NULL,
    kind     text   NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (handler, kind)
);

CREATE TABLE IF NOT EXISTS conflict_deliveries (
    handler  text        NOT NULL,
    kind     text        NOT NULL,
    position bigint      NOT NULL,
    attempts integer     NOT NULL DEFAULT 0,
    due_at   timestamptz NOT NULL DEFAULT now(),
    dead_at  timestamptz,
    error    text,
    PRIMARY KEY (handler, position)
);
CREATE INDEX IF NOT EXISTS conflict_deliveries_due ON conflict_deliveries (kind, position) WHERE dead_at IS NULL;

CREATE TABLE IF NOT EXISTS conflict_outbox_trims (
    kind       text   PRIMARY KEY,
    kept_after bigint NOT NULL
);
