DROP TABLE outbox;
DROP TABLE processed_events;
