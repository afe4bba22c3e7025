-- Grafana PostgreSQL datasource (core plugin "grafana-postgresql-datasource", backend uses jackc/pgx v5 pgxpool).
-- Sources (grafana/grafana, file versions from the code index):
--  [META] public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @ 12f912ab8d010f4d95a4043a0efaa20fc4ca0100
--         (getVersion, getTimescaleDBVersion, showSchemas, showTables, getSchema, template literals reproduced exactly)
--  [DS]   .../grafana-postgresql-datasource/datasource.ts @ 04282cd93150390a7d83089cc520d96546d576a8 (fetchTables -> showTables(), fetchFields -> getSchema(table))
--  [AUTO] .../configuration/useAutoDetectFeatures.ts @ 3af0110a (version + timescaledb detection when a datasource is created/saved)
--  [HC]   pkg/tsdb/grafana-postgresql-datasource/pgx/handler_checkhealth.go @ 1b13755c: CheckHealth -> e.Ping(ctx) ->
--         pgxpool Ping -> pgconn.PgConn.Ping = pgConn.Exec(ctx, "-- ping") (jackc/pgx v5 pgconn/pgconn.go), a simple-protocol comment-only query.
--  [SDS]  pkg/tsdb/grafana-postgresql-datasource/schema.go @ 043dd88a (newer "schemads" schema API, pgx extended protocol, $1/$2 substituted)
--  [UTIL] .../grafana-postgresql-datasource/sqlUtil.ts @ 1137a659 toRawSql (visual query builder) and
--  [MAC]  pkg/tsdb/grafana-postgresql-datasource/macros.go @ 02ab314b ($__timeFilter / $__timeGroupAlias expansion).
--  [DFP]  datafusion-contrib/datafusion-postgres datafusion-postgres/tests/grafana.rs @ 4c18f5ad -- a capture of the showTables()/getSchema() queries.
-- Grafana sends no SET/SHOW statements at connect (none found in the plugin source).
-- pgx default exec mode (cache statement) uses Parse/Describe/Bind/Execute: the server must answer Describe with correct param/row types.

-- purpose: health check ("Save & test") -- pgconn Ping [HC]. The wire query string is exactly "-- ping" (comment only -> EmptyQueryResponse), the lone semicolon line below is only a file separator
-- ping
;

-- purpose: server version detection on datasource creation [META getVersion] [AUTO]
SELECT current_setting('server_version_num')::int/100 as version;

-- purpose: TimescaleDB detection when version >= 906 [META getTimescaleDBVersion] [AUTO]
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';

-- purpose: schema list [META showSchemas]
SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name;

-- purpose: table list for the query-builder dataset/table picker: tables in search_path unqualified, others schema-qualified [META showTables()] [DS fetchTables] [DFP]
SELECT
    CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          ) THEN 0 ELSE 1 END, 1;

-- purpose: table list for one schema [META showTables(schema)]
SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'lake'
      ORDER BY 1;

-- purpose: column list for the selected table 'lake.orders' [META getSchema] [DS fetchFields] [DFP]
SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('lake.orders'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('lake.orders'))[1]
          AND quote_ident(table_name) = (parse_ident('lake.orders'))[2]
        ELSE quote_ident(table_name) = 'lake.orders'
          AND 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      END;

-- purpose: schemads: schema list [SDS querySchemas]
SELECT schema_name FROM information_schema.schemata
		 WHERE schema_name NOT LIKE 'pg_%' AND schema_name != 'information_schema'
		 ORDER BY schema_name;

-- purpose: schemads: table list, $1='lake' [SDS queryTables]
SELECT table_name FROM information_schema.tables
		 WHERE table_schema = 'lake' AND table_type IN ('BASE TABLE', 'VIEW')
		 ORDER BY table_name;

-- purpose: schemads: column list, $1='lake', $2='orders' [SDS queryColumns]
SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale
		 FROM information_schema.columns
		 WHERE table_schema = 'lake' AND table_name = 'orders'
		 ORDER BY ordinal_position;

-- purpose: schemads: distinct values for filter pickers (one UNION ALL arm per column) [SDS ColumnValues]
SELECT 'status' AS col_name, "status"::text AS val FROM (SELECT DISTINCT "status" FROM "lake"."orders" WHERE "status" IS NOT NULL ORDER BY "status" LIMIT 100) sub_0;

-- purpose: table preview from the visual query builder (default limit 50, note trailing space) [UTIL toRawSql] -- reconstructed: columns list rendered by @grafana/sql createSelectClause
SELECT order_id, customer_id, shipping, order_ts FROM lake.orders LIMIT 50 ;

-- purpose: time-series panel query after macro expansion: $__timeGroupAlias(created_at,'1h'), $__timeFilter(created_at) [MAC] -- user SQL shape reconstructed
SELECT floor(extract(epoch from order_ts)/3600)*3600 AS "time", sum(shipping) AS "shipping" FROM lake.orders WHERE order_ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-02T00:00:00Z' GROUP BY 1 ORDER BY 1;
