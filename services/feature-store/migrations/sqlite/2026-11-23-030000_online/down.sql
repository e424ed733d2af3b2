DROP TABLE materializations;
DROP TABLE online_views;
DROP TABLE source_files;
