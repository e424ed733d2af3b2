-- Pipelines: every applied version of each, its spec as JSON (cairn-api `PipelineSpec`).
CREATE TABLE pipelines (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Pipeline runs: the run as JSON (its public view and the orchestrator's working state, written
-- at the end of every step, so a restarted orchestrator resumes from the last one completed).
CREATE TABLE pipeline_runs (
    id TEXT PRIMARY KEY NOT NULL,
    pipeline TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX pipeline_runs_state ON pipeline_runs (state);
CREATE INDEX pipeline_runs_pipeline ON pipeline_runs (pipeline, created_at);
