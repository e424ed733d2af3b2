ALTER TABLE monitor_predictions DROP COLUMN slices;
