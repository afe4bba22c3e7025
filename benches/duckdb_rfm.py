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
import os
import resource
import statistics
import sys
import tempfile
import time

import duckdb


def peak_rss_mib():
    """This process image's peak RSS (VmHWM). ru_maxrss would also count the bench
    process's memory, inherited at the fork before the exec of this script."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


lake, sql_file, runs, scores_csv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = duckdb.connect()
con.execute(f"SET temp_directory = '{os.path.join(tempfile.gettempdir(), 'duckdb_spill')}'")
for t in ("order_lines", "customers", "products"):
    d = os.path.join(lake, t)
    if os.path.isdir(d):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{d}/*.parquet')")
sql = open(sql_file).read()
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    con.sql(sql).fetchall()
    times.append(time.perf_counter() - t0)
peak_mib = peak_rss_mib()
print(f"duckdb query_s={statistics.median(times):.3f} peak_rss_mib={peak_mib:.0f}", flush=True)
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
