DROP TABLE feature_services;
DROP TABLE feature_views;
DROP TABLE entities;
