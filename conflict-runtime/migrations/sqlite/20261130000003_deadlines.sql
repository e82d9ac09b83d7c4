-- conflict: deadlines. A resource in a state with a deadline has one row,
-- written in the transaction of the move (or creation) that entered the
-- state and deleted by the one that leaves it. Times in microseconds since
-- the Unix epoch.
CREATE TABLE IF NOT EXISTS conflict_deadlines (
    kind        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    -- The id as the table keeps it (any type), to name the resource back.
    resource    NOT NULL,
    -- The version that entered the state: the move is made only there.
    version     INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    due_micros  INTEGER NOT NULL,
    next_micros INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    -- Why the last attempt did not move (a guard blocked it).
    not_made    TEXT,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS conflict_deadlines_next ON conflict_deadlines (kind, next_micros);
