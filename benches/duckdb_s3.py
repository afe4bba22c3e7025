#!/usr/bin/env python3
"""DuckDB reading the anchor lake from S3 (its httpfs extension) and from the local
folder, for the S3 bench (`benches/s3_lake.rs`).

  python duckdb_s3.py LAKE_DIR S3_ENDPOINT S3_PREFIX SQL_FILE RUNS

S3_ENDPOINT is `host:port` of a plain-HTTP S3-compatible server (moto), S3_PREFIX
`s3://bucket/prefix` holding the same `<table>/*.parquet` as LAKE_DIR. Prints:
  duckdb_local query_s=<median> rows=<n>
  duckdb_s3 query_s=<median> rows=<n>
httpfs comes from PyPI's `duckdb-extension-httpfs` (DuckDB cannot download extensions
here), which exists for DuckDB releases up to 1.5.5: the bench runs this script with a
Python environment holding both at that version.
"""
import os
import statistics
import sys
import time

import duckdb
import duckdb_extension_httpfs

lake, endpoint, prefix, sql_file, runs = sys.argv[1:6]
runs = int(runs)
sql = open(sql_file).read().strip().rstrip(";")
extension = os.path.join(
    os.path.dirname(duckdb_extension_httpfs.__file__),
    "extensions", f"v{duckdb.__version__}", "httpfs.duckdb_extension")


def connect(root):
    con = duckdb.connect()
    con.execute(f"LOAD '{extension}'")
    con.execute(f"""CREATE SECRET bench (TYPE s3, KEY_ID 'bench', SECRET 'bench',
        REGION 'us-east-1', ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)""")
    for t in ("order_lines", "customers", "products"):
        if os.path.isdir(os.path.join(lake, t)):
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{root}/{t}/*.parquet')")
    return con


for name, root in (("duckdb_local", lake), ("duckdb_s3", prefix)):
    con = connect(root)
    times, rows = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = len(con.sql(sql).fetchall())
        times.append(time.perf_counter() - t0)
    print(f"{name} query_s={statistics.median(times):.3f} rows={rows}", flush=True)
