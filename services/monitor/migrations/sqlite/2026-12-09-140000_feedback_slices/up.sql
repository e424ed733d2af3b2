-- The slice columns of a prediction's ground truth (JSON: column → value), for metrics per slice.
ALTER TABLE monitor_predictions ADD COLUMN slices TEXT;
