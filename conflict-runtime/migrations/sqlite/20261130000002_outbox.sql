-- conflict: the outbox. The history is the outbox: a row's `position` is its
-- place in the global order (SQLite commits one write at a time, so
-- positions grow in commit order; AUTOINCREMENT never gives one twice, and
-- an INTEGER PRIMARY KEY is not renumbered by VACUUM as a bare rowid may
-- be). Trimming moves a kind's resume point (`conflict_outbox_trims`); the
-- rows stay, as history. Durable handlers keep a cursor per kind and their
-- deliveries.
CREATE TABLE conflict_history_placed (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
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
    UNIQUE (kind, id, version)
);
INSERT INTO conflict_history_placed
    (kind, id, version, from_state, to_state, action, at_micros, actor, reason, metadata)
SELECT kind, id, version, from_state, to_state, action, at_micros, actor, reason, metadata
  FROM conflict_history
 ORDER BY rowid;
DROP TABLE conflict_history;
ALTER TABLE conflict_history_placed RENAME TO conflict_history;
CREATE INDEX conflict_history_kind_position ON conflict_history (kind, position);

CREATE TABLE IF NOT EXISTS conflict_cursors (
    handler  TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (handler, kind)
);

CREATE TABLE IF NOT EXISTS conflict_deliveries (
    handler     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_micros  INTEGER NOT NULL,
    dead_micros INTEGER,
    error       TEXT,
    PRIMARY KEY (handler, position)
);

CREATE TABLE IF NOT EXISTS conflict_outbox_trims (
    kind       TEXT    PRIMARY KEY,
    kept_after INTEGER NOT NULL
);
