-- Apache Superset -> SQLAlchemy 1.4 postgresql+psycopg2 dialect (Superset pins sqlalchemy>=1.4,<2).
-- Sources:
--  [SA]  sqlalchemy/sqlalchemy lib/sqlalchemy/dialects/postgresql/base.py @ rel_1_4_54 (dfe401fd471323638ad3e1b1027d89e01fcbeef5):
--        PGDialect.initialize / _get_server_version_info / _get_default_schema_name / get_isolation_level,
--        get_schema_names, get_table_names, _get_foreign_table_names, get_view_names, get_table_oid, get_columns,
--        _load_domains, _load_enums, get_pk_constraint, get_foreign_keys, get_indexes, get_table_comment, has_table.
--  [SAD] lib/sqlalchemy/engine/default.py @ rel_1_4_54: DefaultDialect.initialize, do_ping (_dialect_specific_select_one = str(select(1))).
--  [SAP] lib/sqlalchemy/dialects/postgresql/psycopg2.py @ rel_1_4_54: on_connect -> _hstore_oids -> psycopg2.extras.HstoreAdapter.get_oids
--        (use_native_hstore=True by default), query text from psycopg2 lib/extras.py (HstoreAdapter.get_oids).
--  [SS]  apache/superset superset/db_engine_specs/postgres.py @ 007e4f5f4b4a4b08b24b1f2fc14bcf5abb16237d:
--        get_catalog_names, get_table_names (tables + foreign tables), get_prequeries (search_path), get_cancel_query_id.
--  [SSB] superset/db_engine_specs/base.py BaseEngineSpec.select_star (limit=100, sqlparse/SQLScript-formatted).
-- Bind parameters: SQLAlchemy text() :name binds are rendered client-side by psycopg2 (simple protocol, literals inlined),
-- so the server receives exactly the literal form shown. psycopg2 (non-autocommit) sends BEGIN before the first statement
-- of each transaction, Superset/SQLAlchemy pooled connections end with ROLLBACK (pool reset-on-return).
-- table oid 16384 stands for the oid returned by get_table_oid for lake.orders.

-- purpose: psycopg2 implicit transaction start (sent before the first statement on a non-autocommit connection) [SAP]
BEGIN;

-- purpose: psycopg2 on_connect: hstore OID lookup (HstoreAdapter.get_oids, server >= 8.3), followed by ROLLBACK [SAP]
SELECT t.oid, typarray
FROM pg_type t JOIN pg_namespace ns
    ON typnamespace = ns.oid
WHERE typname = 'hstore';

-- purpose: end of get_oids transaction / pool reset-on-return [SAP]
ROLLBACK;

-- purpose: dialect initialize: server version (regex on 'PostgreSQL X.Y') [SA _get_server_version_info]
select pg_catalog.version();

-- purpose: dialect initialize: default schema [SA _get_default_schema_name]
select current_schema();

-- purpose: dialect initialize: default isolation level [SA get_isolation_level]
show transaction isolation level;

-- purpose: dialect initialize (server >= 8.2): backslash escapes [SA initialize]
show standard_conforming_strings;

-- purpose: Superset 'Test connection' / pool_pre_ping: dialect.do_ping [SAD]
SELECT 1;

-- purpose: Superset catalogs (databases) list [SS get_catalog_names]

SELECT datname FROM pg_database
WHERE datistemplate = false;

-- purpose: schema list (Inspector.get_schema_names) [SA]
SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' ORDER BY nspname;

-- purpose: table list, :schema='lake' [SA get_table_names] (Superset also adds foreign tables)
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'lake' AND c.relkind in ('r', 'p');

-- purpose: foreign table list, :schema='lake' [SA _get_foreign_table_names] [SS get_table_names]
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'lake' AND c.relkind = 'f';

-- purpose: view list (plain + materialized), :schema='lake' [SA get_view_names]
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'lake' AND c.relkind IN ('v', 'm');

-- purpose: table existence check, :schema='lake', :name='orders' [SA has_table]
select relname from pg_class c join pg_namespace n on n.oid=c.relnamespace where n.nspname='lake' and relname='orders';

-- purpose: resolve table oid, :schema='lake', :table_name='orders' [SA get_table_oid]

            SELECT c.oid
            FROM pg_catalog.pg_class c
            LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE (n.nspname = 'lake')
            AND c.relname = 'orders' AND c.relkind in
            ('r', 'v', 'm', 'f', 'p');

