-- Metabase (PostgreSQL driver, on top of pgjdbc) -- connection test, sync, fingerprint and table preview.
-- Sources:
--  [CAP] A public GitHub capture file found via the code index (index file id 55699000340, its repo/path were not
--        returned by the index): "Captured from Metabase v0.62.1.5 syncing a real Postgres 16 with 2 demo tables".
--        Queries below marked [CAP] are copied verbatim from it, bound parameters ($n) replaced by the values the
--        capture reports, with schema 'public' -> 'lake' and table -> 'orders'.
--  [MB]  metabase/metabase src/metabase/driver/postgres.clj @ 008fd6675457cdd62da2265628bed3b725a607ea
--        (get-tables-sql, describe-fields-sql, describe-fks-sql, enum-types, current-user-table-privileges,
--        db-default-timezone "show timezone" and set-timezone-sql "SET SESSION TIMEZONE TO %s", both with a trailing semicolon in the source).
--        The [MB] HoneySQL forms agree with the [CAP] renderings.
--  [DFP] datafusion-contrib/datafusion-postgres datafusion-postgres/tests/metabase.rs @ 4c18f5ad (Metabase v0.55.1 capture),
--        which shows "SET extra_float_digits = 2" (pgjdbc sends 2 when server_version < 9.0, 3 when < 12, nothing when >= 12).
--  [JDBC] pgjdbc (see pgjdbc.sql): Metabase's JDBC metadata calls (getSchemas, getColumns, getPrimaryKeys) and
--        ResultSetMetaData lookups are pgjdbc queries.

