//! Apache Iceberg tables in the lake, written by PyIceberg (a SQL catalog in SQLite whose
//! warehouse is the server's folder, so namespace `lake` is the lake; installed by
//! `.ci/run`): a table partitioned by country, with appends, a DELETE (whose replaced
//! files stay on disk) and an added column, is served as `lake.<table>` with exactly the
//! rows PyIceberg's own reader returns; a new snapshot (a delete and a dropped column)
//! is picked up by a rescan, a renamed column keeps its values and a column dropped and
//! added again under its old name is NULL in the older files (columns are read by field
//! id).
//! The same table uploaded to a bucket (moto's S3 server) is read through its metadata
//! there: the absolute paths in it name the folder it was written in. Rows a position
//! delete file marks deleted (merge-on-read; written here as the spec lays them out,
//! since PyIceberg writes none, and read back by PyIceberg's own reader) are not served,
//! nor rows equal to an equality delete in its partition written before it.
//! Every snapshot is read by id and by the time it became current
//! (`lake."events@<snapshot id>"`) as PyIceberg reads it, with the schema it had.

use std::path::Path;

use crate::harness::{
    count_parquet, python_has, python_output, rows, upload, LakePlace, TestServer,
};
use crate::s3_lake::{S3Server, BUCKET};

/// Runs a Python script against the catalog in `dir` (`table()` loads `lake.events`);
/// its standard output.
fn python(dir: &Path, script: &str) -> String {
    python_output(&format!(
        "import pyarrow as pa\n\
         from pyiceberg.catalog.sql import SqlCatalog\n\
         from pyiceberg.schema import Schema\n\
         from pyiceberg.types import NestedField, LongType, StringType, DoubleType\n\
         from pyiceberg.partitioning import PartitionSpec, PartitionField\n\
         from pyiceberg.transforms import IdentityTransform\n\
         DIR = {:?}\n\
         catalog = SqlCatalog('c', uri=f'sqlite:///{{DIR}}/catalog.db', warehouse=f'file://{{DIR}}')\n\
         def table():\n    return catalog.load_table('lake.events')\n\
         def rows(t, data):\n    return pa.Table.from_pydict(data, schema=t.schema().as_arrow())\n\
         {script}",
        dir.display().to_string()
    ))
}

/// The table as PyIceberg reads it: its columns joined by `|` per row, by id.
const READ_BACK: &str = "
t = table().scan().to_arrow()
for r in sorted(t.to_pylist(), key=lambda r: r['id']):
    print('|'.join('' if v is None else str(v) for v in r.values()))
";

/// A server (lake not watched, served from `place`) whose catalog `script` has written
/// to; its folder.
async fn serve(place: LakePlace, script: String) -> (TestServer, std::path::PathBuf) {
    let server = TestServer::start_in(place, move |c, dir| {
        c.lake.watch = false;
        python(dir, &script);
    })
    .await;
    let dir = server.lake.parent().unwrap().to_path_buf();
    (server, dir)
}

/// Our rows of the table in the same form.
async fn served(client: &tokio_postgres::Client) -> String {
    served_as(client, "lake.events").await
}

async fn served_as(client: &tokio_postgres::Client, table: &str) -> String {
    rows(client, &format!("SELECT * FROM {table} ORDER BY id"))
        .await
        .into_iter()
        .map(|r| format!("{}\n", r.join("|")))
        .collect()
}

const CREATE: &str = "
catalog.create_namespace('lake')
schema = Schema(NestedField(1, 'id', LongType()), NestedField(2, 'country', StringType()),
                NestedField(3, 'v', DoubleType()))
t = catalog.create_table('lake.events', schema=schema,
    partition_spec=PartitionSpec(PartitionField(2, 1000, IdentityTransform(), 'country')))
t.append(rows(t, {'id': [1, 2, 3, 4], 'country': ['PL', 'PL', 'DE', 'FR'], 'v': [1.5, 2.5, 3.5, 4.5]}))
t.append(rows(t, {'id': [5, 6], 'country': ['DE', 'PL'], 'v': [5.5, 6.5]}))
t.delete('id = 2')
with t.update_schema() as u:
    u.add_column('extra', StringType())
t.append(rows(t, {'id': [7], 'country': ['FR'], 'v': [7.5], 'extra': ['x']}))
";

/// `commit_deletes(t, delete_files)`: a snapshot adding the delete files (PyIceberg
/// `DataFile`s), listed in a delete manifest of their own, committed through PyIceberg's
/// snapshot producer (PyIceberg writes no delete files itself).
const COMMIT_DELETES: &str = r#"
import pyarrow.parquet as pq
import uuid
from pyiceberg.manifest import (DataFile, DataFileContent, FileFormat, ManifestContent,
    ManifestEntry, ManifestEntryStatus, ManifestWriterV2)
