#!/usr/bin/env python3
"""DuckDB's side of `cargo bench --bench marketing`.

  python3 duckdb_rfm.py LAKE_DIR SQL_FILE RUNS SCORES_CSV

Runs SQL_FILE (the anchor RFM query) RUNS times on DuckDB with views over
LAKE_DIR/<table>/*.parquet and prints one line:
  duckdb query_s=<median> peak_rss_mib=<peak of this process>
then writes the per-customer scores (customer_id, r, f, m: NTILE(5) with the
customer_id tie-break, exactly as in SQL_FILE) to SCORES_CSV, ordered by customer,
for datapunk's bench to compare with its own.
"""
import sys

from duckdb_lake import open_lake, run_and_report

lake, sql_file, runs, scores_csv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = open_lake(lake)
sql = open(sql_file).read()
run_and_report(con, sql, runs)
con.execute(f"""
COPY (
  WITH base AS (
    SELECT customer_id,
           DATE '2025-01-01' - CAST(MAX(order_ts) AS DATE) AS recency_days,
           COUNT(DISTINCT order_id) AS frequency,
           SUM(quantity * unit_price) AS monetary
    FROM order_lines GROUP BY customer_id)
  SELECT customer_id,
         NTILE(5) OVER (ORDER BY recency_days DESC, customer_id) AS r,
         NTILE(5) OVER (ORDER BY frequency, customer_id) AS f,
         NTILE(5) OVER (ORDER BY monetary, customer_id) AS m
  FROM base ORDER BY customer_id
) TO '{scores_csv}' (HEADER false)
""")
