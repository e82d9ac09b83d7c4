-- conflict: the history of committed moves, written in each move's own
-- transaction. `id` is the resource's key as text, whatever its type.
CREATE TABLE IF NOT EXISTS conflict_history (
    kind        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    action      TEXT,
    at_micros   INTEGER NOT NULL,
    actor       TEXT,
    reason      TEXT,
    metadata    TEXT,
    PRIMARY KEY (kind, id, version)
);
