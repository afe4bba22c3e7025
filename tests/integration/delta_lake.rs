//! Delta Lake tables in the lake, written by delta-rs's Python writer (`deltalake`,
//! installed by `.ci/run`): a partitioned table with appends, a DELETE (whose replaced
//! file stays on disk) and an append that adds a column is served as `lake.<folder>` with
//! exactly the rows the writer's own reader returns, and a new commit is picked up by a
//! rescan.

use std::path::Path;

use crate::harness::{count_parquet, python_has, python_output, rows, TestServer};

/// Runs a Python script with `TABLE` set to `table`; its standard output.
fn python(table: &Path, script: &str) -> String {
    python_output(&format!(
        "import pyarrow as pa\nfrom deltalake import write_deltalake, DeltaTable\n\
         TABLE = {:?}\n{script}",
        table.display().to_string()
    ))
}

/// The table as the writer's own reader sees it: `id|country|v|extra` per row, by id.
const READ_BACK: &str = "
t = DeltaTable(TABLE).to_pyarrow_table().to_pylist()
for r in sorted(t, key=lambda r: r['id']):
    extra = r.get('extra')
    print(f\"{r['id']}|{r['country']}|{r['v']}|{'' if extra is None else extra}\")
";

/// Our rows of the table in the same form.
async fn served(client: &tokio_postgres::Client) -> String {
    rows(
        client,
        "SELECT id, country, v, extra FROM lake.accounts ORDER BY id",
    )
    .await
    .into_iter()
    .map(|r| format!("{}\n", r.join("|")))
    .collect()
}

#[tokio::test]
async fn a_delta_table_is_served_at_its_current_version() {
    if !python_has("deltalake") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("accounts");
    python(
        &table,
        "
write_deltalake(TABLE, pa.table({'id': [1, 2, 3, 4], 'country': ['PL', 'PL', 'DE', 'FR'],
                                 'v': [1.5, 2.5, 3.5, 4.5]}), partition_by=['country'])
write_deltalake(TABLE, pa.table({'id': [5, 6], 'country': ['DE', 'PL'], 'v': [5.5, 6.5]}),
                mode='append')
DeltaTable(TABLE).delete('id = 2')
write_deltalake(TABLE, pa.table({'id': [7], 'country': ['FR'], 'v': [7.5], 'extra': ['x']}),
                mode='append', schema_mode='merge')
",
    );
    let table_dir = table.clone();
    let server = TestServer::start(move |c, dir| {
        c.lake.watch = false;
        let copy = dir.join("lake/accounts");
        copy_dir(&table_dir, &copy);
    })
    .await;
    let lake_table = server.lake.join("accounts");
    let c = server.client().await;
    let expected = python(&lake_table, READ_BACK);
    assert_eq!(served(&c).await, expected);
    assert!(!expected.contains("2|PL"), "the deleted row: {expected}");
    // The file the DELETE replaced is still in the folder; the log says it is not current.
    let on_disk = count_parquet(&lake_table);
    let status = rows(
        &c,
        "SELECT files, state FROM datapunk.lake_tables WHERE table_name = 'accounts'",
    )
    .await;
    assert_eq!(status[0][1], "ok");
    assert!(
        status[0][0].parse::<usize>().unwrap() < on_disk,
        "{status:?} of {on_disk} files"
    );

    // A new commit (another DELETE) is a change like a new file.
    python(&lake_table, "DeltaTable(TABLE).delete(\"country = 'DE'\")");
    c.batch_execute("REFRESH LAKE").await.unwrap();
    let expected = python(&lake_table, READ_BACK);
    assert_eq!(served(&c).await, expected);
    assert!(!expected.contains("|DE|"), "{expected}");
    server.stop().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}
