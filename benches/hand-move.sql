-- pgbench's view of the move the store makes: a conditional UPDATE of a
-- random door and its history row in one statement (doors open and close,
-- so every move is legal). The anchor for part 5's moves per second.
\set door random(1, 1000)
WITH moved AS (
    UPDATE bench_doors
       SET state = CASE state WHEN 'open' THEN 'closed' ELSE 'open' END,
           version = version + 1
     WHERE id = :door AND state = ANY('{open,closed}')
 RETURNING id, version, state
)
INSERT INTO conflict_history (kind, id, version, from_state, to_state, action)
SELECT 'latch', id::text, version,
       CASE state WHEN 'open' THEN 'closed' ELSE 'open' END, state, 'toggle'
  FROM moved;
