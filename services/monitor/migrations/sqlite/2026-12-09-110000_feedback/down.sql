DROP TABLE monitor_feedback;
DROP TABLE monitor_performance;
DROP TABLE monitor_predictions;
