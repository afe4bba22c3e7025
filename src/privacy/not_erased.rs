//! The row test of erasure: whether a row's identifier is none of the erased ones.
//!
//! [`NotErased`] answers a whole batch in one pass over the identifier column, with
//! the erased values in the form the column's type makes fastest: a bitmap over their
//! range for dense integers, a hash set for sparse integers, a hash set of bytes for
//! text. To Parquet pruning it is opaque: a few erased identifiers never spare a row
//! group, so a guarded scan keeps no pruning predicate and stays like an unguarded one
//! (shared with the other side of a self-join, for one).

use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Int16Type, Int32Type, Int64Type, Int8Type, Schema, UInt16Type,
    UInt32Type, UInt8Type,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

type Fast = BuildHasherDefault<ahash::AHasher>;

/// A bitmap is used while it takes at most this many bits per erased value (or
/// [`SMALL_BITMAP_BITS`] in all).
const BITS_PER_VALUE: u128 = 64;
const SMALL_BITMAP_BITS: u128 = 1 << 20;

/// The erased values of one identifier column, typed as the column.
#[derive(Debug)]
pub enum ErasedValues {
    /// Integers from `min`: bit `v - min` is set for each erased `v`.
    DenseInts {
        min: i64,
        bits: Vec<u64>,
    },
    SparseInts(HashSet<i64, Fast>),
    Texts(HashSet<Box<[u8]>, Fast>),
}

impl ErasedValues {
    /// The erased `ids` for a column of `data_type`; `None` for a type not handled
    /// here (the caller then compares values as the type's scalars).
    pub fn for_type(data_type: &DataType, ids: &[String]) -> Option<Self> {
        if is_text(data_type) {
            return Some(Self::Texts(
                ids.iter().map(|id| id.as_bytes().into()).collect(),
            ));
        }
        if !is_small_int(data_type) {
            return None;
        }
        // As the column reads them; what the type cannot hold is never in the column.
        let ints: Vec<i64> = ids
            .iter()
            .filter_map(|id| id.trim().parse::<i64>().ok())
            .collect();
        let (Some(&min), Some(&max)) = (ints.iter().min(), ints.iter().max()) else {
            return Some(Self::SparseInts(HashSet::default()));
        };
        let span = (i128::from(max) - i128::from(min) + 1) as u128;
        if span > SMALL_BITMAP_BITS.max(BITS_PER_VALUE * ints.len() as u128) {
            return Some(Self::SparseInts(ints.into_iter().collect()));
        }
        let mut bits = vec![0u64; span.div_ceil(64) as usize];
        for v in ints {
            let at = v.abs_diff(min);
            bits[(at / 64) as usize] |= 1 << (at % 64);
        }
        Some(Self::DenseInts { min, bits })
    }

    fn contains_int(&self, v: i64) -> bool {
        match self {
            Self::DenseInts { min, bits } => {
                let at = v.wrapping_sub(*min) as u64;
                let word = (at / 64) as usize;
                word < bits.len() && bits[word] & (1 << (at % 64)) != 0
            }
            Self::SparseInts(set) => set.contains(&v),
            Self::Texts(_) => false,
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::DenseInts { bits, .. } => bits.iter().map(|w| w.count_ones() as usize).sum(),
            Self::SparseInts(set) => set.len(),
            Self::Texts(set) => set.len(),
        }
    }

    /// For each row of `column`: null or not erased.
    fn keep(&self, column: &ArrayRef) -> Result<BooleanBuffer> {
        let kept = match (self, column.data_type()) {
            (Self::Texts(set), DataType::Utf8) => {
                texts(column.as_string::<i32>().iter(), column.len(), set)
            }
            (Self::Texts(set), DataType::LargeUtf8) => {
                texts(column.as_string::<i64>().iter(), column.len(), set)
            }
            (Self::Texts(set), DataType::Utf8View) => {
                texts(column.as_string_view().iter(), column.len(), set)
            }
            (Self::Texts(_), other) => return Err(mismatch(other)),
            (_, DataType::Int64) => self.ints(column.as_primitive::<Int64Type>()),
            (_, DataType::Int32) => self.ints(column.as_primitive::<Int32Type>()),
            (_, DataType::Int16) => self.ints(column.as_primitive::<Int16Type>()),
            (_, DataType::Int8) => self.ints(column.as_primitive::<Int8Type>()),
            (_, DataType::UInt32) => self.ints(column.as_primitive::<UInt32Type>()),
            (_, DataType::UInt16) => self.ints(column.as_primitive::<UInt16Type>()),
            (_, DataType::UInt8) => self.ints(column.as_primitive::<UInt8Type>()),
            (_, other) => return Err(mismatch(other)),
        };
        Ok(kept)
    }

