//! Every Arrow type a Parquet lake holds reaches clients as PostgreSQL 15 sends it: the
//! type OID (and `numeric(p,s)`, `uuid`, `json` in the catalog), the text form and the
//! binary form, byte for byte. The lake file (`tests/fixtures/lake_types/things.parquet`,
//! written by pyarrow: `make.py`) holds the values of `postgres.sql` there, whose
//! PostgreSQL 15.18 texts and `*_send` bytes are the expectations below, served from a
//! folder and from a bucket.

use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::SimpleQueryMessage;

use crate::harness::{sqlstate, LakePlace, TestServer};

/// A result value's bytes as sent, whatever its type.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A parameter bound as the given bytes (binary format), whatever its type.
#[derive(Debug)]
struct RawParam(Vec<u8>);

impl ToSql for RawParam {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A server whose lake holds `things` (the fixture); psycopg drives it too (python.rs).
pub async fn server() -> TestServer {
    server_in(LakePlace::Folder).await
}

/// The same, served from `place`.
async fn server_in(place: LakePlace) -> TestServer {
    TestServer::start_in(place, |_, dir| {
        let table = dir.join("lake/things");
        std::fs::create_dir_all(&table).unwrap();
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/lake_types/things.parquet"
        );
        std::fs::copy(fixture, table.join("things.parquet")).unwrap();
    })
    .await
}

/// Column, PostgreSQL 15's type OID and its `format_type`.
const TYPES: &[(&str, u32, &str)] = &[
    ("id", 2950, "uuid"),
    ("doc", 114, "json"),
    ("raw", 17, "bytea"),
    ("tags", 1009, "text[]"),
    ("grid", 1016, "bigint[]"),
    ("prices", 1231, "numeric[]"),
    ("big_dec", 1700, "numeric(50,2)"),
    ("wide", 1700, "numeric(38,0)"),
    ("zero", 1700, "numeric(10,2)"),
    ("f8", 701, "double precision"),
    ("f4", 700, "real"),
    ("t", 1083, "time without time zone"),
    ("ts_ms", 1114, "timestamp without time zone"),
    ("d", 1082, "date"),
    ("small", 21, "smallint"),
    ("u32", 20, "bigint"),
    ("dict", 25, "text"),
    ("ls", 25, "text"),
];

