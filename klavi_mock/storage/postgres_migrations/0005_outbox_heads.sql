-- The outbox's claim without a scan of the whole outbox (issue 20): a claim walks each URL's
-- pending deliveries in order and stops once it has enough, asking an index, for each,
-- whether an older delivery of its line (or of its parent line) is still pending. Before,
-- every claim computed the head of every line, so a backlog made each claim slower and the
-- dispatcher fell further behind. (deliveries_outbox, (destination, seq), is the walk in
-- order of creation.)
CREATE INDEX deliveries_lines ON deliveries (destination, (coalesce(ordering_key, id)), seq)
    WHERE status = 'pending' AND destination IS NOT NULL;
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at)
    WHERE status = 'pending' AND destination IS NOT NULL;
CREATE INDEX deliveries_claimed ON deliveries (destination)
    WHERE status = 'pending' AND destination IS NOT NULL AND claimed_until IS NOT NULL;
