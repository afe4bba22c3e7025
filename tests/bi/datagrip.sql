-- JetBrains DataGrip (PostgreSQL driver = pgjdbc 42.7.x + DataGrip's own introspector). DataGrip is closed source, sources are captures/extracts:
--  [DFP] datafusion-contrib/datafusion-postgres datafusion-postgres/tests/datagrip.rs @ 6055b840b6a45648a374d02582b605667a75ef02
--        (server log capture from DataGrip 2025.2.3, also in issue datafusion-contrib/datafusion-postgres#165). Copied verbatim.
--  [PIQ] Public GitHub doc found via the code index (file id 70124121714, repo/path not returned by the index) quoting the PG18
--        non-incremental branch of com/intellij/database/dialects/postgres/introspector/PgIntroQueries.sql extracted from
--        DataGrip 2025.1.3 (build 251.26094.87) database-plugin.jar (template SHA-256 d5c90888...). Template ':schema_id::oid'
--        is sent by JDBC as '?::oid' / '$1::oid', here substituted with the 'lake' schema oid 16385.
--  [CAPT] Public GitHub file (index id 70079507497): RetrieveTables as logged by DataGrip, including the commented-out
--        incremental fragments ('--  and pg_catalog.age(T.xmin) <= #TXAGE') that DataGrip leaves in the text it sends.
--  pgjdbc-originated queries (SET extra_float_digits, TypeInfoCache lookups) are as in pgjdbc.sql.

-- purpose: pgjdbc runInitialQueries (server_version < 12) [DFP]
SET extra_float_digits = 3;

-- purpose: pgjdbc application_name (DataGrip passes an empty ApplicationName first) [DFP]
SET application_name = '';

-- purpose: version probe [DFP]
select version();

-- purpose: DataGrip sets its application name via setClientInfo [DFP]
SET application_name = 'DataGrip 2025.2.3';

-- purpose: current database and search-path schemas [DFP]
select current_database() as a, current_schemas(false) as b;

-- purpose: pgjdbc getTransactionIsolation [DFP]
SHOW TRANSACTION ISOLATION LEVEL;

-- purpose: current db/schema/user for the console (issue #165 log) [DFP]
select current_database(), current_schema(), current_user;

-- purpose: server startup time (introspection cache validity) [DFP]
select round(extract(epoch from pg_postmaster_start_time() at time zone 'UTC')) as startup_time;

-- purpose: oldest open transaction (incremental introspection bookkeeping) [DFP]
select L.transactionid::varchar::bigint as transaction_id
        from pg_catalog.pg_locks L
        where L.transactionid is not null
        order by pg_catalog.age(L.transactionid) desc
        limit 1;

-- purpose: current txid [DFP]
select case
          when pg_catalog.pg_is_in_recovery()
            then null
          else
            (pg_catalog.txid_current() % 4294967296)::varchar::bigint
          end as current_txid;

-- purpose: database list [DFP]
select N.oid::bigint as id,
               datname as name,
               D.description,
               datistemplate as is_template,
               datallowconn as allow_connections,
               pg_catalog.pg_get_userbyid(N.datdba) as "owner"
        from pg_catalog.pg_database N
          left join pg_catalog.pg_shdescription D on N.oid = D.objoid
        order by case when datname = pg_catalog.current_database() then -1::bigint else N.oid::bigint end;

-- purpose: schema list [DFP]
select N.oid::bigint as id,
               N.xmin as state_number,
               nspname as name,
               D.description,
               pg_catalog.pg_get_userbyid(N.nspowner) as "owner"
        from pg_catalog.pg_namespace N
          left join pg_catalog.pg_description D on N.oid = D.objoid
        order by case when nspname = pg_catalog.current_schema() then -1::bigint else N.oid::bigint end;

-- purpose: pgjdbc TypeInfoCache.getSQLType for oid 28 (xid) from the state_number column [DFP]
SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE pg_type.oid = '28'  ORDER BY sp.r, pg_type.oid DESC;

-- purpose: DateStyle check [DFP]
show DateStyle;

-- purpose: time zone names for the console [DFP]
select name, is_dst from pg_catalog.pg_timezone_names
        union distinct
        select abbrev as name, is_dst from pg_catalog.pg_timezone_abbrevs;

-- purpose: roles [DFP]
select R.oid::bigint as role_id, rolname as role_name,
          rolsuper is_super, rolinherit is_inherit,
          rolcreaterole can_createrole, rolcreatedb can_createdb,
          rolcanlogin can_login, rolreplication /* false */ is_replication,
          rolconnlimit conn_limit, rolvaliduntil valid_until,
          rolbypassrls /* false */ bypass_rls, rolconfig config,
          D.description
        from pg_catalog.pg_roles R
          left join pg_catalog.pg_shdescription D on D.objoid = R.oid;

-- purpose: tablespaces (note the trailing commented-out incremental filter, sent as-is) [DFP]
select T.oid::bigint as id, T.spcname as name,
               T.xmin as state_number, pg_catalog.pg_get_userbyid(T.spcowner) as owner,
               pg_catalog.pg_tablespace_location(T.oid) /* null */ as location,
               T.spcoptions /* null */ as options,
               D.description as comment
        from pg_catalog.pg_tablespace T
          left join pg_catalog.pg_shdescription D on D.objoid = T.oid
        --  where pg_catalog.age(T.xmin) <= #TXAGE
;

-- purpose: SSL status [DFP]
select ssl from pg_stat_ssl where pid = pg_backend_pid();

-- purpose: RetrieveTables for schema 'lake' (wire form with disabled fragments as comments, ?::oid -> 16385) [CAPT] [PIQ]
select T.relkind as table_kind,
       T.relname as table_name,
       T.oid as table_id,
       T.xmin as table_state_number,
       false /* T.relhasoids */ as table_with_oids,
       T.reltablespace as tablespace_id,
       T.reloptions as options,
       T.relpersistence as persistence,
       (select pg_catalog.array_agg(inhparent::bigint order by inhseqno)::varchar from pg_catalog.pg_inherits where T.oid = inhrelid) as ancestors,
       (select pg_catalog.array_agg(inhrelid::bigint order by inhrelid)::varchar from pg_catalog.pg_inherits where T.oid = inhparent) as successors,
       T.relispartition /* false */ as is_partition,
       pg_catalog.pg_get_partkeydef(T.oid) /* null */ as partition_key,
       pg_catalog.pg_get_expr(T.relpartbound, T.oid) /* null */ as partition_expression,
       T.relam am_id,
       pg_catalog.pg_get_userbyid(T.relowner) as "owner"
from pg_catalog.pg_class T
where relnamespace = 16385::oid
       and relkind in ('r', 'm', 'v', 'f', 'p')
--  and pg_catalog.age(T.xmin) <= #TXAGE
--  and T.relname in ( :[*f_names] )
order by table_kind, table_id
;

-- purpose: RetrieveDataTypes for schema 'lake' [PIQ]
select T.oid as type_id,
       T.xmin as type_state_number,
       T.typname as type_name,
       T.typtype as type_sub_kind,
       T.typcategory as type_category,
       T.typrelid as class_id,
       T.typbasetype as base_type_id,
       case when T.typtype in ('c','e') then null
            else pg_catalog.format_type(T.typbasetype, T.typtypmod) end as type_def,
       T.typndims as dimensions_number,
       T.typdefault as default_expression,
       T.typnotnull as mandatory,
       pg_catalog.pg_get_userbyid(T.typowner) as "owner"
from pg_catalog.pg_type T
         left outer join pg_catalog.pg_class C
             on T.typrelid = C.oid
where T.typnamespace = 16385::oid
  and (T.typtype in ('d','e') or
       C.relkind = 'c'::"char" or
       (T.typtype = 'b' and (T.typelem = 0 OR T.typcategory <> 'A')) or
       T.typtype = 'p' and not T.typisdefined)
order by 1;

-- purpose: RetrieveColumns for schema 'lake' [PIQ]
with T as ( select
                  T.oid as table_id, T.relname as table_name
            from pg_catalog.pg_class T
            where T.relnamespace = 16385::oid
              and T.relkind in ('r', 'm', 'v', 'f', 'p')
            )
select T.table_id,
       C.attnum as column_position,
       C.attname as column_name,
       C.xmin as column_state_number,
       C.atttypmod as type_mod,
       C.attndims as dimensions_number,
       pg_catalog.format_type(C.atttypid, C.atttypmod) as type_spec,
       C.atttypid as type_id,
       C.attnotnull as mandatory,
       pg_catalog.pg_get_expr(D.adbin, T.table_id) as column_default_expression,
       not C.attislocal as column_is_inherited,
        C.attfdwoptions as options,
       C.attisdropped as column_is_dropped,
       C.attidentity as identity_kind,
       C.attgenerated as generated
from T
  join pg_catalog.pg_attribute C on T.table_id = C.attrelid
  left join pg_catalog.pg_attrdef D on (C.attrelid, C.attnum) = (D.adrelid, D.adnum)
where attnum > 0
order by table_id, attnum;

-- purpose: RetrieveIndices for schema 'lake' [PIQ]
select tab.oid               table_id,
       tab.relkind           table_kind,
       ind_stor.relname      index_name,
       ind_head.indexrelid   index_id,
       ind_stor.xmin         state_number,
       ind_head.indisunique  is_unique,
       ind_head.indisprimary is_primary,
       ind_head.indnullsnotdistinct nulls_not_distinct,
       pg_catalog.pg_get_expr(ind_head.indpred, ind_head.indrelid) as condition,
       (select pg_catalog.array_agg(inhparent::bigint order by inhseqno)::varchar from pg_catalog.pg_inherits where ind_stor.oid = inhrelid) as ancestors,
       ind_stor.reltablespace tablespace_id,
       opcmethod as access_method_id
from pg_catalog.pg_class tab
         join pg_catalog.pg_index ind_head
              on ind_head.indrelid = tab.oid
         join pg_catalog.pg_class ind_stor
              on tab.relnamespace = ind_stor.relnamespace and ind_stor.oid = ind_head.indexrelid
         left join pg_catalog.pg_opclass on pg_opclass.oid = ANY(indclass)
where tab.relnamespace = 16385::oid
        and tab.relkind in ('r', 'm', 'v', 'p')
        and ind_stor.relkind in ('i', 'I');

-- purpose: RetrieveConstraints (PK/FK/unique/check/exclusion) for schema 'lake' [PIQ]
select T.oid table_id,
       relkind table_kind,
       C.oid::bigint con_id,
       C.xmin::varchar::bigint con_state_id,
       conname con_name,
       contype con_kind,
       conkey con_columns,
       conindid index_id,
       confrelid ref_table_id,
       condeferrable is_deferrable,
       condeferred is_init_deferred,
       confupdtype on_update,
       confdeltype on_delete,
       connoinherit no_inherit,
      pg_catalog.pg_get_expr(conbin, T.oid) con_expression,
       confkey ref_columns,
       conexclop::int[] excl_operators,
       array(select unnest::regoper::varchar from unnest(conexclop)) excl_operators_str
from pg_catalog.pg_constraint C
         join pg_catalog.pg_class T
              on C.conrelid = T.oid
   where relkind in ('r', 'v', 'f', 'p')
     and relnamespace = 16385::oid
     and contype in ('p', 'u', 'f', 'c', 'x')
     and connamespace = 16385::oid;

-- purpose: RetrieveViewSources for schema 'lake' [PIQ]
select
       T.relkind as view_kind,
       T.oid as view_id,
       pg_catalog.pg_get_viewdef(T.oid, true) as source_text
from pg_catalog.pg_class T
  join pg_catalog.pg_namespace N on T.relnamespace = N.oid
where N.oid = 16385::oid
  and T.relkind in ('m','v');

-- purpose: table preview when a table is opened in the data editor (page size 500 + 1) -- reconstructed from memory
SELECT t.*
FROM lake.orders t
LIMIT 501;
