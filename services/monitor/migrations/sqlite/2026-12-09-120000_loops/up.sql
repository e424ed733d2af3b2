-- Each endpoint's continuous-training loop: its policy and where its current cycle stands (JSON),
-- written after every step, so a restarted monitor resumes the cycle where it was.
CREATE TABLE monitor_loops (
    endpoint TEXT PRIMARY KEY NOT NULL,
    policy TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Every decision of every loop, explained (`cairn loop history ENDPOINT`); append-only.
CREATE TABLE monitor_loop_events (
    endpoint TEXT NOT NULL,
    seq BIGINT NOT NULL,
    cycle BIGINT NOT NULL,
    at BIGINT NOT NULL,
    step TEXT NOT NULL,
    detail TEXT NOT NULL,
    numbers TEXT NOT NULL,
    PRIMARY KEY (endpoint, seq)
);
