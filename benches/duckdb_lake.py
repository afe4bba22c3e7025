"""What both DuckDB bench scripts share: the lake as views, the timed runs and the
line the Rust side reads (`benches/support/duckdb.rs`)."""
import os
import resource
import statistics
import tempfile
import time

import duckdb


def open_lake(lake):
    """A DuckDB connection with a view per table folder of LAKE (`order_lines`, ...)."""
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{os.path.join(tempfile.gettempdir(), 'duckdb_spill')}'")
    # The same memory limit as the datapunk server of the run, when it has one.
    limit_mib = int(os.environ.get("DATAPUNK_BENCH_MEMORY_MB") or 0)
    if limit_mib > 0:
        con.execute(f"SET memory_limit = '{limit_mib}MiB'")
    for t in ("order_lines", "customers", "products"):
        d = os.path.join(lake, t)
        if os.path.isdir(d):
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{d}/*.parquet')")
    return con


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


def run_and_report(con, sql, runs):
    """Runs SQL RUNS times and prints `duckdb query_s=<median> peak_rss_mib=<peak>`."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        con.sql(sql).fetchall()
        times.append(time.perf_counter() - t0)
    print(f"duckdb query_s={statistics.median(times):.3f} peak_rss_mib={peak_rss_mib():.0f}", flush=True)
