"""SQLAlchemy 2's inspector (what Superset, Alembic and pandas call to reflect a database)
over one schema, through one driver. Prints one JSON document of every answer, so the
answers of datapunk and of PostgreSQL holding the same tables can be compared.

Usage: python3 sqlalchemy_inspect.py DRIVER URL_TAIL SCHEMA
  DRIVER is psycopg2 or psycopg; URL_TAIL is user@host:port/dbname.
"""
import json
import sys

import sqlalchemy as sa


def main(driver, tail, schema):
    engine = sa.create_engine(f"postgresql+{driver}://{tail}")
    insp = sa.inspect(engine)
    tables = insp.get_table_names(schema=schema)
    out = {
        "schema listed": schema in insp.get_schema_names(),
        "has_schema": insp.has_schema(schema),
        "tables": tables,
        "views": insp.get_view_names(schema=schema),
        "materialized views": insp.get_materialized_view_names(schema=schema),
        "sequences": insp.get_sequence_names(schema=schema),
        "enums": insp.get_enums(schema=schema),
        "domains": insp.get_domains(schema=schema),
        "has_table missing": insp.has_table("no_such_table", schema=schema),
        "sorted": [[t, sorted(map(list, fks))] for t, fks in insp.get_sorted_table_and_fkc_names(schema=schema)],
    }
    for table in tables:
        out[table] = {
            "has_table": insp.has_table(table, schema=schema),
            "columns": insp.get_columns(table, schema=schema),
            "pk": insp.get_pk_constraint(table, schema=schema),
            "fks": insp.get_foreign_keys(table, schema=schema),
            "indexes": insp.get_indexes(table, schema=schema),
            "unique": insp.get_unique_constraints(table, schema=schema),
            "check": insp.get_check_constraints(table, schema=schema),
            "comment": insp.get_table_comment(table, schema=schema),
            "options": insp.get_table_options(table, schema=schema),
            "has_index": insp.has_index(table, "no_such_index", schema=schema),
        }
    multi = {
        "columns": insp.get_multi_columns(schema=schema),
        "pk": insp.get_multi_pk_constraint(schema=schema),
        "fks": insp.get_multi_foreign_keys(schema=schema),
        "indexes": insp.get_multi_indexes(schema=schema),
        "unique": insp.get_multi_unique_constraints(schema=schema),
        "check": insp.get_multi_check_constraints(schema=schema),
        "comment": insp.get_multi_table_comment(schema=schema),
    }
    out["multi"] = {kind: {".".join(filter(None, key)): v for key, v in found.items()} for kind, found in multi.items()}
    metadata = sa.MetaData()
    metadata.reflect(engine, schema=schema)
    out["reflected"] = {
        name: [[c.name, repr(c.type), c.nullable] for c in table.columns]
        for name, table in sorted(metadata.tables.items())
    }
    print(json.dumps(out, indent=1, sort_keys=True, default=repr))


if __name__ == "__main__":
    main(*sys.argv[1:4])
