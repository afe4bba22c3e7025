-- psqlODBC (PostgreSQL ODBC driver) -- connect-time and catalog (SQLTables/SQLColumns/SQLPrimaryKeys) queries.
-- Used by Tableau's legacy ODBC PostgreSQL path, Power BI/Excel "ODBC" sources, and other ODBC tools.
-- Source: github.com/postgresql-interfaces/psqlodbc @ bc439e8fc144d8f0810d4497bbcdbf1018e6492e (REL-18_00_0002+4, 2026-08):
--   connection.c (LIBPQ_CC_connect, CC_connect, CC_lookup_lo, CC_send_client_encoding, CC_get_max_idlen, CC_get_current_schema,
--   isolation SET statements), info.c (PGAPI_Tables, PGAPI_Columns, PGAPI_PrimaryKeys, TABLE_IN_RELKIND, gen_opestr),
--   convert.c ("declare \"%s\"%s cursor%s for " with cursor name "SQL_CUR%p"), qresult.c ("fetch %d in \"%s\"", "close \"%s\"").
-- standard_conforming_strings=on assumed, so no E'' prefixes ("like " / "operator(pg_catalog.=) ").

-- purpose: connect: check DateStyle [connection.c LIBPQ_CC_connect] (the wire text carries a trailing semicolon)
SHOW DateStyle;

-- purpose: connect: isolation level when DateStyle already ISO (if not ISO the driver instead sends SET DateStyle = 'ISO' and show transaction_isolation as ONE semicolon-joined simple query)
show transaction_isolation;

-- purpose: connect: large-object type lookup [CC_lookup_lo]
select oid, typbasetype from pg_type where typname = 'lo';

-- purpose: connect: client encoding, only if the server-reported client_encoding differs (Unicode driver => UTF8) [CC_send_client_encoding]
set client_encoding to 'UTF8';

-- purpose: current schema, used to default the schema argument of catalog calls [CC_get_current_schema]
select current_schema();

-- purpose: max identifier length (SQLGetInfo) [CC_get_max_idlen]
show max_identifier_length;

-- purpose: SQLSetConnectAttr(SQL_ATTR_TXN_ISOLATION) [connection.c]
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;

-- purpose: SQLTables(schema list: catalog='', schema='%', table='') [PGAPI_Tables list_schemas]
select NULL, nspname, NULL from pg_catalog.pg_namespace n where true and nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'pg_temp_1') order by nspname;

-- purpose: SQLTables(table types) [PGAPI_Tables list_table_types]
select NULL, NULL, relkind from (select 'r' as relkind union select 'v' union select 'm' union select 'f' union select 'p') as a;

-- purpose: SQLTables(NULL, 'lake', '%', 'TABLE,VIEW') [PGAPI_Tables]
select relname, nspname, relkind from pg_catalog.pg_class c, pg_catalog.pg_namespace n where relkind in ('r', 'v', 'm', 'f', 'p') and nspname like 'lake' and relname like '%' and nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'pg_temp_1') and n.oid = relnamespace order by nspname, relname;

-- purpose: SQLColumns(NULL, 'lake', 'orders', '%') (server >= 12) [PGAPI_Columns]
select n.nspname, c.relname, a.attname, a.atttypid, t.typname, a.attnum, a.attlen, a.atttypmod, a.attnotnull, c.relhasrules, c.relkind, c.oid, pg_get_expr(d.adbin, d.adrelid), case t.typtype when 'd' then t.typbasetype else 0 end, t.typtypmod, 0, attidentity, c.relhassubclass from (((pg_catalog.pg_class c inner join pg_catalog.pg_namespace n on n.oid = c.relnamespace and c.relname like 'orders' and n.nspname like 'lake') inner join pg_catalog.pg_attribute a on (not a.attisdropped) and a.attnum operator(pg_catalog.>) 0 and a.attname like '%' and a.attrelid operator(pg_catalog.=) c.oid) inner join pg_catalog.pg_type t on t.oid operator(pg_catalog.=) a.atttypid) left outer join pg_attrdef d on a.atthasdef and d.adrelid operator(pg_catalog.=) a.attrelid and d.adnum operator(pg_catalog.=) a.attnum order by n.nspname, c.relname, attnum;

-- purpose: SQLPrimaryKeys(NULL, 'lake', 'orders') (server >= 11, first strategy) [PGAPI_PrimaryKeys]
select ta.attname, ia.attnum, ic.relname, n.nspname, tc.relname from pg_catalog.pg_attribute ta, pg_catalog.pg_attribute ia, pg_catalog.pg_class tc, pg_catalog.pg_index i, pg_catalog.pg_namespace n, pg_catalog.pg_class ic where tc.relname operator(pg_catalog.=) 'orders' AND n.nspname operator(pg_catalog.=) 'lake' AND tc.oid operator(pg_catalog.=) i.indrelid AND n.oid operator(pg_catalog.=) tc.relnamespace AND i.indisprimary operator(pg_catalog.=) 't' AND ia.attrelid operator(pg_catalog.=) i.indexrelid AND ta.attrelid operator(pg_catalog.=) i.indrelid AND ta.attnum operator(pg_catalog.=) i.indkey[ia.attnum-1] AND (NOT ta.attisdropped) AND (NOT ia.attisdropped) AND ic.oid operator(pg_catalog.=) i.indexrelid AND ia.attnum operator(pg_catalog.<=) i.indnkeyatts order by ia.attnum;

-- purpose: UseDeclareFetch=1 (Tableau's classic PostgreSQL ODBC settings): result read through a cursor inside a transaction [convert.c], cursor name is SQL_CUR<stmt pointer>
BEGIN;

-- purpose: ... declare [convert.c] (prefix and cursor naming from source, "with hold" only when the statement is marked with-hold, inner SELECT illustrative)
declare "SQL_CUR0x1f2e3d4c5b6a" cursor with hold for SELECT * FROM "lake"."orders";

-- purpose: ... fetch in chunks of Fetch=N rows [qresult.c]
fetch 100 in "SQL_CUR0x1f2e3d4c5b6a";

-- purpose: ... close [qresult.c]
close "SQL_CUR0x1f2e3d4c5b6a";
