"""Binds every column type of lake.things (tests/fixtures/lake_types) as a psycopg 3
parameter, in text (%s) and binary (%b) format, and checks each finds its own row; NULL
finds the NULL row; bad text gets PostgreSQL's SQLSTATE.

Usage: python3 psycopg_parameters.py "host=... port=... user=... dbname=..."
Prints "ok <column>" per column and "ok errors"; exits non-zero on any mismatch.
"""
import datetime
import sys
import uuid

import psycopg

# json has no equality operator in PostgreSQL; NaN and infinities are on row 2.
COLUMNS = ["id", "raw", "tags", "grid", "prices", "big_dec", "wide", "zero", "f8", "f4",
           "t", "ts_ms", "d", "small", "u32", "dict", "ls"]


def main(dsn: str) -> int:
    failures = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.cursor(binary=True).execute(
            f"SELECT {', '.join(COLUMNS)} FROM lake.things WHERE small = -3").fetchone()
        for column, value in zip(COLUMNS, row):
            for placeholder in ("%s", "%b"):
                query = f"SELECT count(*) FROM lake.things WHERE {column} = {placeholder}"
                try:
                    (count,) = conn.execute(query, (value,)).fetchone()
                except psycopg.Error as e:
                    print(f"FAIL {column} {placeholder} {value!r}: {e.sqlstate} {e}")
                    failures += 1
                    continue
                if count != 1:
                    print(f"FAIL {column} {placeholder} {value!r}: {count} rows")
                    failures += 1
            query = f"SELECT count(*) FROM lake.things WHERE {column} IS NOT DISTINCT FROM %s"
            (count,) = conn.execute(query, (None,)).fetchone()
            if count != 1:
                print(f"FAIL {column} NULL: {count} rows")
                failures += 1
            else:
                print(f"ok {column}")
        # Text sent as a string is read as the column's type, as PostgreSQL reads it.
        (count,) = conn.execute(
            "SELECT count(*) FROM lake.things WHERE id = %s",
            ("{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}",)).fetchone()
        assert count == 1, count
        (count,) = conn.execute(
            "SELECT count(*) FROM lake.things WHERE d = %s", ("2024-02-29",)).fetchone()
        assert count == 1, count
        # x = ANY(%s) binds a list as an array of x's type.
        (count,) = conn.execute(
            "SELECT count(*) FROM lake.things WHERE id = ANY(%s)", ([row[0], uuid.UUID(int=0)],)).fetchone()
        assert count == 2, count
        (count,) = conn.execute(
            "SELECT count(*) FROM lake.things WHERE small = ANY(%b)", ([-3, 127, 5],)).fetchone()
        assert count == 2, count
        for query, value, sqlstate in [
            ("SELECT count(*) FROM lake.things WHERE small = %s", "abc", "22P02"),
            ("SELECT count(*) FROM lake.things WHERE id = %s", "not-a-uuid", "22P02"),
            ("SELECT count(*) FROM lake.things WHERE small = %s", "70000", "22003"),
            ("SELECT count(*) FROM lake.things WHERE d = %s", "2024-02-30", "22007"),
        ]:
            try:
                conn.execute(query, (value,))
                print(f"FAIL {query} {value!r}: no error")
                failures += 1
            except psycopg.Error as e:
                if e.sqlstate != sqlstate:
                    print(f"FAIL {query} {value!r}: {e.sqlstate} {e}, expected {sqlstate}")
                    failures += 1
        assert conn.execute("SELECT 1").fetchone() == (1,)
        print("ok errors")
        # A bare parameter comes back as the type it was sent as, unchanged.
        for value in [42, 2**40, True, None, 1.5, "text", b"\x00\xff",
                      datetime.date(2024, 2, 29), datetime.datetime(2024, 3, 1, 12, 0, 0, 123000),
                      datetime.time(13, 45, 0, 500000), datetime.timedelta(days=1, seconds=3600),
                      uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), [1, None, 3]]:
            for placeholder in ("%s", "%b"):
                try:
                    (got,) = conn.execute(f"SELECT {placeholder}", (value,)).fetchone()
                except psycopg.Error as e:
                    print(f"FAIL SELECT {placeholder} {value!r}: {e.sqlstate} {e}")
                    failures += 1
                    continue
                if got != value or type(got) is not type(value):
                    print(f"FAIL SELECT {placeholder} {value!r}: got {got!r}")
                    failures += 1
        # psycopg sends a list of str in text as unknown: PostgreSQL answers its text.
        assert conn.execute("SELECT %s", (["a", "b c"],)).fetchone() == ('{a,"b c"}',)
        assert conn.execute("SELECT %b", (["a", "b c"],)).fetchone() == (["a", "b c"],)
        print("ok round trip")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
