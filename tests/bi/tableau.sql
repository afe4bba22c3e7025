-- Tableau Desktop/Server, built-in PostgreSQL connector (JDBC-based in current releases: Tableau ships/asks for pgjdbc 42.x).
-- Tableau is closed source. What is sourced:
--  [SDK] tableau/connector-plugin-sdk @ cdf746b322da944bc386e01dc24ed593b69758b7:
--        samples/plugins/postgres_jdbc/{manifest.xml,dialect.tdd,connectionBuilder.js} (jdbc:postgresql://host:port/db URL,
--        CAP_QUERY_WHERE_FALSE_METADATA=yes, CAP_CREATE_TEMP_TABLES=no, format-select "SELECT %1" "FROM %1" ... "LIMIT %1"),
--        and gh-pages @ d92d181e8ed8d0b425df2bc0512b59efa8c0ece6 docs/metadata-enumeration.md: by default Tableau enumerates
--        JDBC metadata with DatabaseMetaData getCatalogs/getSchemas/getTables/getColumns (+ primary keys, foreign keys,
--        index info unless disabled) and can read a table's result-set metadata with "select * from <table> where 1=0".
--  [PGJ] The DatabaseMetaData calls are pgjdbc queries, copied from pgjdbc.sql (pgjdbc @ 3a699d57, REL42.7.13+13).
--  Legacy ODBC PostgreSQL connections (older Tableau) go through psqlODBC instead: see psqlodbc.sql (DECLARE/FETCH cursors).
--  Issue risingwavelabs/risingwave#10459 reports Tableau 2023.2 needing client_min_messages, client_encoding,
--  extra_float_digits and timezone settings at connect, the exact statement text was not available -> not listed.
-- Anything marked "reconstructed" is the shape implied by dialect.tdd / the SDK docs, not a captured statement.

-- purpose: pgjdbc connect (server_version < 12 only) [PGJ]
SET extra_float_digits = 3;

-- purpose: pgjdbc connect: default application name [PGJ]
SET application_name = 'PostgreSQL JDBC Driver';

-- purpose: database list: DatabaseMetaData.getCatalogs() ('Database' picker) [SDK][PGJ]
SELECT datname AS "TABLE_CAT" FROM pg_catalog.pg_database WHERE datallowconn = true ORDER BY datname;

-- purpose: schema list: DatabaseMetaData.getSchemas() [SDK][PGJ]
SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG" FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY "TABLE_SCHEM";

