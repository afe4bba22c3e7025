#!/usr/bin/env python3
"""The identity bench's DuckDB side (benches/identity.rs runs it).

  identity_graph.py generate OUT EDGES PERSONS
      writes OUT/edges.parquet: EDGES rows (type_a, id_a, type_b, id_b) linking the
      identifiers of PERSONS people (a customer id for 80 %, one e-mail and for a quarter
      an alias, one to three device cookies), every person's identifiers connected, edges
      repeated as events repeat, persons interleaved. Components are the persons.

  identity_graph.py components OUT RUNS
      connected components of OUT/edges.parquet by iterative label propagation in plain
      SQL (identifiers mapped to integers first, then each node takes the smallest label
      of its neighbours until nothing changes), RUNS times; writes OUT/duckdb_labels.parquet
      (id_type, id, label) and prints
      `duckdb query_s=<median> peak_rss_mib=<peak> iterations=<n> components=<m>`.

  identity_graph.py check OUT OURS_CSV
      whether OURS_CSV (id_type,id,person_id with a header) has the same identifiers and
      the same partition into persons as duckdb_labels.parquet; prints `same=true|false
      identifiers=<n> persons=<m>`.
"""

import resource
import statistics
import sys
import time
from pathlib import Path

import duckdb

TYPES = "('customer_id', 'email', 'anonymous_id')"