    fn ints<T>(&self, column: &datafusion::arrow::array::PrimitiveArray<T>) -> BooleanBuffer
    where
        T: datafusion::arrow::datatypes::ArrowPrimitiveType,
        T::Native: Into<i64>,
    {
        let values = column.values();
        let erased =
            BooleanBuffer::collect_bool(values.len(), |i| self.contains_int(values[i].into()));
        match column.nulls() {
            // Null identifiers are nobody's: kept.
            Some(nulls) => &!&erased | &!nulls.inner(),
            None => !&erased,
        }
    }
}

fn texts<'a>(
    values: impl Iterator<Item = Option<&'a str>>,
    len: usize,
    set: &HashSet<Box<[u8]>, Fast>,
) -> BooleanBuffer {
    let mut kept = BooleanBufferBuilder::new(len);
    for value in values {
        kept.append(value.is_none_or(|v| !set.contains(v.as_bytes())));
    }
    kept.finish()
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn is_small_int(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

fn mismatch(data_type: &DataType) -> DataFusionError {
    DataFusionError::Internal(format!(
        "erased identifiers compared with a column of type {data_type}"
    ))
}

/// `column IS NULL OR column is not erased`, as a physical expression.
#[derive(Debug)]
pub struct NotErased {
    column: Arc<dyn PhysicalExpr>,
    erased: Arc<ErasedValues>,
}

impl NotErased {
    pub fn new(column: Arc<dyn PhysicalExpr>, erased: Arc<ErasedValues>) -> Self {
        Self { column, erased }
    }
}

impl PartialEq for NotErased {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.erased, &other.erased) && self.column.eq(&other.column)
    }
}

impl Eq for NotErased {}

impl std::hash::Hash for NotErased {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.erased).hash(state);
        self.column.hash(state);
    }
}

impl fmt::Display for NotErased {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{} NOT ERASED ({} identifiers)",
            self.column,
            self.erased.len()
        )
    }
}

impl PhysicalExpr for NotErased {
    fn return_field(&self, _input_schema: &Schema) -> Result<FieldRef> {
        Ok(Arc::new(Field::new("not_erased", DataType::Boolean, false)))
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let column = self.column.evaluate(batch)?.into_array(batch.num_rows())?;
        let column = match column.data_type() {
            DataType::Dictionary(_, value) => cast(&column, value)?,
            _ => column,
        };
        let kept = self.erased.keep(&column)?;
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
            kept, None,
        ))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.column]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let [column] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("one identifier column expected".into()))?;
        Ok(Arc::new(Self {
            column,
            erased: Arc::clone(&self.erased),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, StringArray, StringViewArray};

    fn keep(erased: &ErasedValues, column: ArrayRef) -> Vec<bool> {
        erased.keep(&column).unwrap().iter().collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn dense_and_sparse_integers_keep_nulls_and_everything_not_erased() {
        let dense = ErasedValues::for_type(&DataType::Int64, &ids(&["5", "7", "x", "-3"])).unwrap();
        assert!(matches!(dense, ErasedValues::DenseInts { .. }));
        let sparse =
            ErasedValues::for_type(&DataType::Int64, &ids(&["5", "7", "-3", "9000000000000"]))
                .unwrap();
        assert!(matches!(sparse, ErasedValues::SparseInts(_)));
        let column: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(5),
            None,
            Some(6),
            Some(-3),
            Some(i64::MIN),
            Some(i64::MAX),
            Some(7),
        ]));
        let want = vec![false, true, true, false, true, true, false];
        assert_eq!(keep(&dense, Arc::clone(&column)), want);
        assert_eq!(keep(&sparse, column), want);
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), None, Some(8)]));
        assert_eq!(keep(&dense, narrow), vec![false, true, true]);
    }

    #[test]
    fn text_identifiers_match_exactly_in_every_string_layout() {
        let erased = ErasedValues::for_type(&DataType::Utf8View, &ids(&["a@x.com", ""])).unwrap();
        let values = vec![Some("a@x.com"), Some("A@x.com"), None, Some(""), Some("b")];
        let want = vec![false, true, true, false, true];
        assert_eq!(
            keep(&erased, Arc::new(StringArray::from(values.clone()))),
            want
        );
        assert_eq!(keep(&erased, Arc::new(StringViewArray::from(values))), want);
    }

    #[test]
    fn other_types_are_left_to_scalar_comparison() {
        assert!(ErasedValues::for_type(&DataType::Date32, &ids(&["2020-01-01"])).is_none());
        assert!(ErasedValues::for_type(&DataType::UInt64, &ids(&["1"])).is_none());
    }
}
