-- The last stream sequence a record consumer committed to the offline store: a redelivered
-- record at or below it was already written and is skipped.
CREATE TABLE stream_positions (
    consumer TEXT PRIMARY KEY NOT NULL,
    last_sequence BIGINT NOT NULL
);
