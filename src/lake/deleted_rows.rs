//! Rows a table format marks deleted without rewriting the data file (Delta Lake
//! deletion vectors, Iceberg position delete files): positions in a Parquet file,
//! handed to the Parquet reader as the rows to read (`ParquetRowSelection`), so a scan
//! never decodes a deleted row and no filter runs above it.

use std::sync::Arc;

use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::ParquetRowSelection;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use roaring::RoaringTreemap;

/// The rows a table format marks deleted in one data file.
#[derive(Debug, Clone)]
pub struct DeletedRows {
    /// Names this set of rows (a deletion vector's unique id): another set is another
    /// version of the table.
    pub id: String,
    /// 0-based positions in the file.
    pub rows: Arc<RoaringTreemap>,
    /// The rows to read, once the file's row count is known.
    pub kept: Option<RowSelection>,
}

impl PartialEq for DeletedRows {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for DeletedRows {}

/// The rows of a file of `rows` rows that `deleted` (0-based positions) leaves.
///
/// # Errors
/// A position is past the end of the file: the delete was written for another file.
pub fn kept_rows(deleted: &RoaringTreemap, rows: u64) -> Result<RowSelection, String> {
    if let Some(last) = deleted.max().filter(|last| *last >= rows) {
        return Err(format!(
            "row {last} is deleted, but the file has {rows} rows"
        ));
    }
    let mut selectors: Vec<RowSelector> = Vec::new();
    let mut next = 0u64;
    for position in deleted {
        if position > next {
            selectors.push(RowSelector::select(count(position - next)));
        }
        match selectors.last_mut() {
            // The run before ends just before this position.
            Some(run) if run.skip => run.row_count += 1,
            _ => selectors.push(RowSelector::skip(1)),
        }
        next = position + 1;
    }
    if rows > next {
        selectors.push(RowSelector::select(count(rows - next)));
    }
    Ok(RowSelection::from(selectors))
}

fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

/// `file` read without the rows `kept` leaves out, together with any selection it
/// already carries (both cover the whole file). Its statistics no longer count its
/// rows exactly.
pub fn with_kept_rows(file: PartitionedFile, kept: RowSelection) -> PartitionedFile {
    let selection = match file.extension::<ParquetRowSelection>() {
        Some(earlier) => earlier.selection().intersection(&kept),
        None => kept,
    };
    let mut file = file;
    file.statistics = file
        .statistics
        .take()
        .map(|s| Arc::new(s.as_ref().clone().to_inexact()));
    file.with_extension(ParquetRowSelection::new(selection))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(selection: &RowSelection) -> Vec<(bool, usize)> {
        selection.iter().map(|s| (s.skip, s.row_count)).collect()
    }

    #[test]
    fn deleted_positions_become_skipped_runs() {
        let deleted: RoaringTreemap = [0u64, 1, 5, 6, 7, 9].into_iter().collect();
        let kept = kept_rows(&deleted, 12).unwrap();
        assert_eq!(
            runs(&kept),
            vec![
                (true, 2),
                (false, 3),
                (true, 3),
                (false, 1),
                (true, 1),
                (false, 2)
            ]
        );
        assert_eq!(kept.row_count(), 6);
        let all = kept_rows(&RoaringTreemap::new(), 4).unwrap();
        assert_eq!(all.row_count(), 4);
        let last: RoaringTreemap = [3u64].into_iter().collect();
        assert_eq!(
            runs(&kept_rows(&last, 4).unwrap()),
            vec![(false, 3), (true, 1)]
        );
        assert!(kept_rows(&last, 3).is_err());
    }

    #[test]
    fn a_second_selection_keeps_only_rows_both_keep() {
        let file = PartitionedFile::new("f.parquet", 100);
        let first: RoaringTreemap = [0u64, 1].into_iter().collect();
        let second: RoaringTreemap = [1u64, 3].into_iter().collect();
        let file = with_kept_rows(file, kept_rows(&first, 5).unwrap());
        let file = with_kept_rows(file, kept_rows(&second, 5).unwrap());
        let selection = file.extension::<ParquetRowSelection>().unwrap().selection();
        assert_eq!(selection.row_count(), 2);
        assert_eq!(
            runs(selection),
            vec![(true, 2), (false, 1), (true, 1), (false, 1)]
        );
    }
}
