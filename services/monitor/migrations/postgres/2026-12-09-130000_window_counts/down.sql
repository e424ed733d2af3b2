ALTER TABLE monitor_windows DROP COLUMN counts;
