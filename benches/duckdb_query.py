#!/usr/bin/env python3
"""DuckDB's side of a datapunk bench, for a query whose whole result is compared.

  python3 duckdb_query.py LAKE_DIR SQL_FILE RUNS RESULT_CSV

Runs SQL_FILE RUNS times on DuckDB with views over LAKE_DIR/<table>/*.parquet and
prints one line:
  duckdb query_s=<median> peak_rss_mib=<peak of this process>
then writes the query's result (no header) to RESULT_CSV for the bench to compare.
"""
import sys

from duckdb_lake import open_lake, run_and_report

lake, sql_file, runs, result_csv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = open_lake(lake)
sql = open(sql_file).read().strip().rstrip(";")
run_and_report(con, sql, runs)
con.execute(f"COPY ({sql}) TO '{result_csv}' (HEADER false)")
