DROP TABLE alias_requests;
DROP TABLE protected_aliases;
