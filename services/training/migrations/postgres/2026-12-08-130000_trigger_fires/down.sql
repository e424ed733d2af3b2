DROP TABLE trigger_fires;
