-- conflict: the machine each kind of resource was last served with (its
-- fingerprint and its declaration, one fact per line), so that a start with
-- a changed machine can say what changed.
CREATE TABLE IF NOT EXISTS conflict_machines (
    kind        TEXT    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    declaration TEXT    NOT NULL
);
