// pgjdbc DatabaseMetaData, every call a JDBC navigator makes (DBeaver's generic/PostgreSQL
// navigator, DataGrip, Tableau, Metabase), dumped as deterministic text so that a run against
// datapunk and one against a real PostgreSQL with the same `lake` tables can be diffed.
//
// Usage: java -cp postgresql.jar JdbcMetaData.java JDBC_URL USER [PASSWORD]
//
// Output: for each call a "== call" line, then "cols: LABEL(type), ..." and the rows sorted,
// one per line (NULL for SQL NULL, '' for an empty string), then "rows: N"; scalars as "name=value". A failing call
// prints "ERROR call: SQLSTATE message" and the dump goes on. Values that legitimately differ
// between two servers (URL, server version, OIDs inside SPECIFIC_NAME, owner names) print as
// <varies>.
import java.lang.reflect.Method;
import java.sql.*;
import java.util.*;

public class JdbcMetaData {
    interface Call {
        ResultSet run() throws SQLException;
    }

    static final String VARIES = "<varies>";
    /** Result-set columns whose values differ between servers for legitimate reasons. */
    static final Set<String> VARYING_COLUMNS = Set.of(
            "SPECIFIC_NAME", // pgjdbc appends the function's OID: proname_oid
            "GRANTOR");      // the owner of the table
    /** Scalars that differ between servers for legitimate reasons. */
    static final Set<String> VARYING_SCALARS = Set.of(
            "getURL", "getDatabaseProductVersion", "getDatabaseMajorVersion",
            "getDatabaseMinorVersion");

    static String owner = null; // owner names print as <varies>

    static String errorLine(String name, Throwable e) {
        if (e instanceof SQLException) {
            SQLException s = (SQLException) e;
            String msg = String.valueOf(s.getMessage()).replace('\n', ' ');
            return "ERROR " + name + ": " + s.getSQLState() + " " + msg;
        }
        return "ERROR " + name + ": " + e.getClass().getName() + " " + e.getMessage();
    }