/// PostgreSQL 15.18's text of each row (`|` between columns, `\N` for NULL).
const TEXT: [&str; 3] = [
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{\"a\": 1}|\\x0001ff|{a,\"b c\",\"\",\"NULL\",\"q\\\"\\\\\"}|{{1,2},{3,4}}|{1.50,NULL}|123456789012345678901234567890123456789012345678.90|99999999999999999999999999999999999999|0.00|-0|1.5|13:45:00.5|2024-03-01 12:00:00.123|2024-02-29|-3|4000000000|x|tab\there",
    "00000000-0000-0000-0000-000000000000|[]|\\x|{}|{}|{0.00}|-0.01|0|-12.30|NaN|Infinity|00:00:00|1999-12-31 23:59:59|1970-01-01|127|0|y|",
    "\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N|\\N",
];

/// PostgreSQL 15.18's `*_send` bytes of the first two rows, in hex.
const BINARY: [[&str; 18]; 2] = [
    [
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "7b2261223a20317d",
        "0001ff",
        "000000010000000000000019000000050000000100000001610000000362206300000000000000044e554c4c0000000371225c",
        "00000002000000000000001400000002000000010000000200000001000000080000000000000001000000080000000000000002000000080000000000000003000000080000000000000004",
        "0000000100000001000006a400000002000000010000000c000200000000000200011388ffffffff",
        "000d000b0000000204d2162e23340d801ed204d2162e23340d801ed204d2162e2328",
        "000a0009000000000063270f270f270f270f270f270f270f270f270f",
        "0000000000000002",
        "8000000000000000",
        "3fc00000",
        "0000000b8675b020",
        "0002b596e2515078",
        "00002279",
        "fffd",
        "00000000ee6b2800",
        "78",
        "7461620968657265",
    ],
    [
        "00000000000000000000000000000000",
        "5b5d",
        "",
        "000000000000000000000019",
        "000000000000000000000014",
        "0000000100000000000006a40000000100000001000000080000000000000002",
        "0001ffff400000020064",
        "0000000000000000",
        "0002000040000002000c0bb8",
        "7ff8000000000000",
        "7f800000",
        "0000000000000000",
        "fffffffffff0bdc0",
        "ffffd533",
        "007f",
        "0000000000000000",
        "79",
        "",
    ],
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn columns() -> String {
    TYPES
        .iter()
        .map(|(c, _, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lake_columns_have_postgres_types_in_results_and_catalog() {
    for place in LakePlace::all() {
        lake_columns_have_postgres_types_in_results_and_catalog_in(place).await;
    }
}

async fn lake_columns_have_postgres_types_in_results_and_catalog_in(place: LakePlace) {
    let server = server_in(place).await;
    let client = server.client().await;
    let sql = format!("SELECT {} FROM lake.things", columns());
    let statement = client.prepare(&sql).await.unwrap();
    for (column, (name, oid, _)) in statement.columns().iter().zip(TYPES) {
        assert_eq!(column.name(), *name);
        assert_eq!(column.type_().oid(), *oid, "{name}");
    }
    let catalog = client
        .query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid WHERE c.relname = 'things' \
             ORDER BY a.attnum",
            &[],
        )
        .await
        .unwrap();
    let catalog: Vec<(String, String)> = catalog.iter().map(|r| (r.get(0), r.get(1))).collect();
    let want: Vec<(String, String)> = TYPES
        .iter()
        .map(|(c, _, t)| ((*c).to_owned(), (*t).to_owned()))
        .collect();
    assert_eq!(catalog, want);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lake_values_read_as_postgres_15_text_and_binary() {
    for place in LakePlace::all() {
        lake_values_read_as_postgres_15_text_and_binary_in(place).await;
    }
}

async fn lake_values_read_as_postgres_15_text_and_binary_in(place: LakePlace) {
    let server = server_in(place).await;
    let client = server.client().await;
    let sql = format!("SELECT {} FROM lake.things", columns());

    // Text: the simple protocol.
    let rows: Vec<String> = client
        .simple_query(&sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("\\N"))
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(rows, TEXT);

    // Binary: the extended protocol (tokio-postgres asks for binary results).
    let rows = client.query(&sql, &[]).await.unwrap();
    assert_eq!(rows.len(), 3);
    for (row, want) in rows.iter().zip(BINARY) {
        for (i, want) in want.iter().enumerate() {
            let value: Raw = row.get(i);
            assert_eq!(hex(&value.0), *want, "{}", TYPES[i].0);
        }
    }
    for (i, (name, _, _)) in TYPES.iter().enumerate() {
        assert!(rows[2].get::<_, Option<Raw>>(i).is_none(), "{name}");
    }

    // The same writers serve cursors (psycopg's named cursors) and COPY.
    let fetched: Vec<String> = client
        .simple_query(
            "BEGIN; DECLARE c CURSOR FOR SELECT id, grid FROM lake.things; FETCH 2 FROM c",
        )
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(format!("{}|{}", r.get(0)?, r.get(1)?)),
            _ => None,
        })
        .collect();
    assert_eq!(
        fetched,
        [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{{1,2},{3,4}}",
            "00000000-0000-0000-0000-000000000000|{}"
        ]
    );
    client.simple_query("ROLLBACK").await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ragged_list_of_lists_is_refused_as_postgres_refuses_such_an_array() {
    let server = server().await;
    let client = server.client().await;
    let sql = "SELECT make_array(make_array(1, 2), make_array(3))";
    for simple in [true, false] {
        let e = if simple {
            client.simple_query(sql).await.map(|_| ()).unwrap_err()
        } else {
            client.query(sql, &[]).await.map(|_| ()).unwrap_err()
        };
        assert_eq!(sqlstate(&e), "2202E", "{e}");
    }
    // A rectangular one is an int4[] of two dimensions (integer literals are integers).
    let row = client
        .query_one("SELECT make_array(make_array(1, 2), make_array(3, 4))", &[])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].type_().oid(), 1007);
    let value: Vec<Option<i32>> = client
        .query_one("SELECT make_array(5, NULL, 7)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(value, [Some(5), None, Some(7)]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuids_are_compared_and_cast_as_in_postgres() {
    let server = server().await;
    let client = server.client().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    // A quoted literal compared with a uuid column is read as a uuid, in any of
    // uuid_in's forms.
    assert_eq!(
        count("SELECT count(*) FROM lake.things WHERE id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'")
            .await,
        1
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM lake.things WHERE id IN \
             ('{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}', '00000000000000000000000000000000')"
        )
        .await,
        2
    );
    assert_eq!(
        count("SELECT count(*) FROM lake.things WHERE id <> 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid")
            .await,
        1
    );
    // A cast is a uuid column of its own, named as PostgreSQL names it.
    let messages = client
        .simple_query("SELECT 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid")
        .await
        .unwrap();
    let Some(row) = messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    }) else {
        panic!("no row")
    };
    assert_eq!(row.columns()[0].name(), "uuid");
    assert_eq!(row.get(0), Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    let statement = client.prepare("SELECT CAST(NULL AS uuid)").await.unwrap();
    assert_eq!(statement.columns()[0].type_().oid(), 2950);
    // A uuid cast to text is uuid_out's text.
    let texts: Vec<String> = client
        .query(
            "SELECT id::text FROM lake.things WHERE id IS NOT NULL ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        texts,
        [
            "00000000-0000-0000-0000-000000000000",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        ]
    );
    // Text that is no uuid: 22P02, as in PostgreSQL.
    for sql in [
        "SELECT 'a0eebc99'::uuid",
        "SELECT count(*) FROM lake.things WHERE id = 'not a uuid'",
    ] {
        let e = client.simple_query(sql).await.unwrap_err();
        let message = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        assert_eq!(sqlstate(&e), "22P02", "{sql}: {message}");
        assert!(
            message.contains("invalid input syntax for type uuid"),
            "{message}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_type_binds_as_a_parameter_in_postgres_15_binary_form() {
    let server = server().await;
    let client = server.client().await;
    for (i, (column, oid, _)) in TYPES.iter().enumerate() {
        if *column == "doc" {
            continue; // json has no equality operator in PostgreSQL either
        }
        let value = RawParam(unhex(BINARY[0][i]));
        let sql = format!("SELECT count(*) FROM lake.things WHERE {column} = $1");
        // Untyped: the server describes $1 as the column's type.
        let statement = client.prepare(&sql).await.unwrap();
        assert_eq!(statement.params()[0].oid(), *oid, "{column}");
        let count: i64 = client
            .query_one(&statement, &[&value])
            .await
            .unwrap_or_else(|e| panic!("{column}: {e:?}"))
            .get(0);
        assert_eq!(count, 1, "{column}");
        // Typed by the client, as drivers that know their value's type do.
        let typed = client
            .prepare_typed(&sql, &[Type::from_oid(*oid).unwrap()])
            .await
            .unwrap();
        let count: i64 = client.query_one(&typed, &[&value]).await.unwrap().get(0);
        assert_eq!(count, 1, "{column} typed");
        // NULL binds as a NULL of the column's type.
        let nulls =
            format!("SELECT count(*) FROM lake.things WHERE {column} IS NOT DISTINCT FROM $1");
        let count: i64 = client
            .query_one(&nulls, &[&None::<RawParam>])
            .await
            .unwrap_or_else(|e| panic!("{column} NULL: {e:?}"))
            .get(0);
        assert_eq!(count, 1, "{column} NULL");
    }
    // Malformed binary input is PostgreSQL's 22P03, and the connection goes on.
    let error = client
        .query_one(
            "SELECT count(*) FROM lake.things WHERE id = $1",
            &[&RawParam(vec![1, 2, 3])],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "22P03", "{error:?}");
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM lake.things WHERE small = $1",
            &[&127i16],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    server.stop().await;
}

/// A lake table whose one column is a struct (`people.address`, as Spark and DuckDB
/// write nested records), written with the parquet crate.
fn write_people(table: &std::path::Path) {
    use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray, StructArray};
    use datafusion::arrow::buffer::NullBuffer;
    use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
    use std::sync::Arc;

    let fields = Fields::from(vec![
        Field::new("city", DataType::Utf8, true),
        Field::new("zip", DataType::Int32, true),
    ]);
    let city: ArrayRef = Arc::new(StringArray::from(vec![Some("New York"), None, Some("x")]));
    let zip: ArrayRef = Arc::new(Int32Array::from(vec![10001, 2, 3]));
    let address = StructArray::new(
        fields.clone(),
        vec![city, zip],
        Some(NullBuffer::from(vec![true, true, false])),
    );
    let schema = Arc::new(Schema::new(vec![Field::new(
        "address",
        DataType::Struct(fields),
        true,
    )]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(address)]).unwrap();
    write_table(table, &batch);
}

/// Writes `batch` as the one Parquet file of the lake table at `table`.
fn write_table(table: &std::path::Path, batch: &datafusion::arrow::array::RecordBatch) {
    use datafusion::parquet::arrow::ArrowWriter;
    std::fs::create_dir_all(table).unwrap();
    let file = std::fs::File::create(table.join("part-0.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Struct values reach clients as row values (`record`, OID 2249) as PostgreSQL sends an
/// anonymous `ROW(...)`: `record_out`'s text (a NULL field empty, fields with spaces,
/// quotes, backslashes or parentheses quoted, quotes doubled) and `record_send`'s bytes
/// (each field's type OID and value), alone, in arrays and nested; the expectations are
/// PostgreSQL 15.18's answers to the `ROW(...)` in each comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn struct_values_are_records_as_in_postgres_15() {
    let server = TestServer::start(|_, dir| write_people(&dir.join("lake/people"))).await;
    let client = server.client().await;
    let text = |sql: String| {
        let client = &client;
        async move {
            let messages = client.simple_query(&sql).await.unwrap();
            messages
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("\\N").to_owned()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        }
    };
    // ROW(1::int8, 'x y', 1.50::numeric(10,2), NULL::text, '', 'say "hi" \ (x)', true,
    //     '2024-03-01 12:00:00.5'::timestamp)
    let record = "named_struct('a', CAST(1 AS BIGINT), 'b', 'x y', \
                  'c', CAST(1.50 AS DECIMAL(10,2)), 'd', CAST(NULL AS TEXT), 'e', '', \
                  'f', 'say \"hi\" \\ (x)', 'g', true, \
                  'h', CAST('2024-03-01 12:00:00.5' AS TIMESTAMP))";
    assert_eq!(
        text(format!("SELECT {record}")).await,
        vec![r#"(1,"x y",1.50,,"","say ""hi"" \\ (x)",t,"2024-03-01 12:00:00.5")"#]
    );
    // ARRAY[ROW(1::int8, 'a'), ROW(2::int8, NULL::text)]
    let array = "make_array(named_struct('a', CAST(1 AS BIGINT), 'b', 'a'), \
                 named_struct('a', CAST(2 AS BIGINT), 'b', CAST(NULL AS TEXT)))";
    assert_eq!(
        text(format!("SELECT {array}")).await,
        vec![r#"{"(1,a)","(2,)"}"#]
    );
    // ROW(ARRAY[1,2]::int8[], ROW(3::int8, 'z'))
    let nested = "named_struct('l', make_array(CAST(1 AS BIGINT), 2), \
                  's', named_struct('x', CAST(3 AS BIGINT), 'y', 'z'))";
    assert_eq!(
        text(format!("SELECT {nested}")).await,
        vec![r#"("{1,2}","(3,z)")"#]
    );

    // record_send(ROW(1::int8, 'x y', 1.50::numeric(10,2), NULL::text, '', true))
    let sent = "SELECT named_struct('a', CAST(1 AS BIGINT), 'b', 'x y', \
                'c', CAST(1.50 AS DECIMAL(10,2)), 'd', CAST(NULL AS TEXT), 'e', '', 'f', true)";
    let row = client.query_one(sent, &[]).await.unwrap();
    assert_eq!(row.columns()[0].type_().oid(), 2249);
    let value: Raw = row.get(0);
    assert_eq!(
        hex(&value.0),
        "00000006000000140000000800000000000000010000001900000003782079000006a40000000c0002\
         0000000000020001138800000019ffffffff0000001900000000000000100000000101"
    );

    // A struct column of a lake table, NULLs in it and of it.
    assert_eq!(
        text("SELECT address FROM lake.people".to_owned()).await,
        vec![r#"("New York",10001)"#, "(,2)", "\\N"]
    );
    let copied = client
        .copy_out("COPY (SELECT address FROM lake.people) TO STDOUT")
        .await
        .unwrap();
    let copied: Vec<bytes::Bytes> = futures::TryStreamExt::try_collect(copied).await.unwrap();
    assert_eq!(
        copied.concat(),
        b"(\"New York\",10001)\n(,2)\n\\N\n".to_vec()
    );
    // A field of it, named after the field as in PostgreSQL.
    let messages = client
        .simple_query("SELECT (address).city FROM lake.people")
        .await
        .unwrap();
    let Some(SimpleQueryMessage::Row(row)) = messages.get(1) else {
        panic!("no row: {messages:?}");
    };
    assert_eq!(row.columns()[0].name(), "city");
    assert_eq!(row.get(0), Some("New York"));
    server.stop().await;
}

/// Writes `lake/tags`: map columns (text keys with a NULL value, an empty map, a NULL
/// map; integer keys) as Spark and pyarrow write them to Parquet.
fn write_tags(table: &std::path::Path) {
    use datafusion::arrow::array::{
        ArrayRef, Int32Array, Int32Builder, Int64Builder, MapBuilder, RecordBatch, StringBuilder,
    };
    use std::sync::Arc;

    let mut attrs = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    attrs.keys().append_value("a");
    attrs.values().append_value(1);
    attrs.keys().append_value("b");
    attrs.values().append_null();
    attrs.append(true).unwrap();
    attrs.append(true).unwrap();
    attrs.append(false).unwrap();
    let mut codes = MapBuilder::new(None, Int32Builder::new(), StringBuilder::new());
    codes.keys().append_value(1);
    codes.values().append_value("x");
    codes.keys().append_value(2);
    codes.values().append_value("say \"hi\"");
    codes.append(true).unwrap();
    codes.append(true).unwrap();
    codes.append(true).unwrap();
    let id: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3]));
    let batch = RecordBatch::try_from_iter(vec![
        ("id", id),
        ("attrs", Arc::new(attrs.finish()) as ArrayRef),
        ("codes", Arc::new(codes.finish()) as ArrayRef),
    ])
    .unwrap();
    write_table(table, &batch);
}

/// PostgreSQL has no map type: a lake's map columns are `json` (OID 114) objects, keys as
/// text and NULL entries kept, in SELECT (text and binary), the catalog and COPY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_columns_are_json_objects() {
    let server = TestServer::start(|_, dir| write_tags(&dir.join("lake/tags"))).await;
    let client = server.client().await;
    let messages = client
        .simple_query("SELECT attrs, codes FROM lake.tags ORDER BY id")
        .await
        .unwrap();
    let rows: Vec<(String, String)> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((
                r.get(0).unwrap_or("NULL").to_owned(),
                r.get(1).unwrap_or("NULL").to_owned(),
            )),
            _ => None,
        })
        .collect();
    let both = r#"{"1":"x","2":"say \"hi\""}"#;
    assert_eq!(
        rows,
        [
            (r#"{"a":1,"b":null}"#.to_owned(), both.to_owned()),
            ("{}".to_owned(), "{}".to_owned()),
            ("NULL".to_owned(), "{}".to_owned()),
        ]
    );
    // In an array: json[] with array_out's quoting; and the map is still a map in SQL.
    let messages = client
        .simple_query("SELECT make_array(attrs), attrs['a'] FROM lake.tags WHERE id = 1")
        .await
        .unwrap();
    let Some(SimpleQueryMessage::Row(row)) = messages.get(1) else {
        panic!("no row: {messages:?}");
    };
    assert_eq!(row.get(0), Some(r#"{"{\"a\":1,\"b\":null}"}"#));
    assert_eq!(row.get(1), Some("1"));
    // Named after the column, as PostgreSQL names a subscript (DataFusion: `t.attrs[a]`).
    assert_eq!(row.columns()[1].name(), "attrs");
    // Binary: json_send is the text.
    let row = client
        .query_one("SELECT attrs FROM lake.tags WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].type_(), &Type::JSON);
    let value: Raw = row.get(0);
    assert_eq!(value.0, br#"{"a":1,"b":null}"#.to_vec());
    let catalog = client
        .query_one(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = 'tags' AND column_name = 'codes'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(catalog.get::<_, String>(0), "json");
    let copied = client
        .copy_out("COPY (SELECT codes FROM lake.tags WHERE id = 1) TO STDOUT")
        .await
        .unwrap();
    let copied: Vec<bytes::Bytes> = futures::TryStreamExt::try_collect(copied).await.unwrap();
    // COPY text doubles the backslashes of the JSON's escaped quotes.
    let expected = format!("{}\n", r#"{"1":"x","2":"say \\"hi\\""}"#);
    assert_eq!(copied.concat(), expected.into_bytes());
    server.stop().await;
}
