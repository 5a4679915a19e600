-- The writer transaction that recorded each outcome: one per batch, so grouping by it gives
-- the batch sizes the load test reports.
ALTER TABLE intent_log ADD COLUMN txid BIGINT NOT NULL DEFAULT txid_current();