def generate(out: Path, edges: int, persons: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    # Edge i is round r = i // persons of person p (a permutation of i % persons, so
    # persons interleave as events do). Round 0..4 connect the person's identifiers;
    # later rounds repeat a login or an order from one of their devices.
    con.execute(
        f"""
        COPY (
          WITH e AS (
            SELECT i // {persons} AS r, (i % {persons}) * 7919 % {persons} AS p
            FROM range({edges}) t(i)
          ), ids AS (
            SELECT r, p,
                   hash(p, 'customer') % 10 < 8 AS has_customer,
                   hash(p, 'alias') % 4 = 0 AS has_alias,
                   1 + hash(p, 'devices') % 3 AS devices,
                   hash(p, r, 'pick') AS pick
            FROM e
          ), ends AS (
            SELECT r, p, has_customer, has_alias, devices,
              CASE
                WHEN r = 0 THEN 'email0'
                WHEN r = 1 THEN 'cookie0'
                WHEN r = 2 THEN 'cookie' || (1 % devices)
                WHEN r = 3 THEN 'cookie' || (2 % devices)
                WHEN r = 4 THEN CASE WHEN has_alias THEN 'email1' ELSE 'email0' END
                ELSE 'cookie' || (pick % devices)
              END AS a,
              CASE
                WHEN r = 0 THEN 'owner'
                WHEN r = 1 THEN 'owner'
                WHEN r = 2 THEN 'email0'
                WHEN r = 3 THEN 'owner'
                WHEN r = 4 THEN 'cookie' || (devices - 1)
                WHEN (pick >> 8) % 3 = 0 THEN 'email0'
                ELSE 'owner'
              END AS b
            FROM ids
          ), named AS (
            SELECT p, r,
              CASE WHEN a = 'owner' THEN CASE WHEN has_customer THEN 'customer' ELSE 'email0' END ELSE a END AS a,
              CASE WHEN b = 'owner' THEN CASE WHEN has_customer THEN 'customer' ELSE 'email0' END ELSE b END AS b
            FROM ends
          )
          SELECT
            CASE WHEN a = 'customer' THEN 'customer_id' WHEN a LIKE 'email%' THEN 'email' ELSE 'anonymous_id' END AS type_a,
            CASE WHEN a = 'customer' THEN 'C' || lpad(p::VARCHAR, 9, '0')
                 WHEN a = 'email0' THEN 'u' || p || '@mail.example'
                 WHEN a = 'email1' THEN 'u' || p || '.alias@mail.example'
                 ELSE printf('%016x', hash(p, a)) END AS id_a,
            CASE WHEN b = 'customer' THEN 'customer_id' WHEN b LIKE 'email%' THEN 'email' ELSE 'anonymous_id' END AS type_b,
            CASE WHEN b = 'customer' THEN 'C' || lpad(p::VARCHAR, 9, '0')
                 WHEN b = 'email0' THEN 'u' || p || '@mail.example'
                 WHEN b = 'email1' THEN 'u' || p || '.alias@mail.example'
                 ELSE printf('%016x', hash(p, b)) END AS id_b
          FROM named
        ) TO '{out / "edges.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def components(out: Path, runs: int) -> None:
    times = []
    for _ in range(runs):
        con = duckdb.connect()
        t = time.perf_counter()
        iterations = label_propagation(con, out / "edges.parquet")
        times.append(time.perf_counter() - t)
        count = con.execute("SELECT count(DISTINCT label) FROM labels").fetchone()[0]
        con.execute(
            f"""COPY (SELECT t AS id_type, v AS id, label FROM labels JOIN nodes USING (n))
                TO '{out / "duckdb_labels.parquet"}' (FORMAT parquet)"""
        )
        con.close()
    print(
        f"duckdb query_s={statistics.median(times):.3f} peak_rss_mib={peak_rss_mib():.0f} "
        f"iterations={iterations} components={count}"
    )


def label_propagation(con, edges: Path) -> int:
    """Connected components as an analyst writes them in SQL: identifiers to integers,
    undirected edges, then min-label propagation until no label changes."""
    con.execute(
        f"""CREATE TABLE nodes AS
            SELECT row_number() OVER () AS n, t, v FROM (
              SELECT type_a AS t, id_a AS v FROM '{edges}'
              UNION SELECT type_b, id_b FROM '{edges}')"""
    )
    con.execute(
        f"""CREATE TABLE links AS
            SELECT DISTINCT na.n AS a, nb.n AS b FROM '{edges}' e
            JOIN nodes na ON na.t = e.type_a AND na.v = e.id_a
            JOIN nodes nb ON nb.t = e.type_b AND nb.v = e.id_b
            WHERE na.n <> nb.n"""
    )
    con.execute(
        "CREATE TABLE both_ways AS SELECT a, b FROM links UNION ALL SELECT b, a FROM links"
    )
    con.execute("CREATE TABLE labels AS SELECT n, n AS label FROM nodes")
    iterations = 0
    while True:
        iterations += 1
        con.execute(
            """CREATE TABLE next_labels AS
               SELECT l.n, least(l.label, coalesce(m.label, l.label)) AS label
               FROM labels l LEFT JOIN (
                 SELECT w.a AS n, min(l2.label) AS label
                 FROM both_ways w JOIN labels l2 ON l2.n = w.b GROUP BY w.a
               ) m USING (n)"""
        )
        changed = con.execute(
            """SELECT count(*) FROM labels l JOIN next_labels x USING (n)
               WHERE l.label <> x.label"""
        ).fetchone()[0]
        con.execute("DROP TABLE labels")
        con.execute("ALTER TABLE next_labels RENAME TO labels")
        if changed == 0:
            return iterations


def check(out: Path, ours: Path) -> None:
    con = duckdb.connect()
    row = con.execute(
        f"""WITH o AS (SELECT * FROM read_csv('{ours}', header = true,
                         columns = {{'id_type': 'VARCHAR', 'id': 'VARCHAR', 'person_id': 'BIGINT'}})),
                 d AS (SELECT * FROM '{out / "duckdb_labels.parquet"}'),
                 j AS (SELECT o.person_id, d.label FROM o FULL JOIN d USING (id_type, id))
            SELECT count(*) FILTER (WHERE person_id IS NULL OR label IS NULL),
                   count(DISTINCT person_id), count(DISTINCT label),
                   count(DISTINCT (person_id, label)), count(*)
            FROM j"""
    ).fetchone()
    unmatched, ours_persons, their_persons, pairs, total = row
    same = unmatched == 0 and ours_persons == their_persons == pairs
    print(f"same={str(same).lower()} identifiers={total} persons={ours_persons}")


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == "generate":
        generate(out, int(float(sys.argv[3])), int(float(sys.argv[4])))
    elif mode == "components":
        components(out, int(sys.argv[3]))
    elif mode == "check":
        check(out, Path(sys.argv[3]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
