DROP TABLE run_outputs;
DROP TABLE logged_model_tags;
DROP TABLE logged_model_params;
DROP TABLE logged_models;
