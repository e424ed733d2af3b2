DROP TABLE stream_positions;
