//! Delta Lake tables in the lake, written by delta-rs's Python writer (`deltalake`,
//! installed by `.ci/run`): a partitioned table with appends, a DELETE (whose replaced
//! file stays on disk) and an append that adds a column is served as `lake.<folder>` with
//! exactly the rows the writer's own reader returns, and a new commit is picked up by a
//! rescan. A table whose early commits were cleaned up is read from its checkpoint, and
//! rows marked by deletion vectors (written here as the protocol lays them out, since
//! delta-rs does not write them; its reader, delta-kernel's, is the reference) are not
//! served. Earlier versions are read by number and by time (`lake."accounts@1"`), with
//! the same permissions and erasures as the current one. Under column mapping (name or
//! id mode) columns are read by physical name or field id, so a rename keeps values.

use std::path::Path;

use datapunk::config::{PiiTableConfig, UserConfig};

use crate::harness::{
    count_parquet, python_has, python_output, rows, sqlstate, LakePlace, TestServer,
};

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
    country = r['country'] or ''
    print(f\"{r['id']}|{country}|{r['v']}|{'' if extra is None else extra}\")
";

/// The same through delta-rs's query engine, whose scans apply deletion vectors (its
/// pyarrow reader refuses tables that have them).
const READ_BACK_WITH_VECTORS: &str = "
from deltalake import QueryBuilder
t = pa.table(QueryBuilder().register('t', DeltaTable(TABLE)).execute('SELECT * FROM t').read_all())
for r in sorted(t.to_pylist(), key=lambda r: r['id']):
    extra = r.get('extra')
    print(f\"{r['id']}|{r['country']}|{r['v']}|{'' if extra is None else extra}\")
";

/// Our rows of the table in the same form.
async fn served(client: &tokio_postgres::Client) -> String {
    served_with(client, "extra").await
}

/// Our rows with `extra` as the last column (`''` for a table without that column).
async fn served_with(client: &tokio_postgres::Client, extra: &str) -> String {
    rows(
        client,
        &format!("SELECT id, country, v, {extra} FROM lake.accounts ORDER BY id"),
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
    for place in LakePlace::all() {
        let mut server = serve(place, &table).await;
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
        server.refresh_lake(&c).await;
        let expected = python(&lake_table, READ_BACK);
        assert_eq!(served(&c).await, expected);
        assert!(!expected.contains("|DE|"), "{expected}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_delta_table_is_read_from_its_checkpoint_once_early_commits_are_gone() {
    if !python_has("deltalake") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("accounts");
    // Versions 0-7 (one with a null partition value), a checkpoint at 7, then 8 (an
    // append) and 9 (a DELETE); commits 0-7 removed as log cleanup removes them.
    python(
        &table,
        "
import glob, os
write_deltalake(TABLE, pa.table({'id': [1, 2], 'country': ['PL', 'DE'], 'v': [1.5, 2.5]}),
                partition_by=['country'])
for i in range(3, 10):
    country = None if i == 9 else 'PL' if i % 2 else 'FR'
    write_deltalake(TABLE, pa.table({'id': [i], 'country': pa.array([country], pa.string()),
                                     'v': [i + 0.5]}), mode='append')
DeltaTable(TABLE).create_checkpoint()
write_deltalake(TABLE, pa.table({'id': [10], 'country': ['DE'], 'v': [10.5]}), mode='append')
DeltaTable(TABLE).delete('id = 4')
for commit in glob.glob(os.path.join(TABLE, '_delta_log', '*.json')):
    if int(os.path.basename(commit)[:20]) <= 7:
        os.remove(commit)
",
    );
    for place in LakePlace::all() {
        let mut server = serve(place, &table).await;
        let lake_table = server.lake.join("accounts");
        let c = server.client().await;
        let expected = python(&lake_table, READ_BACK);
        assert_eq!(expected.lines().count(), 9, "{expected}");
        // A null partition value: a checkpoint's map leaves it out.
        assert!(expected.contains("9||9.5|"), "{expected}");
        assert!(!expected.contains("4|FR"), "{expected}");
        assert_eq!(served_with(&c, "''").await, expected);
        let status = rows(
            &c,
            "SELECT rows, state FROM datapunk.lake_tables WHERE table_name = 'accounts'",
        )
        .await;
        assert_eq!(status[0], ["9", "ok"]);

        // Without the checkpoint the log cannot be read: the last good version serves on
        // and the table says why.
        for file in std::fs::read_dir(lake_table.join("_delta_log"))
            .unwrap()
            .flatten()
        {
            if file.file_name().to_string_lossy().contains(".checkpoint.") {
                std::fs::remove_file(file.path()).unwrap();
            }
        }
        server.refresh_lake(&c).await;
        assert_stale_because(&c, "commit 0 is missing").await;
        assert_eq!(served_with(&c, "''").await, expected);
        server.stop().await;
    }
}

/// Renames column `v` to `amount` as Spark's `ALTER TABLE RENAME COLUMN` commits it: a
/// new `metaData` whose schema gives the column's physical name a new logical name.
const RENAME_V: &str = "
import json, os
log = os.path.join(TABLE, '_delta_log')
first = [json.loads(l) for l in open(os.path.join(log, '00000000000000000000.json'))]
meta = next(a['metaData'] for a in first if 'metaData' in a)
schema = json.loads(meta['schemaString'])
for f in schema['fields']:
    if f['name'] == 'v':
        f['name'] = 'amount'
meta['schemaString'] = json.dumps(schema)
with open(os.path.join(log, f'{DeltaTable(TABLE).version() + 1:020}.json'), 'w') as out:
    out.write(json.dumps({'metaData': meta}) + '\\n')
";

/// `id|country|amount` per row, by id, through delta-rs's query engine (delta-kernel's
/// scans follow column mapping; its pyarrow reader returns NULL for mapped columns).
const READ_BACK_MAPPED: &str = "
from deltalake import QueryBuilder
t = pa.table(QueryBuilder().register('t', DeltaTable(TABLE)).execute('SELECT * FROM t').read_all())
for r in sorted(t.to_pylist(), key=lambda r: r['id']):
    print('|'.join(str(v) for v in r.values()))
";

#[tokio::test]
async fn columns_are_read_by_physical_name_or_id_under_column_mapping() {
    if !python_has("deltalake") {
        return;
    }
    for mode in ["name", "id"] {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("accounts");
        // Files hold `col-<uuid>` columns under random two-letter folders; partition
        // values are only in the log, keyed by physical name.
        python(
            &table,
            &format!(
                "
write_deltalake(TABLE, pa.table({{'id': [1, 2, 3, 4], 'country': ['PL', 'PL', 'DE', 'FR'],
                                 'v': [1.5, 2.5, 3.5, 4.5]}}), partition_by=['country'],
                configuration={{'delta.columnMapping.mode': '{mode}',
                                'delta.minReaderVersion': '2', 'delta.minWriterVersion': '5'}})
write_deltalake(TABLE, pa.table({{'id': [5, 6], 'country': ['DE', 'PL'], 'v': [5.5, 6.5]}}),
                mode='append')
DeltaTable(TABLE).delete('id = 2')
{RENAME_V}"
            ),
        );
        for place in LakePlace::all() {
            let server = serve(place, &table).await;
            let lake_table = server.lake.join("accounts");
            let c = server.client().await;
            let expected = python(&lake_table, READ_BACK_MAPPED);
            assert_eq!(expected.lines().count(), 5, "{mode}: {expected}");
            assert!(expected.contains("6|PL|6.5"), "{mode}: {expected}");
            let served: String = rows(
                &c,
                "SELECT id, country, amount FROM lake.accounts ORDER BY id",
            )
            .await
            .into_iter()
            .map(|r| format!("{}\n", r.join("|")))
            .collect();
            assert_eq!(served, expected, "{mode}");
            // The partition column filters by the log's values; the version before the
            // rename has `v`.
            assert_eq!(
                rows(
                    &c,
                    "SELECT count(*) FROM lake.accounts WHERE country = 'PL'"
                )
                .await,
                [["2"]],
                "{mode}"
            );
            assert_eq!(accounts_at(&c, "2").await.len(), 5, "{mode}");
            server.stop().await;
        }
    }
}

/// Marks rows of the table's files deleted with deletion vectors, in one commit, as
/// the Delta protocol lays them out: for the file holding id 1, the rows of odd ids in
/// a `deletion_vector_<uuid>.bin` file under a two-letter folder; for every other file,
/// its first row, inline in the log (Z85). Prints the deleted ids.
const MARK_DELETED: &str = r#"
import glob, json, os, struct, time, uuid, zlib
import pyarrow.parquet as pq
from pyroaring import BitMap

Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#'
def z85(data):
    data = data + bytes(-len(data) % 4)
    out = ''
    for i in range(0, len(data), 4):
        n = int.from_bytes(data[i:i + 4], 'big')
        out += ''.join(Z85[n // 85 ** k % 85] for k in range(4, -1, -1))
    return out

def bitmap(positions):
    # The magic number, then the portable 64-bit roaring format: one 32-bit bitmap, key 0.
    return struct.pack('<IQI', 1681511377, 1, 0) + BitMap(positions).serialize()

log = os.path.join(TABLE, '_delta_log')
commits = sorted(glob.glob(os.path.join(log, '*.json')))
live = {}
for commit in commits:
    for line in open(commit):
        action = json.loads(line)
        if 'add' in action:
            live[action['add']['path']] = action['add']
        elif 'remove' in action:
            live.pop(action['remove']['path'], None)
now = int(time.time() * 1000)
actions = [{'protocol': {'minReaderVersion': 3, 'minWriterVersion': 7,
                         'readerFeatures': ['deletionVectors'],
                         'writerFeatures': ['deletionVectors']}}]
deleted = []
for path, add in sorted(live.items()):
    ids = pq.read_table(os.path.join(TABLE, path), columns=['id'])['id'].to_pylist()
    if 1 in ids:
        positions = [i for i, v in enumerate(ids) if v % 2 == 1]
        data = bitmap(positions)
        file_id = uuid.uuid4()
        os.makedirs(os.path.join(TABLE, 'ab'), exist_ok=True)
        with open(os.path.join(TABLE, 'ab', f'deletion_vector_{file_id}.bin'), 'wb') as f:
            f.write(b'\x01' + struct.pack('>I', len(data)) + data
                    + struct.pack('>I', zlib.crc32(data)))
        vector = {'storageType': 'u', 'pathOrInlineDv': 'ab' + z85(file_id.bytes),
                  'offset': 1, 'sizeInBytes': len(data), 'cardinality': len(positions)}
    else:
        positions = [0]
        data = bitmap(positions)
        vector = {'storageType': 'i', 'pathOrInlineDv': z85(data),
                  'sizeInBytes': len(data), 'cardinality': 1}
    deleted += [ids[i] for i in positions]
    actions.append({'remove': {'path': path, 'deletionTimestamp': now, 'dataChange': True,
                               'partitionValues': add['partitionValues'],
                               'size': add['size']}})
    actions.append({'add': dict(add, deletionVector=vector, modificationTime=now,
                                dataChange=True, stats=None)})
version = int(os.path.basename(commits[-1])[:20]) + 1
with open(os.path.join(log, f'{version:020}.json'), 'w') as f:
    f.write(''.join(json.dumps(a) + '\n' for a in actions))
print(' '.join(str(i) for i in sorted(deleted)))
"#;

#[tokio::test]
async fn rows_marked_by_deletion_vectors_are_not_served() {
    if !python_has("deltalake") || !python_has("pyroaring") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("accounts");
    python(
        &table,
        "
write_deltalake(TABLE, pa.table({'id': [1, 2, 3, 4, 5, 6, 7], 'country': ['PL', 'PL', 'DE', 'PL', 'PL', 'FR', 'DE'],
                                 'v': [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]}), partition_by=['country'])
write_deltalake(TABLE, pa.table({'id': [8, 9], 'country': ['DE', 'FR'], 'v': [8.5, 9.5]}),
                mode='append')
",
    );
    let deleted = python(&table, MARK_DELETED);
    for place in LakePlace::all() {
        let mut server = serve(place, &table).await;
        let lake_table = server.lake.join("accounts");
        let c = server.client().await;
        // The reference reader applies the vectors: what it returns lacks the deleted ids.
        let expected = python(&lake_table, READ_BACK_WITH_VECTORS);
        let deleted: Vec<&str> = deleted.split_whitespace().collect();
        assert!(deleted.len() >= 4, "{deleted:?}");
        assert_eq!(expected.lines().count(), 9 - deleted.len(), "{expected}");
        for id in &deleted {
            assert!(!expected.lines().any(|l| l.starts_with(&format!("{id}|"))));
        }
        assert_eq!(served_with(&c, "''").await, expected);
        let kept = (9 - deleted.len()).to_string();
        assert_eq!(
            rows(&c, "SELECT count(*) FROM lake.accounts").await[0][0],
            kept
        );
        let status = rows(
            &c,
            "SELECT rows, state FROM datapunk.lake_tables WHERE table_name = 'accounts'",
        )
        .await;
        assert_eq!(status[0], [kept.as_str(), "ok"]);

        // A vector file that fails its checksum: the last good version serves on.
        let bin = std::fs::read_dir(lake_table.join("ab"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        let mut bytes = std::fs::read(&bin).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&bin, bytes).unwrap();
        // The commit that names it is new to the server (touching the log is a change).
        let log = lake_table.join("_delta_log");
        let mut commits: Vec<_> = std::fs::read_dir(&log)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        commits.sort();
        let last = commits.last().unwrap().clone();
        let text = std::fs::read_to_string(&last).unwrap();
        std::fs::write(&last, format!("{text}{{\"commitInfo\":{{}}}}\n")).unwrap();
        server.refresh_lake(&c).await;
        assert_stale_because(&c, "checksum").await;
        assert_eq!(served_with(&c, "''").await, expected);
        server.stop().await;
    }
}

#[tokio::test]
async fn earlier_versions_are_read_by_number_and_time_through_the_same_guards() {
    if !python_has("deltalake") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("accounts");
    // 0: ids 1-3; 1: id 4 appended; 2: id 1 deleted; 3: id 5 with a new column.
    python(
        &table,
        "
write_deltalake(TABLE, pa.table({'id': [1, 2, 3], 'country': ['PL', 'DE', 'PL'],
                                 'v': [1.5, 2.5, 3.5]}), partition_by=['country'])
write_deltalake(TABLE, pa.table({'id': [4], 'country': ['FR'], 'v': [4.5]}), mode='append')
DeltaTable(TABLE).delete('id = 1')
write_deltalake(TABLE, pa.table({'id': [5], 'country': ['DE'], 'v': [5.5], 'extra': ['x']}),
                mode='append', schema_mode='merge')
",
    );
    let source = table.clone();
    let server = TestServer::start(move |c, dir| {
        c.lake.watch = false;
        copy_dir(&source, &dir.join("lake/accounts"));
        c.privacy.pii_tables = vec![PiiTableConfig {
            table: "lake.accounts".into(),
            id_type: "account".into(),
            column: "id".into(),
        }];
        c.auth.users = vec![
            crate::harness::user("admin", "admin-pw", true),
            UserConfig {
                name: "ana".into(),
                password: "ana-pw".into(),
                schemas: Some(vec!["warehouse".into()]),
                ..Default::default()
            },
        ];
    })
    .await;
    let lake_table = server.lake.join("accounts");
    let c = server.connect_as("admin", Some("admin-pw")).await.unwrap();
    let at = |version: &str| format!("\"accounts@{version}\"");
    for version in 0..=3 {
        let expected = python(
            &lake_table,
            &READ_BACK.replace(
                "DeltaTable(TABLE)",
                &format!("DeltaTable(TABLE, version={version})"),
            ),
        );
        let served: String = accounts_at(&c, &version.to_string())
            .await
            .into_iter()
            .map(|r| format!("{}|\n", r.join("|")))
            .collect();
        let expected: String = expected
            .lines()
            .map(|l| format!("{}|\n", l.trim_end_matches("|x").trim_end_matches('|')))
            .collect();
        assert_eq!(served, expected, "version {version}");
    }
    // Only the newest version has the added column.
    let err = c
        .simple_query(&format!("SELECT extra FROM lake.{}", at("2")))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42703", "{err}");

    // By time: a commit's time is its file's (here set to one day per version).
    python(
        &lake_table,
        "
import glob
for commit in glob.glob(os.path.join(TABLE, '_delta_log', '*.json')):
    version = int(os.path.basename(commit)[:20])
    when = 1767225600 + version * 86400  # 2026-01-01 UTC, then a day per version
    os.utime(commit, (when, when))
",
    );
    assert_eq!(
        accounts_at(&c, "2026-01-02 12:00:00").await,
        accounts_at(&c, "1").await
    );
    assert_eq!(
        accounts_at(&c, "2026-01-03").await,
        accounts_at(&c, "2").await
    );
    assert_eq!(
        accounts_at(&c, "2026-01-10T00:00:00+02:00").await,
        accounts_at(&c, "3").await
    );
    // The same as SQL:2011 and Spark write it.
    for (clause, version) in [
        ("FOR SYSTEM_TIME AS OF '2026-01-02 12:00:00'", "1"),
        ("VERSION AS OF 2", "2"),
        ("TIMESTAMP AS OF TIMESTAMP '2026-01-10 00:00:00'", "3"),
    ] {
        let sql = format!("SELECT id, country, v FROM lake.accounts {clause} ORDER BY id");
        assert_eq!(
            rows(&c, &sql).await,
            accounts_at(&c, version).await,
            "{clause}"
        );
    }

    // Versions the table does not have, and a table that has no versions.
    for (version, why) in [
        ("9", "newest is 3"),
        ("2025-12-31", "at or before"),
        ("soon", "neither"),
    ] {
        let err = c
            .simple_query(&format!("SELECT * FROM lake.{}", at(version)))
            .await
            .unwrap_err();
        let message = err.as_db_error().map(|e| e.message().to_owned());
        assert_eq!(sqlstate(&err), "22023", "{message:?}");
        assert!(
            message.as_ref().is_some_and(|m| m.contains(why)),
            "{message:?}"
        );
    }
    let err = c
        .simple_query("SELECT * FROM lake.\"nothing@1\"")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P01", "{err}");

    // The same guards: an erased person is gone from every version; a user who may not
    // read the lake may not read its versions either.
    c.simple_query("SELECT datapunk_forget('account', '2')")
        .await
        .unwrap();
    for version in ["0", "1", "2026-01-02"] {
        let ids: Vec<String> = accounts_at(&c, version)
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert!(!ids.contains(&"2".to_owned()), "{version}: {ids:?}");
        assert!(ids.contains(&"3".to_owned()), "{version}: {ids:?}");
    }
    let ana = server.connect_as("ana", Some("ana-pw")).await.unwrap();
    for version in ["1", "99"] {
        let err = ana
            .simple_query(&format!("SELECT * FROM lake.{}", at(version)))
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{err}");
    }
    server.stop().await;
}

/// `lake.accounts` keeps its last good version, with an error saying `why`.
async fn assert_stale_because(c: &tokio_postgres::Client, why: &str) {
    let status = rows(
        c,
        "SELECT state, error FROM datapunk.lake_tables WHERE table_name = 'accounts'",
    )
    .await;
    assert_eq!(status[0][0], "stale", "{status:?}");
    assert!(status[0][1].contains(why), "{status:?}");
}

/// `id, country, v` of `lake."accounts@<version>"`, by id.
async fn accounts_at(c: &tokio_postgres::Client, version: &str) -> Vec<Vec<String>> {
    let sql = format!("SELECT id, country, v FROM lake.\"accounts@{version}\" ORDER BY id");
    rows(c, &sql).await
}

/// A server (lake not watched) whose lake holds a copy of `table` as `accounts`, served
/// from `place`.
async fn serve(place: LakePlace, table: &Path) -> TestServer {
    let table = table.to_path_buf();
    TestServer::start_in(place, move |c, dir| {
        c.lake.watch = false;
        copy_dir(&table, &dir.join("lake/accounts"));
    })
    .await
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