-- purpose: pgjdbc runInitialQueries with ApplicationName=Metabase... [CAP #1]
SET application_name = 'Metabase v0.62.1.5 [d4fe74c4-96c3-4812-b3ae-35e513752b13]';

-- purpose: pgjdbc runInitialQueries on servers reporting version < 12 (here < 9.0 => 2) [DFP]
SET extra_float_digits = 2;

-- purpose: connection test / pool validation (can-connect?) [CAP #2]
SELECT 1;

-- purpose: pgjdbc Connection.getTransactionIsolation() [CAP #3]
SHOW TRANSACTION ISOLATION LEVEL;

-- purpose: pgjdbc Connection.getCatalog() [CAP #4]
select current_catalog;

-- purpose: Metabase sets READ UNCOMMITTED for sync/query connections via Connection.setTransactionIsolation [CAP #5]
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;

-- purpose: reset isolation when the connection returns to the pool [CAP #6]
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;

-- purpose: schema list (pgjdbc DatabaseMetaData.getSchemas) -> syncable-schemas [CAP #7]
SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG" FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY "TABLE_SCHEM";

-- purpose: table privileges (current-user-table-privileges) [CAP #8] [MB]
with table_privileges as (
	 select
	   NULL as role,
	   t.schemaname as schema,
	   t.objectname as table,
	   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
	   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
	   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
	   pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
	 from (
	   select schemaname, tablename as objectname from pg_catalog.pg_tables
	   union
	   select schemaname, viewname as objectname from pg_catalog.pg_views
	   union
	   select schemaname, matviewname as objectname from pg_catalog.pg_matviews
	 ) t
	 where t.schemaname !~ '^pg_'
	   and t.schemaname <> 'information_schema'
	   and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
	)
	select t.*
	from table_privileges t;

-- purpose: table list (get-tables-sql / describe-database) [CAP #9], params $1='0',$2='0',$3='^pg_',$4='information_schema',$5='lake'
SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", NULLIF("stat"."n_live_tup", '0') AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = '0') AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('lake')) ORDER BY "type" ASC, "schema" ASC, "name" ASC;

-- purpose: database default timezone (driver/db-default-timezone) [CAP #10] [MB]
show timezone;

-- purpose: enum type discovery before describe-fields (enum-types) [CAP #11] [MB]
SELECT nspname, typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e);

-- purpose: column list (describe-fields-sql) [CAP #12], params $1='ALWAYS', $2='lake', $3='lake'
SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO')) AS "database-required", "column_default" AS "database-default", (("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment", "is_generated" = 'ALWAYS' AS "database-is-generated", "is_nullable" = 'YES' AS "database-is-nullable" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND ("c"."table_schema" IN ('lake')) UNION ALL SELECT "pa"."attname" AS "name", CASE WHEN "ptn"."nspname" IN ('public', 'pg_catalog') THEN FORMAT('%s', "pt"."typname") ELSE FORMAT('"%s"."%s"', "ptn"."nspname", "pt"."typname") END AS "database-type", "pa"."attnum" - 1 AS "database-position", "pn"."nspname" AS "table-schema", "pc"."relname" AS "table-name", FALSE AS "pk?", NULL AS "field-comment", FALSE AS "database-required", NULL AS "database-default", FALSE AS "database-is-auto-increment", FALSE AS "database-is-generated", FALSE AS "database-is-nullable" FROM "pg_catalog"."pg_class" AS "pc" INNER JOIN "pg_catalog"."pg_namespace" AS "pn" ON "pn"."oid" = "pc"."relnamespace" INNER JOIN "pg_catalog"."pg_attribute" AS "pa" ON "pa"."attrelid" = "pc"."oid" INNER JOIN "pg_catalog"."pg_type" AS "pt" ON "pt"."oid" = "pa"."atttypid" INNER JOIN "pg_catalog"."pg_namespace" AS "ptn" ON "ptn"."oid" = "pt"."typnamespace" WHERE ("pc"."relkind" = 'm') AND ("pa"."attnum" >= 1) AND ("pn"."nspname" IN ('lake')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC;

-- purpose: pgjdbc DatabaseMetaData.getColumns('lake','orders') (nested-field / JSON column checks) [CAP #13]
SELECT * FROM (SELECT current_database() AS current_database, n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull  OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname LIKE 'lake' AND c.relname LIKE 'orders') c WHERE true  ORDER BY nspname,c.relname,attnum;

-- purpose: pgjdbc DatabaseMetaData.getPrimaryKeys('lake','orders') -- older pgjdbc (42.7.x) pg_index form, one call per table [CAP #14]
SELECT        result.TABLE_CAT AS "TABLE_CAT",        result.TABLE_SCHEM AS "TABLE_SCHEM",        result.TABLE_NAME AS "TABLE_NAME",        result.COLUMN_NAME AS "COLUMN_NAME",        result.KEY_SEQ AS "KEY_SEQ",        result.PK_NAME AS "PK_NAME"FROM      (SELECT current_database() AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM, i.indnkeyatts as KEY_COUNT FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true  AND n.nspname = 'lake' AND ct.relname = 'orders' AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x AND result.KEY_SEQ <= KEY_COUNT  ORDER BY result.table_name, result.pk_name, result.key_seq;

-- purpose: foreign keys (describe-fks-sql) [CAP #15] [MB], $1='lake'
SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", "fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", "pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" WHERE fk_ns.nspname !~ '^information_schema|catalog_history|pg_' AND ("c"."contype" = 'f'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) AND ("pk_column"."attnum" = ANY(c.confkey)) AND ("fk_ns"."nspname" IN ('lake')) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC;

-- purpose: fingerprinting / sample rows for analysis (text columns truncated with SUBSTRING) [CAP #16, shape]
-- Metabase
	SELECT SUBSTRING("lake"."orders"."status", 1, 1234) AS "substring4476" FROM "lake"."orders" LIMIT 10000;

-- purpose: fingerprinting sample of non-text columns [CAP #17]
-- Metabase
	SELECT "lake"."orders"."customer_id" AS "customer_id", "lake"."orders"."shipping" AS "shipping", "lake"."orders"."order_ts" AS "order_ts" FROM "lake"."orders" LIMIT 10000;

-- purpose: pgjdbc ResultSetMetaData (isNullable/isAutoIncrement/getBaseColumnName) for result columns of table oid 16384 [CAP #18]
SELECT c.oid, a.attnum, a.attname, c.relname, n.nspname, a.attnotnull OR (t.typtype = 'd' AND t.typnotnull), a.attidentity != '' OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%' FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON (c.relnamespace = n.oid) JOIN pg_catalog.pg_attribute a ON (c.oid = a.attrelid) JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid) LEFT JOIN pg_catalog.pg_attrdef d ON (d.adrelid = a.attrelid AND d.adnum = a.attnum) JOIN (SELECT 16384 AS oid , 2 AS attnum UNION ALL SELECT 16384, 3 UNION ALL SELECT 16384, 4) vals ON (c.oid = vals.oid AND a.attnum = vals.attnum) where c.oid in (16384);

-- purpose: report-timezone setting when configured (set-timezone-sql format string, timezone literal quoted) [MB] -- rendering of the value reconstructed
SET SESSION TIMEZONE TO 'UTC';

-- purpose: GUI question row count [CAP #20]
-- Metabase:: userID: 1 queryType: MBQL queryHash: a54de39466cbf3e82ff09c5a9a2bccf1f922bf9fd59b2717c1ad5e09a1c0bfbc
	SELECT COUNT(*) AS "count" FROM "lake"."orders";

-- purpose: table preview (GUI "view data", MBQL default limit 2000) -- reconstructed from the [CAP #17]/[CAP #20] rendering pattern
-- Metabase:: userID: 1 queryType: MBQL queryHash: 0000000000000000000000000000000000000000000000000000000000000000
	SELECT "lake"."orders"."order_id" AS "order_id", "lake"."orders"."customer_id" AS "customer_id", "lake"."orders"."shipping" AS "shipping", "lake"."orders"."order_ts" AS "order_ts" FROM "lake"."orders" LIMIT 2000;
