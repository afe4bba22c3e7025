//! The key index of one table version: a 32-bit hash of every row's key, sorted with
//! the row's number, so the rows of a key are found by binary search. Hashes collide
//! now and then; the rows found are candidates, and the query's own filter (which stays
//! above the lookup) drops the few that do not match.

use std::hash::{Hash, Hasher};

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};

/// A key value in the form both sides hash: integers widened to i64, text as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Int(i64),
    Text(String),
}

impl Key {
    /// The key a literal stands for, when the key column's kind matches.
    pub fn from_scalar(value: &ScalarValue, column: &DataType) -> Option<Self> {
        if value.is_null() {
            return None;
        }
        if column.is_integer() && value.data_type().is_integer() {
            return match value.cast_to(&DataType::Int64).ok()? {
                ScalarValue::Int64(Some(v)) => Some(Key::Int(v)),
                _ => None,
            };
        }
        if is_text(column) {
            return match value {
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)) => Some(Key::Text(s.clone())),
                _ => None,
            };
        }
        None
    }

    fn hash32(&self) -> u32 {
        match self {
            Key::Int(v) => int_hash(*v),
            Key::Text(s) => text_hash(s.as_bytes()),
        }
    }
}

/// The key of every row of a key column (`None` for NULL).
///
/// # Errors
/// A column of a type [`indexable`] refuses.
pub fn keys_in(array: &ArrayRef) -> Result<Vec<Option<Key>>> {
    if array.data_type().is_integer() {
        let wide = datafusion::arrow::compute::cast(array, &DataType::Int64)?;
        let ints = wide.as_primitive::<Int64Type>();
        return Ok((0..ints.len())
            .map(|i| ints.is_valid(i).then(|| Key::Int(ints.value(i))))
            .collect());
    }
    let text = datafusion::arrow::compute::cast(array, &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    Ok((0..text.len())
        .map(|i| {
            text.is_valid(i)
                .then(|| Key::Text(text.value(i).to_owned()))
        })
        .collect())
}

/// Whether a column of this type can carry the index.
pub fn indexable(data_type: &DataType) -> bool {
    data_type.is_integer() || is_text(data_type)
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn int_hash(v: i64) -> u32 {
    // splitmix64's finaliser: every input bit reaches the top 32 bits.
    let mut z = (v as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 32) as u32
}

fn text_hash(bytes: &[u8]) -> u32 {
    // SipHash with fixed keys: the same value hashes the same in every process.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    (h.finish() >> 32) as u32
}

/// The most rows an index numbers.
pub const MAX_ROWS: u32 = u32::MAX;

/// (hash, row number) of every row with a non-NULL key, sorted.
#[derive(Debug, Default)]
pub struct KeyIndex {
    entries: Vec<(u32, u32)>,
}

impl KeyIndex {
    /// Builds the index from the key column's arrays, in row order.
    ///
    /// # Errors
    /// More than 2^32 rows, or a key column of a type [`indexable`] refuses.
    pub fn build<'a>(columns: impl IntoIterator<Item = &'a ArrayRef>) -> Result<Self> {
        let mut entries: Vec<(u32, u32)> = Vec::new();
        let mut row: u64 = 0;
        for array in columns {
            let base = row;
            row += array.len() as u64;
            if row > u64::from(MAX_ROWS) {
                return Err(DataFusionError::Execution(
                    "a key index covers at most 2^32 rows".into(),
                ));
            }
            entries.reserve(array.len());
            let at = |i: usize| (base + i as u64) as u32;
            match array.data_type() {
                t if t.is_integer() => {
                    let wide = datafusion::arrow::compute::cast(array, &DataType::Int64)?;
                    let ints = wide.as_primitive::<Int64Type>();
                    for i in 0..ints.len() {
                        if ints.is_valid(i) {
                            entries.push((int_hash(ints.value(i)), at(i)));
                        }
                    }
                }
                DataType::Utf8 => push_text(&mut entries, array.as_string::<i32>(), at),
                DataType::LargeUtf8 => push_text(&mut entries, array.as_string::<i64>(), at),
                DataType::Utf8View => {
                    let texts = array.as_string_view();
                    for i in 0..texts.len() {
                        if texts.is_valid(i) {
                            entries.push((text_hash(texts.value(i).as_bytes()), at(i)));
                        }
                    }
                }
                other => {
                    return Err(DataFusionError::Execution(format!(
                        "a key column of type {other} cannot be indexed"
                    )))
                }
            }
        }
        entries.sort_unstable();
        entries.shrink_to_fit();
        Ok(Self { entries })
    }

    /// The row numbers that may hold one of `keys`, ascending and distinct.
    pub fn candidates(&self, keys: &[Key]) -> Vec<u32> {
        let mut rows = Vec::new();
        for key in keys {
            let h = key.hash32();
            let start = self.entries.partition_point(|e| e.0 < h);
            rows.extend(
                self.entries[start..]
                    .iter()
                    .take_while(|e| e.0 == h)
                    .map(|e| e.1),
            );
        }
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

fn push_text<O: datafusion::arrow::array::OffsetSizeTrait>(
    entries: &mut Vec<(u32, u32)>,
    texts: &datafusion::arrow::array::GenericStringArray<O>,
    at: impl Fn(usize) -> u32,
) {
    for i in 0..texts.len() {
        if texts.is_valid(i) {
            entries.push((text_hash(texts.value(i).as_bytes()), at(i)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int32Array, StringArray};

    use super::*;

    #[test]
    fn finds_every_row_of_a_key_across_arrays_and_skips_nulls() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(5), None, Some(7)]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), Some(9)]));
        let index = KeyIndex::build([&a, &b]).expect("index");
        assert_eq!(index.candidates(&[Key::Int(7)]), vec![2, 3]);
        assert_eq!(index.candidates(&[Key::Int(9), Key::Int(5)]), vec![0, 4]);
        assert!(index.candidates(&[Key::Int(6)]).is_empty());
    }

    #[test]
    fn text_keys_and_literals_of_other_widths_meet() {
        let a: ArrayRef = Arc::new(StringArray::from(vec!["ab", "Zoë", "ab"]));
        let index = KeyIndex::build([&a]).expect("index");
        let key = Key::from_scalar(&ScalarValue::Utf8View(Some("ab".into())), &DataType::Utf8)
            .expect("text key");
        assert_eq!(index.candidates(&[key]), vec![0, 2]);
        assert_eq!(
            Key::from_scalar(&ScalarValue::Int16(Some(3)), &DataType::Int64),
            Some(Key::Int(3))
        );
        assert_eq!(
            Key::from_scalar(&ScalarValue::Utf8(Some("3".into())), &DataType::Int64),
            None
        );
    }
}
