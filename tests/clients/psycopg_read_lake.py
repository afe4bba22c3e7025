"""Reads every lake table through psycopg 3 with a password and checks types and values.

Usage: python3 psycopg_read_lake.py "host=... port=... user=... password=... dbname=..."
Prints one line per table; exits non-zero on any mismatch.
"""
import datetime
import decimal
import sys

import psycopg

EXPECTED_TYPES = {
    "customers": {"customer_id": int, "name": str, "signup_date": datetime.date, "marketing_opt_in": bool},
    "products": {"product_id": int, "price": decimal.Decimal},
    "orders": {"order_id": int, "order_ts": datetime.datetime, "shipping": decimal.Decimal},
    "order_lines": {"order_id": int, "quantity": int, "unit_price": decimal.Decimal},
    "web_events": {"event_id": int, "anonymous_id": str, "event_ts": datetime.datetime, "event_type": str},
    "guest_orders": {"guest_order_id": int, "anonymous_id": str, "order_ts": datetime.datetime,
                     "amount": decimal.Decimal},
    "experiment_assignments": {"unit_id": int, "converted": bool, "revenue": decimal.Decimal},
}


def main(dsn: str) -> int:
    failures = 0
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1")]
        assert sorted(EXPECTED_TYPES) == tables, tables
        for table in tables:
            for binary in (False, True):
                cur = conn.cursor(binary=binary)
                cur.execute(f"SELECT * FROM lake.{table}")
                cols = [d.name for d in cur.description]
                rows = cur.fetchall()
                (count,) = conn.execute(f"SELECT count(*) FROM lake.{table}").fetchone()
                if len(rows) != count:
                    print(f"FAIL {table}: fetched {len(rows)} rows, count(*) says {count}")
                    failures += 1
                for col, typ in EXPECTED_TYPES[table].items():
                    i = cols.index(col)
                    values = [r[i] for r in rows if r[i] is not None]
                    bad = [v for v in values if type(v) is not typ]
                    if bad or not values:
                        print(f"FAIL {table}.{col} (binary={binary}): expected {typ.__name__}, got {bad[:3]}")
                        failures += 1
            print(f"ok {table}: {count} rows")
        # Parameters round-trip with exact values.
        row = conn.execute(
            "SELECT customer_id, name, signup_date FROM lake.customers WHERE customer_id = %s", (3,)
        ).fetchone()
        assert row[0] == 3, row
        price = conn.execute("SELECT price FROM lake.products WHERE product_id = %s", (1,)).fetchone()[0]
        assert price == price.quantize(decimal.Decimal("0.01")), price
        assert str(price).endswith("9"), price  # x.99 pricing survives exactly
        # COPY row by row (one CopyData per row, as PostgreSQL sends), binary and text.
        query = "SELECT order_id, order_ts, unit_price, country FROM lake.order_lines ORDER BY order_id, line_no"
        selected = conn.execute(query).fetchall()
        with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(["int8", "timestamp", "numeric", "text"])
            copied = list(copy.rows())
        assert copied == selected, (copied[:2], selected[:2])
        with conn.cursor().copy(f"COPY ({query}) TO STDOUT") as copy:
            copied = [tuple(r) for r in copy.rows()]
        assert [tuple(str(v) for v in r) for r in selected] == copied, copied[:2]
        print(f"ok copy: {len(copied)} rows")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
