-- MLflow 3 logged models: a model's files (under <experiment artifacts>/models/<id>/artifacts),
-- the run that produced it, its parameters and tags. `status` is PENDING until the client has
-- uploaded the files and finalizes it READY (or FAILED).
CREATE TABLE logged_models (
    model_id TEXT PRIMARY KEY NOT NULL,
    experiment_id BIGINT NOT NULL REFERENCES experiments,
    name TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    model_type TEXT,
    source_run_id TEXT,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    lifecycle_stage TEXT NOT NULL
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_time DESC, model_id);
CREATE INDEX logged_models_by_run ON logged_models (source_run_id);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

-- Models a run produced (`runs/outputs`), at a step.
CREATE TABLE run_outputs (
    run_uuid TEXT NOT NULL REFERENCES runs,
    model_id TEXT NOT NULL REFERENCES logged_models,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, model_id)
);
