-- conflict: the machine each kind of resource was last served with (its
-- fingerprint and its declaration, one fact per line), so that a start with
-- a changed machine can say what changed.
CREATE TABLE IF NOT EXISTS conflict_machines (
    kind        text        PRIMARY KEY,
    fingerprint text        NOT NULL,
    declaration text        NOT NULL
);