from pyiceberg.table.update.snapshot import _FastAppendFiles

def commit_deletes(t, delete_files):
    class DeleteManifest(ManifestWriterV2):
        def content(self):
            return ManifestContent.DELETES
        @property
        def _meta(self):
            return {**super()._meta, 'content': 'deletes'}

    class AddDeletes(_FastAppendFiles):
        def _existing_manifests(self):
            manifests = super()._existing_manifests()
            out = self._io.new_output(t.location() + f'/metadata/{uuid.uuid4()}-deletes-m0.avro')
            with DeleteManifest(t.spec(), t.schema(), out, self._snapshot_id, self._compression) as w:
                for delete_file in delete_files:
                    w.add(ManifestEntry.from_args(status=ManifestEntryStatus.ADDED,
                          snapshot_id=self._snapshot_id, sequence_number=None,
                          file_sequence_number=None, data_file=delete_file))
            return manifests + [w.to_manifest_file()]

    with t.transaction() as tx:
        producer = tx.update_snapshot().fast_append()
        producer.__class__ = AddDeletes
        producer.commit()

def new_delete_file(t):
    return t.location().removeprefix('file://') + f'/data/{uuid.uuid4()}-deletes.parquet'
"#;

/// `delete_positions(t, ids)`: marks the rows of those ids deleted with a position
/// delete file (data file path, row position) per data file holding some.
const DELETE_POSITIONS: &str = r#"
def delete_positions(t, wanted):
    delete_files = []
    for task in t.scan().plan_files():
        path = task.file.file_path
        ids = pq.read_table(path.removeprefix('file://'), columns=['id'])['id'].to_pylist()
        positions = [pos for pos, i in enumerate(ids) if i in wanted]
        if not positions:
            continue
        location = new_delete_file(t)
        pq.write_table(pa.table({'file_path': pa.array([path] * len(positions), pa.string()),
                                 'pos': pa.array(positions, pa.int64())}), location)
        delete_file = DataFile.from_args(
            content=DataFileContent.POSITION_DELETES, file_path='file://' + location,
            file_format=FileFormat.PARQUET, partition=task.file.partition,
            record_count=len(positions), file_size_in_bytes=os.path.getsize(location))
        delete_file.spec_id = task.file.spec_id
        delete_files.append(delete_file)
    commit_deletes(t, delete_files)

"#;

#[tokio::test]
async fn rows_named_by_position_delete_files_are_not_served() {
    if !python_has("pyiceberg.catalog.sql") {
        return;
    }
    for place in LakePlace::all() {
        let (mut server, dir) = serve(
            place,
            format!(
                "{CREATE}{COMMIT_DELETES}{DELETE_POSITIONS}delete_positions(table(), {{1, 5, 7}})"
            ),
        )
        .await;
        let c = server.client().await;
        let expected = python(&dir, READ_BACK);
        assert_eq!(expected.lines().count(), 3, "{expected}");
        assert_eq!(served(&c).await, expected);
        assert_eq!(
            rows(&c, "SELECT count(*) FROM lake.events").await[0][0],
            "3"
        );
        let status = rows(
            &c,
            "SELECT rows, state FROM datapunk.lake_tables WHERE table_name = 'events'",
        )
        .await;
        assert_eq!(status[0], ["3", "ok"]);

        // A second delete file for the same data files: both apply.
        python(
            &dir,
            &format!("{COMMIT_DELETES}{DELETE_POSITIONS}delete_positions(table(), {{3}})"),
        );
        server.refresh_lake(&c).await;
        let expected = python(&dir, READ_BACK);
        assert_eq!(expected.lines().count(), 2, "{expected}");
        assert_eq!(served(&c).await, expected);
        server.stop().await;
    }
}

