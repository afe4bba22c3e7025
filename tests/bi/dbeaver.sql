-- DBeaver (PostgreSQL plugin org.jkiss.dbeaver.ext.postgresql, on top of pgjdbc -- see pgjdbc.sql for the driver's own queries).
-- Sources:
--  [DB] dbeaver/dbeaver @ 2428359b748778a5a345432906ab3da69289c20c (24.2.3+21, 2024-10-24), plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/:
--       model/PostgreDataSource.java (initialize, prepareReadDatabaseListStatement, SettingCache), PostgreUtils.java (getQueryForSystemColumnChecking),
--       model/PostgreExecutionContext.java (refreshDefaults), model/PostgreDatabase.java (readDatabaseInfo, SchemaCache, enum cache),
--       model/PostgreDataTypeCache.java (prepareObjectsStatement), model/PostgreSchema.java (TableCache, columns, ConstraintCache, IndexCache,
--       collectObjectStatistics), model/PostgreNamespace.java (getObjectByName),
--       plugins/org.jkiss.dbeaver.model.jdbc/.../struct/JDBCTable.java (readData) + plugins/org.jkiss.dbeaver.model/.../impl/sql/QueryTransformerLimit.java
--       (PostgreDataSource uses QueryTransformerLimit(false, true) => "\nLIMIT n").
--  [DFP] datafusion-contrib/datafusion-postgres datafusion-postgres/tests/dbeaver.rs @ 4c18f5ad: a capture from DBeaver 25.1.5 (used for
--       the application_name SET and the pg_get_keywords query, which are not in the 24.2.3 snapshot's PostgreSQL plugin).
-- Statements are pgjdbc PreparedStatements ('?' -> $n), literal values substituted: schema 'lake' oid 16385, table 'orders' oid 16384,
-- pg_catalog oid 11, database 'datapunk'.

-- purpose: pgjdbc runInitialQueries (server_version < 12 only) [DFP]
SET extra_float_digits = 3;

-- purpose: pgjdbc default application name (sent as SET when not in startup packet) [DFP]
SET application_name = 'PostgreSQL JDBC Driver';

-- purpose: DBeaver sets ApplicationName via Connection.setClientInfo (PostgreDataSource.java:579) -> pgjdbc sends SET [DFP]
SET application_name = 'DBeaver 25.1.5 - Main <datapunk>';

-- purpose: database list when 'Show all databases' is enabled (bootstrap connection, '?' = connection db name) [DB prepareReadDatabaseListStatement]
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1 AND datallowconn AND NOT datistemplate OR db.datname ='datapunk'
ORDER BY db.datname;

-- purpose: current database when not known [DB loadAvailableDatabases]
SELECT current_database();

-- purpose: server version string [DB PostgreDataSource.initialize]
SELECT version();

-- purpose: feature probe: pg_enum exists (server >= 12) [DB initialize -> PostgreUtils.isMetaObjectExists]
SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1;

-- purpose: feature probe: pg_class.reltype exists [DB initialize]
SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1;

-- purpose: feature probe: pg_type.typcategory exists (before type cache) [DB PostgreDatabase.supportsSysTypCategoryColumn]
SELECT typcategory FROM pg_catalog.pg_type WHERE 1<>1 LIMIT 1;

-- purpose: context defaults: active schema + user [DB PostgreExecutionContext.refreshDefaults]
SELECT current_schema(),session_user;

-- purpose: search path [DB PostgreExecutionContext.refreshDefaults]
SHOW search_path;

-- purpose: current database info (datname=?) [DB PostgreDatabase.readDatabaseInfo]
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='datapunk';

-- purpose: preload setting standard_conforming_strings (name=?) [DB SettingCache]
select * from pg_catalog.pg_settings where name='standard_conforming_strings';

-- purpose: SQL keywords for the editor (DBeaver 25.x, list literal abridged here -- the real literal holds ~900 SQL-standard words, see tests/dbeaver.rs) [DFP]
SELECT string_agg(word, ',' ) from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,and,any,are,array,as,asc}'::text[]);

-- purpose: schema list [DB PostgreDatabase.SchemaCache]
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
 ORDER BY nspname;

-- purpose: data types of a schema, run for pg_catalog (typnamespace=11) at connect and for each opened schema [DB PostgreDataTypeCache]
SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem 
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.typname IS NOT NULL
AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C')
AND t.typnamespace=11 ;

-- purpose: enum values (server >= 12 and pg_enum present) [DB PostgreDatabase enum cache]
SELECT * FROM pg_catalog.pg_enum;

-- purpose: table/view list of schema 'lake' (relnamespace=?) (server >= 10) [DB PostgreSchema.TableCache]
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace=16385 AND c.relkind not in ('i','I','c');

-- purpose: relation sizes for the schema (statistics) [DB PostgreSchema.collectObjectStatistics]
select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size
FROM pg_class c
WHERE c.relnamespace=16385;

-- purpose: column list of table lake.orders (c.oid=?) [DB PostgreSchema.TableCache.prepareChildrenStatement]
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=16384
ORDER BY a.attnum;

-- purpose: constraints (PK/FK/unique/check) of lake.orders (c.conrelid=?) [DB PostgreSchema.ConstraintCache]
SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then "substring"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass
WHERE c.conrelid=16384
ORDER BY c.oid;

-- purpose: indexes of lake.orders (i.indrelid=?) [DB PostgreSchema.IndexCache]
SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE  i.indrelid=16384 ORDER BY c.relname;

-- purpose: object lookup by name (SQL editor navigation/completion) [DB PostgreNamespace.getObjectByName]
SELECT oid,relkind,reltype FROM pg_catalog.pg_class WHERE relnamespace=16385 AND relname='orders'
UNION ALL
SELECT oid,'c',oid FROM pg_catalog.pg_type WHERE typnamespace=16385 AND typname='orders';

-- purpose: data tab preview (default 200 rows, PostgreSQL LIMIT transformer appends '\nLIMIT n') [DB JDBCTable.readData + QueryTransformerLimit]
SELECT * FROM lake.orders
LIMIT 200;
