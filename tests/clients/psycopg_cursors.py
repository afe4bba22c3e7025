"""psycopg 3: server-side (named) cursors fetching a large result in batches, and
pipeline-mode executemany with typed parameters.

Usage: python3 psycopg_cursors.py "host=... port=... user=... dbname=..."
"""
import datetime
import decimal
import sys

import psycopg


def main(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        (expected,) = conn.execute("SELECT count(*) FROM lake.order_lines").fetchone()
        with conn.transaction():
            cur = conn.cursor(name="lines")
            cur.itersize = 700
            cur.execute("SELECT order_id, unit_price, order_ts FROM lake.order_lines ORDER BY order_id, line_no")
            assert [d.name for d in cur.description] == ["order_id", "unit_price", "order_ts"], cur.description
            n = 0
            last = -1
            for order_id, price, ts in cur:
                assert order_id >= last, (order_id, last)
                assert isinstance(price, decimal.Decimal) and isinstance(ts, datetime.datetime)
                last = order_id
                n += 1
            assert n == expected, (n, expected)
            batch = conn.cursor(name="batch")
            batch.execute("SELECT customer_id FROM lake.customers ORDER BY customer_id")
            first = batch.fetchmany(10)
            assert [r[0] for r in first] == list(range(1, 11)), first
            batch.close()
        # Parameters of each Python type round-trip unchanged.
        values = [
            (1, decimal.Decimal("12.34"), datetime.date(2024, 2, 29), True, "Zoë"),
            (2, decimal.Decimal("-0.01"), datetime.date(1999, 12, 31), False, None),
        ]
        cur = conn.cursor()
        got = []
        for v in values:
            cur.execute("SELECT %s::BIGINT, %s::NUMERIC(10,2), %s::DATE, %s::BOOLEAN, %s::TEXT", v)
            got.append(cur.fetchone())
        assert got == values, got
        with conn.pipeline():
            cur.executemany("SELECT %s::BIGINT * 2", [(i,) for i in range(50)])
        print(f"ok cursors: {n} rows in batches of 700")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
