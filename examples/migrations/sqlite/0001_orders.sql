-- The orders example's own tables: typed columns, ids from the rowid (one
-- more than the largest; not AUTOINCREMENT, which stops for good once a
-- client has taken the largest id).
CREATE TABLE IF NOT EXISTS orders (
    id              INTEGER PRIMARY KEY,
    status          TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    item            TEXT    NOT NULL,
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    tracking_number TEXT
);
CREATE INDEX IF NOT EXISTS orders_status_id ON orders (status, id);

-- Written in the same transaction as `pay`.
CREATE TABLE IF NOT EXISTS payments (
    order_id INTEGER PRIMARY KEY REFERENCES orders (id),
    method   TEXT    NOT NULL,
    paid_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- What `notify_customer`, a durable handler, sent: one row per shipped
-- order's event, whatever the number of deliveries (its key is the event's).
CREATE TABLE IF NOT EXISTS notifications (
    event_key TEXT    PRIMARY KEY,
    order_id  INTEGER NOT NULL REFERENCES orders (id),
    message   TEXT    NOT NULL,
    sent_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
