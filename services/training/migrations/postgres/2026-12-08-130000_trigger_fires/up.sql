-- Every firing of a pipeline's trigger (`schedule:<cron>`, `dataset:<name>`, `drift:<model>`),
-- by a key that names what fired it (a schedule's slot, a dataset version, a drift report): a
-- key is claimed once, so a redelivered event or a restart never starts a second run for it.
-- `fired_at` is the firing's own time (a schedule's slot).
CREATE TABLE trigger_fires (
    pipeline TEXT NOT NULL,
    trigger_name TEXT NOT NULL,
    key TEXT NOT NULL,
    fired_at BIGINT NOT NULL,
    run_id TEXT,
    PRIMARY KEY (pipeline, trigger_name, key)
);
