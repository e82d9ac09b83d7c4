-- conflict: deadlines. A resource in a state with a deadline has one row,
-- written by the statement of the move (or creation) that entered the state
-- and deleted by the one that leaves it. Schedulers claim due rows by
-- `next_at` (the deadline, the end of a claim, or a backoff).
CREATE TABLE IF NOT EXISTS conflict_deadlines (
    kind     text        NOT NULL,
    id       text        NOT NULL,
    -- The version that entered the state: the move is made only there.
    version  bigint      NOT NULL,
    action   text        NOT NULL,
    due_at   timestamptz NOT NULL,
    next_at  timestamptz NOT NULL,
    attempts integer     NOT NULL DEFAULT 0,
    -- Why the last attempt did not move (a guard blocked it).
    not_made text,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS conflict_deadlines_next ON conflict_deadlines (kind, next_at);