-- purpose: table list: DatabaseMetaData.getTables(null, 'lake', '%', types) [SDK][PGJ] (type list Tableau passes is not public, pgjdbc text for TABLE/VIEW/MATERIALIZED VIEW/FOREIGN TABLE/PARTITIONED TABLE)
SELECT current_database() AS "TABLE_CAT", n.nspname AS "TABLE_SCHEM", c.relname AS "TABLE_NAME",  CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind   WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN 'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN 'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'P' then 'PARTITIONED INDEX'  WHEN 'S' THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE'  WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS "TABLE_TYPE", d.description AS "REMARKS",  '' as "TYPE_CAT", '' as "TYPE_SCHEM", '' as "TYPE_NAME", '' AS "SELF_REFERENCING_COL_NAME", '' AS "REF_GENERATION"  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND n.nspname LIKE 'lake' AND c.relname LIKE '%' AND (false  OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' )  OR ( c.relkind = 'v' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' )  OR ( c.relkind = 'm' )  OR ( c.relkind = 'f' )  OR ( c.relkind = 'p' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ) )  ORDER BY "TABLE_TYPE","TABLE_SCHEM","TABLE_NAME" ;

-- purpose: column list: DatabaseMetaData.getColumns(null, 'lake', 'orders', '%') [SDK][PGJ]
SELECT * FROM (SELECT current_database() AS current_database, n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull  OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname LIKE 'lake' AND c.relname LIKE 'orders') c WHERE true  AND attname LIKE '%' ORDER BY nspname,c.relname,attnum ;

-- purpose: primary keys: DatabaseMetaData.getPrimaryKeys(null, 'lake', 'orders') [SDK][PGJ]
SELECT        result.TABLE_CAT AS "TABLE_CAT",        result.TABLE_SCHEM AS "TABLE_SCHEM",        result.TABLE_NAME AS "TABLE_NAME",        result.COLUMN_NAME AS "COLUMN_NAME",        result.KEY_SEQ AS "KEY_SEQ",        result.PK_NAME AS "PK_NAME"FROM      (SELECT current_database() AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(con.conkey)).n AS KEY_SEQ, con.conname AS PK_NAME,   information_schema._pg_expandarray(con.conkey) AS KEYS, a.attnum AS A_ATTNUM FROM pg_catalog.pg_constraint con   JOIN pg_catalog.pg_class ct ON (con.conrelid = ct.oid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_attribute a ON (a.attrelid = ct.oid) WHERE con.contype = 'p'  AND n.nspname = 'lake' AND ct.relname = 'orders' ) result where  result.A_ATTNUM = (result.KEYS).x  ORDER BY result.table_name, result.pk_name, result.key_seq;

-- purpose: max_index_keys, needed before getImportedKeys [PGJ]
SELECT setting FROM pg_catalog.pg_settings WHERE name='max_index_keys';

-- purpose: foreign keys: DatabaseMetaData.getImportedKeys(null, 'lake', 'orders') [SDK][PGJ]
SELECT current_database() AS "PKTABLE_CAT", pkn.nspname AS "PKTABLE_SCHEM", pkc.relname AS "PKTABLE_NAME", pka.attname AS "PKCOLUMN_NAME", current_database() AS "FKTABLE_CAT", fkn.nspname AS "FKTABLE_SCHEM", fkc.relname AS "FKTABLE_NAME", fka.attname AS "FKCOLUMN_NAME", pos.n AS "KEY_SEQ", CASE con.confupdtype  WHEN 'c' THEN 0 WHEN 'n' THEN 2 WHEN 'd' THEN 4 WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'a' THEN 3 ELSE NULL END AS "UPDATE_RULE", CASE con.confdeltype  WHEN 'c' THEN 0 WHEN 'n' THEN 2 WHEN 'd' THEN 4 WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'a' THEN 3 ELSE NULL END AS "DELETE_RULE", con.conname AS "FK_NAME", pkic.relname AS "PK_NAME", CASE  WHEN con.condeferrable AND con.condeferred THEN 5 WHEN con.condeferrable THEN 6 ELSE 7 END AS "DEFERRABILITY"  FROM  pg_catalog.pg_namespace pkn, pg_catalog.pg_class pkc, pg_catalog.pg_attribute pka,  pg_catalog.pg_namespace fkn, pg_catalog.pg_class fkc, pg_catalog.pg_attribute fka,  pg_catalog.pg_constraint con,  pg_catalog.generate_series(1, 32) pos(n),  pg_catalog.pg_class pkic WHERE pkn.oid = pkc.relnamespace AND pkc.oid = pka.attrelid AND pka.attnum = con.confkey[pos.n] AND con.confrelid = pkc.oid  AND fkn.oid = fkc.relnamespace AND fkc.oid = fka.attrelid AND fka.attnum = con.conkey[pos.n] AND con.conrelid = fkc.oid  AND con.contype = 'f' AND (pkic.relkind = 'i' OR pkic.relkind = 'I') AND pkic.oid = con.conindid  AND fkn.nspname = 'lake' AND fkc.relname = 'orders' ORDER BY pkn.nspname,pkc.relname, con.conname,pos.n;

-- purpose: result-set metadata of the table (CAP_QUERY_WHERE_FALSE_METADATA / CAP_JDBC_METADATA_USE_RESULTSET_FOR_TABLE) [SDK] -- reconstructed: identifier quoting and exact spacing not captured
SELECT * FROM "lake"."orders" WHERE 1=0;

-- purpose: pgjdbc result-column type-name lookup triggered by the metadata query [PGJ]
SELECT n.nspname = ANY(current_schemas(true)), n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid WHERE t.oid = 1043;

-- purpose: Data Source page preview / 'View Data' (1000 rows) -- reconstructed from dialect.tdd format-select ('LIMIT %1') and Tableau's usual alias style
SELECT "orders"."order_id" AS "order_id",
  "orders"."customer_id" AS "customer_id",
  "orders"."shipping" AS "shipping",
  "orders"."order_ts" AS "order_ts"
FROM "lake"."orders" "orders"
LIMIT 1000;

-- purpose: typical viz query: SUM by day (dialect.tdd DATE_TRUNC style) -- reconstructed
SELECT CAST(DATE_TRUNC('DAY', CAST("orders"."order_ts" AS DATE)) AS DATE) AS "tdy:order_ts:ok",
  SUM("orders"."shipping") AS "sum:shipping:ok"
FROM "lake"."orders" "orders"
GROUP BY 1;