-- purpose: column list, :table_oid=16384, server >= 12 branch [SA get_columns]

            SELECT a.attname,
              pg_catalog.format_type(a.atttypid, a.atttypmod),
              (
                SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid)
                FROM pg_catalog.pg_attrdef d
                WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum
                AND a.atthasdef
              ) AS DEFAULT,
              a.attnotnull,
              a.attrelid as table_oid,
              pgd.description as comment,
              a.attgenerated as generated,
                (SELECT json_build_object(
                    'always', a.attidentity = 'a',
                    'start', s.seqstart,
                    'increment', s.seqincrement,
                    'minvalue', s.seqmin,
                    'maxvalue', s.seqmax,
                    'cache', s.seqcache,
                    'cycle', s.seqcycle)
                FROM pg_catalog.pg_sequence s
                JOIN pg_catalog.pg_class c on s.seqrelid = c."oid"
                WHERE c.relkind = 'S'
                AND a.attidentity != ''
                AND s.seqrelid = pg_catalog.pg_get_serial_sequence(
                    a.attrelid::regclass::text, a.attname
                )::regclass::oid
                ) as identity_options
            FROM pg_catalog.pg_attribute a
            LEFT JOIN pg_catalog.pg_description pgd ON (
                pgd.objoid = a.attrelid AND pgd.objsubid = a.attnum)
            WHERE a.attrelid = 16384
            AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum;

-- purpose: domains, loaded by every get_columns call [SA _load_domains]

            SELECT t.typname as "name",
               pg_catalog.format_type(t.typbasetype, t.typtypmod) as "attype",
               not t.typnotnull as "nullable",
               t.typdefault as "default",
               pg_catalog.pg_type_is_visible(t.oid) as "visible",
               n.nspname as "schema"
            FROM pg_catalog.pg_type t
               LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
            WHERE t.typtype = 'd';

-- purpose: enums (schema='*' => no schema filter), loaded by every get_columns call [SA _load_enums]

            SELECT t.typname as "name",
               -- no enum defaults in 8.4 at least
               -- t.typdefault as "default",
               pg_catalog.pg_type_is_visible(t.oid) as "visible",
               n.nspname as "schema",
               e.enumlabel as "label"
            FROM pg_catalog.pg_type t
                 LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                 LEFT JOIN pg_catalog.pg_enum e ON t.oid = e.enumtypid
            WHERE t.typtype = 'e'
        ORDER BY "schema", "name", e.oid;

-- purpose: primary key columns, :table_oid=16384 (server >= 8.4) [SA get_pk_constraint]

                SELECT a.attname
                FROM pg_attribute a JOIN (
                    SELECT unnest(ix.indkey) attnum,
                           generate_subscripts(ix.indkey, 1) ord
                    FROM pg_index ix
                    WHERE ix.indrelid = 16384 AND ix.indisprimary
                    ) k ON a.attnum=k.attnum
                WHERE a.attrelid = 16384
                ORDER BY k.ord;

-- purpose: primary key constraint name [SA get_pk_constraint]

        SELECT conname
           FROM  pg_catalog.pg_constraint r
           WHERE r.conrelid = 16384 AND r.contype = 'p'
           ORDER BY 1;

-- purpose: foreign keys (parsed from pg_get_constraintdef), :table=16384 [SA get_foreign_keys]

          SELECT r.conname,
                pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
                n.nspname as conschema
          FROM  pg_catalog.pg_constraint r,
                pg_namespace n,
                pg_class c

          WHERE r.conrelid = 16384 AND
                r.contype = 'f' AND
                c.oid = confrelid AND
                n.oid = c.relnamespace
          ORDER BY 1;

-- purpose: indexes, :table_oid=16384, server >= 11 branch [SA get_indexes]

              SELECT
                  i.relname as relname,
                  ix.indisunique, ix.indexprs,
                  a.attname, a.attnum, c.conrelid, ix.indkey::varchar,
                  ix.indoption::varchar, i.reloptions, am.amname,
                  pg_get_expr(ix.indpred, ix.indrelid),
                  ix.indnkeyatts as indnkeyatts
              FROM
                  pg_class t
                        join pg_index ix on t.oid = ix.indrelid
                        join pg_class i on i.oid = ix.indexrelid
                        left outer join
                            pg_attribute a
                            on t.oid = a.attrelid and a.attnum = ANY(ix.indkey)
                        left outer join
                            pg_constraint c
                            on (ix.indrelid = c.conrelid and
                                ix.indexrelid = c.conindid and
                                c.contype in ('p', 'u', 'x'))
                        left outer join
                            pg_am am
                            on i.relam = am.oid
              WHERE
                  t.relkind IN ('r', 'v', 'f', 'm', 'p')
                  and t.oid = 16384
                  and ix.indisprimary = 'f'
              ORDER BY
                  t.relname,
                  i.relname;

-- purpose: table comment, :table_oid=16384 [SA get_table_comment]

            SELECT
                pgd.description as table_comment
            FROM
                pg_catalog.pg_description pgd
            WHERE
                pgd.objsubid = 0 AND
                pgd.objoid = 16384;

-- purpose: SQL Lab prequery when a schema is selected [SS get_prequeries]
set search_path = "lake";

-- purpose: SQL Lab: backend pid for query cancellation [SS get_cancel_query_id]
SELECT pg_backend_pid();

-- purpose: table preview in SQL Lab / dataset 'SELECT *' (select_star, limit=100, formatted) [SSB] -- reconstructed rendering of select(*).select_from(text('lake.orders')).limit(100)
SELECT *
FROM lake.orders
LIMIT 100;