#[tokio::test]
async fn every_snapshot_is_read_by_id_and_by_time() {
    if !python_has("pyiceberg.catalog.sql") {
        return;
    }
    for place in LakePlace::all() {
        let (server, dir) = serve(place, CREATE.to_owned()).await;
        let c = server.client().await;
        // The snapshot log: which snapshot became current when.
        let log = python(
            &dir,
            "
import datetime
for e in table().history():
    when = datetime.datetime.fromtimestamp(e.timestamp_ms / 1000, datetime.timezone.utc)
    print(e.snapshot_id, when.isoformat())
",
        );
        let snapshots: Vec<(&str, &str)> = log.lines().filter_map(|l| l.split_once(' ')).collect();
        assert!(snapshots.len() >= 4, "{log}");
        for (id, when) in &snapshots {
            let expected = python(
                &dir,
                &READ_BACK.replace(".scan()", &format!(".scan(snapshot_id={id})")),
            );
            assert_eq!(
                served_as(&c, &format!("lake.\"events@{id}\"")).await,
                expected,
                "snapshot {id}"
            );
            assert_eq!(
                served_as(&c, &format!("lake.\"events@{when}\"")).await,
                expected,
                "current at {when}"
            );
        }
        // The first snapshot has no column `extra` yet; the current one is unchanged.
        let first = snapshots[0].0;
        let err = c
            .simple_query(&format!("SELECT extra FROM lake.\"events@{first}\""))
            .await
            .unwrap_err();
        assert_eq!(crate::harness::sqlstate(&err), "42703", "{err}");
        let err = c
            .simple_query("SELECT * FROM lake.\"events@42\"")
            .await
            .unwrap_err();
        let message = err.as_db_error().map(|e| e.message().to_owned());
        assert!(
            message
                .as_ref()
                .is_some_and(|m| m.contains("snapshot 42 is not in the metadata")),
            "{message:?}"
        );
        assert_eq!(served(&c).await, python(&dir, READ_BACK));
        server.stop().await;
    }
}

