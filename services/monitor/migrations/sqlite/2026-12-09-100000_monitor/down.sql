DROP TABLE monitor_windows;
DROP TABLE monitor_open_windows;
DROP TABLE monitor_references;
DROP TABLE monitor_position;
