"""psycopg2 (plain and named cursors), asyncpg (prepared statements, binary protocol,
typed parameters) and SQLAlchemy 2 + pandas.read_sql (and to_sql refused with 25006)
against datapunk.

Usage: python3 python_drivers.py HOST PORT USER
Prints one "ok <driver>" line per driver; exits non-zero on the first failure.
"""
import asyncio
import datetime
import decimal
import sys


def check_psycopg2(host, port, user):
    import psycopg2

    conn = psycopg2.connect(host=host, port=port, user=user, dbname="datapunk")
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM lake.orders WHERE customer_id = %s", (1,))
    (n,) = cur.fetchone()
    assert isinstance(n, int)
    cur.execute("SELECT price FROM lake.products WHERE product_id = %s", (1,))
    assert isinstance(cur.fetchone()[0], decimal.Decimal)
    named = conn.cursor(name="psycopg2_named")
    named.itersize = 500
    named.execute("SELECT order_id FROM lake.order_lines")
    rows = sum(1 for _ in named)
    cur.execute("SELECT count(*) FROM lake.order_lines")
    assert rows == cur.fetchone()[0], rows
    conn.close()
    print("ok psycopg2")


async def check_asyncpg(host, port, user):
    import asyncpg

    conn = await asyncpg.connect(host=host, port=port, user=user, database="datapunk")
    stmt = await conn.prepare("SELECT customer_id, signup_date, marketing_opt_in FROM lake.customers WHERE customer_id = $1")
    row = await stmt.fetchrow(5)
    assert row["customer_id"] == 5
    assert isinstance(row["signup_date"], datetime.date)
    assert isinstance(row["marketing_opt_in"], bool)
    value = await conn.fetchval("SELECT $1::NUMERIC(10,2) + 1", decimal.Decimal("1.25"))
    assert value == decimal.Decimal("2.25"), value
    ts = await conn.fetchval("SELECT max(order_ts) FROM lake.orders")
    assert isinstance(ts, datetime.datetime)
    n = await conn.fetchval("SELECT count(*) FROM lake.order_lines WHERE quantity > $1", 0)
    assert n > 0
    await conn.close()
    print("ok asyncpg")


def check_sqlalchemy_pandas(host, port, user):
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(f"postgresql+psycopg2://{user}@{host}:{port}/datapunk")
    with engine.connect() as conn:
        df = pd.read_sql(sa.text("SELECT country, count(*) AS customers FROM lake.customers GROUP BY country ORDER BY customers DESC"), conn)
        assert list(df.columns) == ["country", "customers"], df.columns
        assert df["customers"].sum() > 0
        lines = pd.read_sql("SELECT * FROM lake.order_lines LIMIT 100", conn)
        assert len(lines) == 100 and "unit_price" in lines.columns
        names = sa.inspect(conn).get_table_names(schema="lake")
        assert "orders" in names, names
    # Writing is refused cleanly: a read-only transaction (25006), through both drivers.
    for driver in ("psycopg2", "psycopg"):
        writer = sa.create_engine(f"postgresql+{driver}://{user}@{host}:{port}/datapunk")
        try:
            with writer.begin() as conn:
                pd.DataFrame({"a": [1, 2]}).to_sql("pandas_out", conn, schema="warehouse")
        except sa.exc.DBAPIError as e:
            code = getattr(e.orig, "pgcode", None) or getattr(e.orig, "sqlstate", None)
            assert code == "25006", (driver, code, e)
        else:
            raise AssertionError(f"to_sql through {driver} was not refused")
    print("ok sqlalchemy+pandas")


if __name__ == "__main__":
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    check_psycopg2(host, port, user)
    asyncio.run(check_asyncpg(host, port, user))
    check_sqlalchemy_pandas(host, port, user)
