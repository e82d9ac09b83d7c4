-- The orders example's own tables: typed columns, its own sequence.
CREATE TABLE IF NOT EXISTS orders (
    id              bigserial PRIMARY KEY,
    status          text      NOT NULL,
    version         bigint    NOT NULL DEFAULT 1,
    item            text      NOT NULL,
    quantity        bigint    NOT NULL CHECK (quantity > 0),
    tracking_number text
);
-- Listing by state, a page at a time: `WHERE status = ANY(..) AND id > .. ORDER BY id`.
CREATE INDEX IF NOT EXISTS orders_status_id ON orders (status, id);

-- Written in the same transaction as `pay`.
CREATE TABLE IF NOT EXISTS payments (
    order_id bigint      PRIMARY KEY REFERENCES orders (id),
    method   text        NOT NULL,
    paid_at  timestamptz NOT NULL DEFAULT now()
);

-- What `notify_customer`, a durable handler, sent: one row per shipped
-- order's event, whatever the number of deliveries (its key is the event's).
CREATE TABLE IF NOT EXISTS notifications (
    event_key text        PRIMARY KEY,
    order_id  bigint      NOT NULL REFERENCES orders (id),
    message   text        NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now()
);
