// pgjdbc against datapunk: DatabaseMetaData (what DBeaver, Metabase and Tableau call),
// PreparedStatement with parameters, setFetchSize streaming. Prints "ok jdbc".
// Usage: java -cp postgresql.jar JdbcCheck.java PORT USER [PASSWORD SSLMODE]
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcCheck {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/datapunk";
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        if (args.length > 3) {
            props.setProperty("password", args[2]);
            props.setProperty("sslmode", args[3]);
        }
        try (Connection c = DriverManager.getConnection(url, props)) {
            DatabaseMetaData md = c.getMetaData();
            check(md.getDatabaseProductVersion().startsWith("16.6"), "version " + md.getDatabaseProductVersion());
            Set<String> schemas = new HashSet<>();
            try (ResultSet rs = md.getSchemas()) {
                while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
            }
            check(schemas.contains("lake") && schemas.contains("warehouse"), "schemas " + schemas);
            Set<String> tables = new HashSet<>();
            try (ResultSet rs = md.getTables(null, "lake", "%", new String[] {"TABLE"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
            }
            check(tables.contains("orders") && tables.contains("order_lines"), "tables " + tables);
            Map<String, Integer> types = new HashMap<>();
            try (ResultSet rs = md.getColumns(null, "lake", "order_lines", "%")) {
                while (rs.next()) types.put(rs.getString("COLUMN_NAME"), rs.getInt("DATA_TYPE"));
            }
            check(types.get("order_id") == Types.BIGINT, "order_id " + types);
            check(types.get("quantity") == Types.INTEGER, "quantity " + types);
            check(types.get("unit_price") == Types.NUMERIC, "unit_price " + types);
            check(types.get("order_ts") == Types.TIMESTAMP, "order_ts " + types);
            check(types.get("country") == Types.VARCHAR, "country " + types);

            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT count(*), sum(quantity * unit_price) FROM lake.order_lines WHERE customer_id = ? AND quantity >= ?")) {
                ps.setLong(1, 1L);
                ps.setInt(2, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    check(rs.next(), "a row");
                    check(rs.getLong(1) >= 0, "count");
                    BigDecimal sum = rs.getBigDecimal(2);
                    check(sum == null || sum.scale() >= 2, "scale " + sum);
                }
            }

            // RowDescription carries numeric(p,s) and type widths as PostgreSQL sends them.
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT unit_price, quantity, order_ts, country FROM lake.order_lines LIMIT 1");
                 ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData meta = rs.getMetaData();
                check(meta.getColumnType(1) == Types.NUMERIC, "numeric type " + meta.getColumnType(1));
                check(meta.getPrecision(1) == 10 && meta.getScale(1) == 2,
                        "numeric(" + meta.getPrecision(1) + "," + meta.getScale(1) + ")");
                check(meta.getColumnType(2) == Types.INTEGER, "integer " + meta.getColumnType(2));
                check(meta.getColumnType(3) == Types.TIMESTAMP, "timestamp " + meta.getColumnType(3));
                check(meta.getColumnType(4) == Types.VARCHAR, "text " + meta.getColumnType(4));
            }

            c.setAutoCommit(false);
            long expected;
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM lake.order_lines")) {
                rs.next();
                expected = rs.getLong(1);
            }
            try (Statement s = c.createStatement()) {
                s.setFetchSize(250);
                long n = 0;
                try (ResultSet rs = s.executeQuery("SELECT order_id, order_ts FROM lake.order_lines")) {
                    while (rs.next()) {
                        rs.getTimestamp(2);
                        n++;
                    }
                }
                check(n == expected, "fetched " + n + " of " + expected);
            }
            c.commit();
        }
        System.out.println("ok jdbc");
    }
}
