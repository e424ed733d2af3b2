-- A judged window's counts per feature (its cairn-drift windows, JSON), for the report's charts.
ALTER TABLE monitor_windows ADD COLUMN counts TEXT;
