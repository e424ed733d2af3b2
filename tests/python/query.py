"""Runs one SQL query in DuckDB and prints the rows as a JSON array of arrays.

Used by the tests to read Cairn's offline store with an engine Cairn does not control."""

import json
import sys

import duckdb

result = duckdb.sql(sys.argv[1])
rows = result.fetchall() if result is not None else []  # statements such as COPY return nothing
print(json.dumps(rows, default=str))
