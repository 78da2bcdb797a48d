-- Pruning entries past their retention (inbox.Prune) by age; processed_at only grows, so new
-- entries append at the index's end.
CREATE INDEX inbox_processed_at_idx ON inbox (processed_at);
