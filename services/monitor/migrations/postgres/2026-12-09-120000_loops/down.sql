DROP TABLE monitor_loop_events;
DROP TABLE monitor_loops;
