DROP TABLE scoring_jobs;
