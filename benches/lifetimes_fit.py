#!/usr/bin/env python3
"""lifetimes' side of `cargo bench --bench clv`, for the record.

  python3 lifetimes_fit.py LAKE_DIR

Computes the per-customer summary of LAKE_DIR/order_lines with DuckDB (not timed; the
same definition as queries/clv_summary.sql), then times lifetimes' BetaGeoFitter and
GammaGammaFitter (repeat customers) on it and prints one line:
  lifetimes fit_s=<seconds> customers=<n> r=... alpha=... a=... b=...   (or failed: ...)
"""
import os
import sys
import time

import duckdb
from lifetimes import BetaGeoFitter, GammaGammaFitter

lake = sys.argv[1]
con = duckdb.connect()
con.execute(f"CREATE VIEW order_lines AS SELECT * FROM read_parquet('{os.path.join(lake, 'order_lines')}/*.parquet')")
s = con.sql("""
WITH days AS (
    SELECT customer_id, CAST(order_ts AS DATE) AS day, SUM(quantity * unit_price) AS value
    FROM order_lines WHERE CAST(order_ts AS DATE) <= DATE '2024-12-31'
    GROUP BY customer_id, day)
SELECT COUNT(*) - 1 AS frequency, (MAX(day) - MIN(day)) / 7.0 AS recency,
       (DATE '2024-12-31' - MIN(day)) / 7.0 AS t,
       CASE WHEN COUNT(*) > 1 THEN CAST(SUM(value) - arg_min(value, day) AS DOUBLE) / (COUNT(*) - 1)
            ELSE 0 END AS monetary_value
FROM days GROUP BY customer_id""").df()
t0 = time.perf_counter()
try:
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["t"])
    repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    p = bg.params_
    outcome = f"r={p['r']:.6f} alpha={p['alpha']:.6f} a={p['a']:.6f} b={p['b']:.6f}"
except Exception as e:  # lifetimes raises ConvergenceError on data it cannot fit
    outcome = f"failed: {type(e).__name__}"
seconds = time.perf_counter() - t0
print(f"lifetimes fit_s={seconds:.3f} customers={len(s)} {outcome}", flush=True)