    static void dump(String name, Call call) {
        System.out.println("== " + name);
        try (ResultSet rs = call.run()) {
            ResultSetMetaData meta = rs.getMetaData();
            int n = meta.getColumnCount();
            StringBuilder cols = new StringBuilder("cols:");
            List<String> labels = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                labels.add(meta.getColumnLabel(i).toUpperCase(Locale.ROOT));
                cols.append(i == 1 ? " " : ", ").append(meta.getColumnLabel(i))
                        .append('(').append(meta.getColumnTypeName(i)).append(')');
            }
            System.out.println(cols);
            List<String> rows = new ArrayList<>();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    String v = rs.getString(i);
                    if (v == null) v = "NULL";
                    else if (v.isEmpty()) v = "''";
                    else if (VARYING_COLUMNS.contains(labels.get(i - 1))) v = VARIES;
                    else if (labels.get(i - 1).equals("GRANTEE") && v.equals(owner)) v = VARIES;
                    row.append(i == 1 ? "" : " | ").append(v.replace("\n", "\\n"));
                }
                rows.add(row.toString());
            }
            Collections.sort(rows);
            for (String r : rows) System.out.println(r);
            System.out.println("rows: " + rows.size());
        } catch (Throwable e) {
            System.out.println(errorLine(name, e));
        }
    }

    /** Only the number of rows, for calls whose full listing differs by server version. */
    static void count(String name, Call call) {
        System.out.println("== " + name);
        try (ResultSet rs = call.run()) {
            int rows = 0;
            while (rs.next()) rows++;
            System.out.println("rows: " + rows + " (count only)");
        } catch (Throwable e) {
            System.out.println(errorLine(name, e));
        }
    }

    static void scalar(String name, Object value) {
        System.out.println(name + "=" + value);
    }

    static List<String> lakeTables(DatabaseMetaData md) {
        List<String> tables = new ArrayList<>();
        try (ResultSet rs = md.getTables(null, "lake", "%", new String[] {"TABLE"})) {
            while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
        } catch (SQLException e) {
            System.out.println(errorLine("lakeTables", e));
        }
        Collections.sort(tables);
        return tables;
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        if (args.length > 2) props.setProperty("password", args[2]);
        try (Connection c = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData md = c.getMetaData();
            String catalog = c.getCatalog();
            try (ResultSet rs = c.createStatement().executeQuery(
                    "SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c"
                            + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                            + " WHERE n.nspname = 'lake' LIMIT 1")) {
                if (rs.next()) owner = rs.getString(1);
            } catch (SQLException e) {
                System.out.println(errorLine("owner lookup", e));
            }

            // Scalars: every no-argument DatabaseMetaData method returning a plain value.
            System.out.println("== scalars");
            Method[] methods = DatabaseMetaData.class.getMethods();
            Arrays.sort(methods, Comparator.comparing(Method::getName));
            for (Method m : methods) {
                if (m.getParameterCount() != 0) continue;
                Class<?> t = m.getReturnType();
                if (!(t == boolean.class || t == int.class || t == long.class || t == String.class
                        || t == RowIdLifetime.class)) continue;
                String name = m.getName();
                if (VARYING_SCALARS.contains(name)) {
                    scalar(name, VARIES);
                    continue;
                }
                try {
                    scalar(name, m.invoke(md));
                } catch (java.lang.reflect.InvocationTargetException e) {
                    System.out.println(errorLine(name, e.getCause()));
                } catch (Throwable e) {
                    System.out.println(errorLine(name, e));
                }
            }
            int[] levels = {Connection.TRANSACTION_NONE, Connection.TRANSACTION_READ_UNCOMMITTED,
                    Connection.TRANSACTION_READ_COMMITTED, Connection.TRANSACTION_REPEATABLE_READ,
                    Connection.TRANSACTION_SERIALIZABLE};
            for (int l : levels) scalar("supportsTransactionIsolationLevel(" + l + ")",
                    md.supportsTransactionIsolationLevel(l));
            int[] types = {ResultSet.TYPE_FORWARD_ONLY, ResultSet.TYPE_SCROLL_INSENSITIVE,
                    ResultSet.TYPE_SCROLL_SENSITIVE};
            for (int t : types) {
                scalar("supportsResultSetType(" + t + ")", md.supportsResultSetType(t));
                for (int cc : new int[] {ResultSet.CONCUR_READ_ONLY, ResultSet.CONCUR_UPDATABLE})
                    scalar("supportsResultSetConcurrency(" + t + "," + cc + ")",
                            md.supportsResultSetConcurrency(t, cc));
            }
            for (int h : new int[] {ResultSet.HOLD_CURSORS_OVER_COMMIT, ResultSet.CLOSE_CURSORS_AT_COMMIT})
                scalar("supportsResultSetHoldability(" + h + ")", md.supportsResultSetHoldability(h));
            scalar("supportsConvert(INTEGER,VARCHAR)", md.supportsConvert(Types.INTEGER, Types.VARCHAR));
            scalar("connection.getCatalog", catalog);
            scalar("connection.getSchema", c.getSchema());
            scalar("connection.getTransactionIsolation", c.getTransactionIsolation());
            scalar("connection.isReadOnly", c.isReadOnly());

            // Catalogs, schemas, table types.
            dump("getCatalogs()", md::getCatalogs);
            dump("getSchemas()", md::getSchemas);
            dump("getSchemas(catalog,\"lake\")", () -> md.getSchemas(catalog, "lake"));
            dump("getSchemas(null,\"%\")", () -> md.getSchemas(null, "%"));
            dump("getSchemas(null,\"l%\")", () -> md.getSchemas(null, "l%"));
            dump("getTableTypes()", md::getTableTypes);

            // Tables.
            dump("getTables(null,lake,%,null)", () -> md.getTables(null, "lake", "%", null));
            dump("getTables(catalog,lake,%,[TABLE])",
                    () -> md.getTables(catalog, "lake", "%", new String[] {"TABLE"}));
            dump("getTables(null,lake,%,[VIEW])",
                    () -> md.getTables(null, "lake", "%", new String[] {"VIEW"}));
            dump("getTables(null,lake,%,[TABLE,VIEW,MATERIALIZED VIEW,FOREIGN TABLE,PARTITIONED TABLE])",
                    () -> md.getTables(null, "lake", "%", new String[] {"TABLE", "VIEW",
                            "MATERIALIZED VIEW", "FOREIGN TABLE", "PARTITIONED TABLE"}));
            dump("getTables(null,lake,orders,null)", () -> md.getTables(null, "lake", "orders", null));
            dump("getTables(null,lake,order\\_%,null)", () -> md.getTables(null, "lake", "order\\_%", null));

            List<String> tables = lakeTables(md);
            dump("getColumns(null,lake,%,%)", () -> md.getColumns(null, "lake", "%", "%"));
            for (String t : tables) {
                dump("getColumns(null,lake," + t + ",null)", () -> md.getColumns(null, "lake", t, null));
                dump("getPrimaryKeys(null,lake," + t + ")", () -> md.getPrimaryKeys(null, "lake", t));
                dump("getImportedKeys(null,lake," + t + ")", () -> md.getImportedKeys(null, "lake", t));
                dump("getExportedKeys(null,lake," + t + ")", () -> md.getExportedKeys(null, "lake", t));
                dump("getIndexInfo(null,lake," + t + ",false,true)",
                        () -> md.getIndexInfo(null, "lake", t, false, true));
                dump("getIndexInfo(null,lake," + t + ",true,true)",
                        () -> md.getIndexInfo(null, "lake", t, true, true));
                dump("getBestRowIdentifier(null,lake," + t + ",bestRowSession,true)",
                        () -> md.getBestRowIdentifier(null, "lake", t, DatabaseMetaData.bestRowSession, true));
                dump("getVersionColumns(null,lake," + t + ")", () -> md.getVersionColumns(null, "lake", t));
                dump("getColumnPrivileges(null,lake," + t + ",%)",
                        () -> md.getColumnPrivileges(null, "lake", t, "%"));
            }
            dump("getPrimaryKeys(null,lake,null)", () -> md.getPrimaryKeys(null, "lake", null));
            dump("getCrossReference(null,lake,orders,null,lake,order_lines)",
                    () -> md.getCrossReference(null, "lake", "orders", null, "lake", "order_lines"));
            dump("getTablePrivileges(null,lake,%)", () -> md.getTablePrivileges(null, "lake", "%"));

            // Routines.
            dump("getProcedures(null,lake,%)", () -> md.getProcedures(null, "lake", "%"));
            dump("getProcedureColumns(null,lake,%,%)", () -> md.getProcedureColumns(null, "lake", "%", "%"));
            dump("getFunctions(null,lake,%)", () -> md.getFunctions(null, "lake", "%"));
            dump("getFunctionColumns(null,lake,%,%)", () -> md.getFunctionColumns(null, "lake", "%", "%"));
            dump("getProcedures(null,pg_catalog,lower)", () -> md.getProcedures(null, "pg_catalog", "lower"));
            dump("getProcedureColumns(null,pg_catalog,lower,null)",
                    () -> md.getProcedureColumns(null, "pg_catalog", "lower", null));
            dump("getFunctions(null,pg_catalog,lower)", () -> md.getFunctions(null, "pg_catalog", "lower"));
            dump("getFunctionColumns(null,pg_catalog,lower,null)",
                    () -> md.getFunctionColumns(null, "pg_catalog", "lower", null));
            count("getProcedures(null,null,%)", () -> md.getProcedures(null, null, "%"));
            count("getFunctions(null,null,%)", () -> md.getFunctions(null, null, "%"));

            // Types and the rest.
            dump("getTypeInfo()", md::getTypeInfo);
            dump("getUDTs(null,lake,%,null)", () -> md.getUDTs(null, "lake", "%", null));
            dump("getUDTs(null,null,%,[STRUCT,DISTINCT])",
                    () -> md.getUDTs(null, null, "%", new int[] {Types.STRUCT, Types.DISTINCT}));
            dump("getSuperTables(null,lake,%)", () -> md.getSuperTables(null, "lake", "%"));
            dump("getSuperTypes(null,lake,%)", () -> md.getSuperTypes(null, "lake", "%"));
            dump("getAttributes(null,lake,%,%)", () -> md.getAttributes(null, "lake", "%", "%"));
            dump("getPseudoColumns(null,lake,%,%)", () -> md.getPseudoColumns(null, "lake", "%", "%"));
            dump("getClientInfoProperties()", md::getClientInfoProperties);
        }
    }
}