#[tokio::test]
async fn an_iceberg_table_is_served_at_its_current_snapshot() {
    if !python_has("pyiceberg.catalog.sql") {
        return;
    }
    for place in LakePlace::all() {
        let (mut server, dir) = serve(place, CREATE.to_owned()).await;
        let c = server.client().await;
        let expected = python(&dir, READ_BACK);
        assert_eq!(served(&c).await, expected);
        assert!(expected.contains("7|FR|7.5|x"), "{expected}");
        assert!(!expected.starts_with("2|"), "the deleted row: {expected}");
        // The partition folders (`country=PL`) are not extra columns: country is in the files.
        let columns = rows(
            &c,
            "SELECT column_name FROM information_schema.columns \
         WHERE table_schema = 'lake' AND table_name = 'events' ORDER BY ordinal_position",
        )
        .await;
        assert_eq!(columns.concat(), ["id", "country", "v", "extra"]);
        // The file the DELETE replaced is still in the folder; the snapshot says it is not
        // current.
        let on_disk = count_parquet(&server.lake.join("events"));
        let status = rows(
            &c,
            "SELECT files, state FROM datapunk.lake_tables WHERE table_name = 'events'",
        )
        .await;
        assert_eq!(status[0][1], "ok", "{status:?}");
        assert!(
            status[0][0].parse::<usize>().unwrap() < on_disk,
            "{status:?} of {on_disk} files"
        );

        // A new snapshot (a delete) and a new schema (a dropped column) are a change.
        python(
            &dir,
            "
t = table()
t.delete(\"country = 'DE'\")
with t.update_schema() as u:
    u.delete_column('v')
",
        );
        server.refresh_lake(&c).await;
        let expected = python(&dir, READ_BACK);
        assert_eq!(served(&c).await, expected);
        assert!(!expected.contains("|DE|"), "{expected}");
        assert!(expected.contains("7|FR|x"), "v is gone: {expected}");

        // A renamed column keeps its values (files are read by field id); a column dropped
        // and added again under the same name is another column, NULL in the older files.
        python(
            &dir,
            "
with table().update_schema() as u:
    u.rename_column('extra', 'note')
t = table()
t.append(rows(t, {'id': [8], 'country': ['PL'], 'note': ['y']}))
",
        );
        server.refresh_lake(&c).await;
        let expected = python(&dir, READ_BACK);
        assert!(expected.contains("7|FR|x"), "{expected}");
        assert_eq!(served(&c).await, expected);
        let note = rows(&c, "SELECT note FROM lake.events WHERE id = 7").await;
        assert_eq!(note, [["x"]]);
        python(
            &dir,
            "
with table().update_schema() as u:
    u.delete_column('id')
with table().update_schema() as u:
    u.add_column('id', LongType())
t = table()
t.append(rows(t, {'country': ['DE'], 'note': ['z'], 'id': [9]}))
",
        );
        server.refresh_lake(&c).await;
        let expected = python(&dir, READ_BACK_SORTED);
        assert!(
            expected.contains("PL|y|\n"),
            "the old ids are gone: {expected}"
        );
        let mut lines: Vec<String> = rows(&c, "SELECT * FROM lake.events")
            .await
            .into_iter()
            .map(|r| format!("{}\n", r.join("|")))
            .collect();
        lines.sort();
        assert_eq!(lines.concat(), expected);
        let status = rows(
            &c,
            "SELECT state FROM datapunk.lake_tables WHERE table_name = 'events'",
        )
        .await;
        assert_eq!(status, [["ok"]]);
        server.stop().await;
    }
}

/// [`READ_BACK`]'s lines in text order (for a table whose ids are not all there).
const READ_BACK_SORTED: &str = "
t = table().scan().to_arrow()
for line in sorted('|'.join('' if v is None else str(v) for v in r.values()) for r in t.to_pylist()):
    print(line)
";

/// `delete_equal(t, column, field_id, values, type, country)`: an equality delete file
/// on one column (`values` of pyarrow `type`) in the partition of `country`.
const DELETE_EQUAL: &str = r#"
def delete_equal(t, column, field_id, values, type, country):
    # (PyIceberg plans no scan of a table with equality deletes: the partition is built.)
    from pyiceberg.typedef import Record
    partition = Record(country)
    location = new_delete_file(t)
    schema = pa.schema([pa.field(column, type, metadata={b'PARQUET:field_id': str(field_id).encode()})])
    pq.write_table(pa.table({column: pa.array(values, type)}, schema=schema), location)
    delete_file = DataFile.from_args(
        content=DataFileContent.EQUALITY_DELETES, file_path='file://' + location,
        file_format=FileFormat.PARQUET, partition=partition, equality_ids=[field_id],
        record_count=len(values), file_size_in_bytes=os.path.getsize(location))
    delete_file.spec_id = t.spec().spec_id
    commit_deletes(t, [delete_file])

"#;

#[tokio::test]
async fn rows_equal_to_an_equality_delete_are_not_served_in_its_partition_before_it() {
    if !python_has("pyiceberg.catalog.sql") {
        return;
    }
    for place in LakePlace::all() {
        let (mut server, dir) = serve(place, CREATE.to_owned()).await;
        let c = server.client().await;
        let before = python(&dir, READ_BACK);
        assert_eq!(served(&c).await, before);
        // Ids 1 and 3 deleted in partition PL (3 is a DE row: kept); then id 1 written
        // again, after the delete: served. PyIceberg cannot read equality deletes, so the
        // expected rows follow the spec's rule from its rows before the delete.
        python(
            &dir,
            &format!(
                "{COMMIT_DELETES}{DELETE_EQUAL}delete_equal(table(), 'id', 1, [1, 3], pa.int64(), 'PL')
t = table()
t.append(rows(t, {{'id': [1], 'country': ['PL'], 'v': [9.5], 'extra': ['new']}}))
"
            ),
        );
        server.refresh_lake(&c).await;
        let expected: String = std::iter::once("1|PL|9.5|new\n".to_owned())
            .chain(
                before
                    .lines()
                    .filter(|l| !l.starts_with("1|PL|"))
                    .map(|l| format!("{l}\n")),
            )
            .collect();
        assert!(expected.contains("3|DE|"), "{expected}");
        let status = rows(
            &c,
            "SELECT rows, state, error FROM datapunk.lake_tables WHERE table_name = 'events'",
        )
        .await;
        assert_eq!(
            status[0],
            [
                before.lines().count().to_string(),
                "ok".into(),
                String::new()
            ]
        );
        assert_eq!(served(&c).await, expected);
        assert_eq!(
            rows(&c, "SELECT count(*) FROM lake.events WHERE id = 1").await,
            [["1"]]
        );

        // A delete on `extra`, which the older PL files do not have (added since): NULL
        // there, so the delete of NULL takes their rows; the new PL row has a value.
        python(
            &dir,
            &format!(
                "{COMMIT_DELETES}{DELETE_EQUAL}delete_equal(table(), 'extra', 4, [None], pa.string(), 'PL')"
            ),
        );
        server.refresh_lake(&c).await;
        let expected: String = expected
            .lines()
            .filter(|l| !l.starts_with("6|PL|"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(expected.contains("1|PL|9.5|new"), "{expected}");
        assert_eq!(served(&c).await, expected);
        server.stop().await;
    }
}

#[tokio::test]
async fn an_iceberg_table_in_a_bucket_is_read_through_its_metadata() {
    if !python_has("pyiceberg.catalog.sql") {
        return;
    }
    let Some(s3) = S3Server::start() else {
        return;
    };
    let staged = tempfile::tempdir().unwrap();
    python(staged.path(), CREATE);
    let expected = python(staged.path(), READ_BACK);
    upload(&s3.store(), &staged.path().join("lake"), "iceberg").await;
    let endpoint = s3.config();
    let server = TestServer::start(move |c, _| {
        c.lake.s3 = endpoint;
        c.lake.mounts = vec![datapunk::config::MountConfig {
            name: "remote".into(),
            root: format!("s3://{BUCKET}/iceberg"),
        }];
    })
    .await;
    let c = server.client().await;
    assert_eq!(served_as(&c, "remote.events").await, expected);
    server.stop().await;
}
