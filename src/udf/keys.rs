//! Dense ids for key columns (customers, baskets, items) of either integer or text type:
//! [`KeyDict`] interns an Arrow column into `u32` ids, renumbers them in key order (so
//! every tie broken by id is broken by key, whatever the input's partitioning), and
//! builds Arrow columns of keys back from ids.

use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};

use crate::marketing::FastMap;

/// Keys of one type with their ids.
#[derive(Debug)]
pub struct Interner<K> {
    ids: FastMap<K, u32>,
    keys: Vec<K>,
}

impl<K: Hash + Eq + Clone + Ord> Interner<K> {
    fn new() -> Self {
        Self {
            ids: FastMap::default(),
            keys: Vec::new(),
        }
    }

    fn intern(&mut self, key: &K) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(key.clone());
        self.ids.insert(key.clone(), id);
        id
    }

    /// Renumbers ids in key order; returns old id → new id.
    fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.keys.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.keys[a as usize].cmp(&self.keys[b as usize]));
        let mut remap = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let keys: Vec<K> = order
            .iter()
            .map(|&old| self.keys[old as usize].clone())
            .collect();
        for (new, key) in keys.iter().enumerate() {
            self.ids.insert(key.clone(), new as u32);
        }
        self.keys = keys;
        remap
    }
}

/// A dictionary of integer or text keys.
#[derive(Debug)]
pub enum KeyDict {
    Integer(Interner<i64>),
    Text(Interner<String>),
}

impl KeyDict {
    /// A dictionary for columns of `data_type` (`Int64` or `Utf8`, see
    /// [`super::table_args::key_type`]).
    pub fn for_type(data_type: &DataType) -> Self {
        if matches!(data_type, DataType::Int64) {
            KeyDict::Integer(Interner::new())
        } else {
            KeyDict::Text(Interner::new())
        }
    }

    /// The Arrow type of the keys.
    pub fn data_type(&self) -> DataType {
        match self {
            KeyDict::Integer(_) => DataType::Int64,
            KeyDict::Text(_) => DataType::Utf8,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            KeyDict::Integer(i) => i.keys.len(),
            KeyDict::Text(i) => i.keys.len(),
        }
    }

    /// The id of each value of `array` (`None` for NULL), adding new keys. A key equal
    /// to the row before's is not looked up again (order lines come order by order).
    pub fn intern(&mut self, array: &ArrayRef) -> Vec<Option<u32>> {
        match self {
            KeyDict::Integer(dict) => {
                let mut previous: Option<(i64, u32)> = None;
                array
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| {
                        v.map(|key| match previous {
                            Some((last, id)) if last == key => id,
                            _ => {
                                let id = dict.intern(&key);
                                previous = Some((key, id));
                                id
                            }
                        })
                    })
                    .collect()
            }
            KeyDict::Text(dict) => {
                let strings = array.as_string::<i32>();
                let mut previous: Option<(&str, u32)> = None;
                (0..strings.len())
                    .map(|row| {
                        strings.is_valid(row).then(|| {
                            let key = strings.value(row);
                            match previous {
                                Some((last, id)) if last == key => id,
                                _ => {
                                    let id = match dict.ids.get(key) {
                                        Some(&id) => id,
                                        None => dict.intern(&key.to_owned()),
                                    };
                                    previous = Some((key, id));
                                    id
                                }
                            }
                        })
                    })
                    .collect()
            }
        }
    }

    /// Renumbers the ids in key order; returns old id → new id.
    pub fn sort(&mut self) -> Vec<u32> {
        match self {
            KeyDict::Integer(i) => i.sort(),
            KeyDict::Text(i) => i.sort(),
        }
    }

    /// The keys of `ids` as an Arrow column.
    pub fn build(&self, ids: impl IntoIterator<Item = u32>) -> ArrayRef {
        match self {
            KeyDict::Integer(dict) => Arc::new(Int64Array::from_iter_values(
                ids.into_iter().map(|id| dict.keys[id as usize]),
            )),
            KeyDict::Text(dict) => {
                let keys: Vec<&str> = ids
                    .into_iter()
                    .map(|id| dict.keys[id as usize].as_str())
                    .collect();
                Arc::new(StringArray::from(keys))
            }
        }
    }
}

/// Applies the renumbering `remap` (from [`KeyDict::sort`]) to `ids`.
pub fn renumber(ids: &mut [Option<u32>], remap: &[u32]) {
    for id in ids.iter_mut().flatten() {
        *id = remap[*id as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_key_order_after_sorting() {
        let mut dict = KeyDict::for_type(&DataType::Utf8);
        let column: ArrayRef = Arc::new(StringArray::from(vec![
            Some("b"),
            None,
            Some("a"),
            Some("b"),
        ]));
        let ids = dict.intern(&column);
        let remap = dict.sort();
        let sorted: Vec<Option<u32>> = ids.iter().map(|i| i.map(|i| remap[i as usize])).collect();
        assert_eq!(sorted, vec![Some(1), None, Some(0), Some(1)]);
        let back = dict.build([0, 1]);
        assert_eq!(back.as_string::<i32>().value(0), "a");
    }
}
