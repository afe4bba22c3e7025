#!/usr/bin/env python3
"""DuckDB's side of a datapunk bench, for a query whose whole result is compared.

  python3 duckdb_query.py LAKE_DIR SQL_FILE RUNS RESULT_CSV

Runs SQL_FILE RUNS times on DuckDB with views over LAKE_DIR/<table>/*.parquet and
prints one line:
  duckdb query_s=<median> peak_rss_mib=<peak of this process>
then writes the query's result (no header) to RESULT_CSV for the bench to compare.
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


lake, sql_file, runs, result_csv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = duckdb.connect()
con.execute(f"SET temp_directory = '{os.path.join(tempfile.gettempdir(), 'duckdb_spill')}'")
for t in ("order_lines", "customers", "products"):
    d = os.path.join(lake, t)
    if os.path.isdir(d):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{d}/*.parquet')")
sql = open(sql_file).read().strip().rstrip(";")
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    con.sql(sql).fetchall()
    times.append(time.perf_counter() - t0)
peak_mib = peak_rss_mib()
print(f"duckdb query_s={statistics.median(times):.3f} peak_rss_mib={peak_mib:.0f}", flush=True)
con.execute(f"COPY ({sql}) TO '{result_csv}' (HEADER false)")
