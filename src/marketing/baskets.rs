//! Baskets in compressed form: the distinct items of each basket (an order or a
//! customer), ascending, all baskets in one flat array with offsets (compressed sparse
//! rows), built from (basket, item) rows by a counting sort. No per-basket allocation:
//! a hundred million order lines take two `u32`s a line.

/// The baskets `0..len()`; each is non-empty, its items distinct and ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baskets {
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl Baskets {
    /// The baskets of rows (`basket_of_row[r]`, `item_of_row[r]`), basket ids below
    /// `baskets`. Repeated items count once; basket ids without rows are left out (the
    /// others keep their order, renumbered densely).
    ///
    /// # Panics
    /// If the two slices differ in length or a basket id is `baskets` or more.
    pub fn from_rows(baskets: usize, basket_of_row: &[u32], item_of_row: &[u32]) -> Self {
        assert_eq!(
            basket_of_row.len(),
            item_of_row.len(),
            "one basket per item"
        );
        // Counting sort by basket: offsets[b] = start of b, then scatter.
        let mut offsets = vec![0usize; baskets + 1];
        for &b in basket_of_row {
            offsets[b as usize + 1] += 1;
        }
        for b in 1..=baskets {
            offsets[b] += offsets[b - 1];
        }
        let mut items = vec![0u32; item_of_row.len()];
        for (&b, &item) in basket_of_row.iter().zip(item_of_row) {
            let slot = &mut offsets[b as usize];
            items[*slot] = item;
            *slot += 1;
        }
        // offsets[b] is now the end of b; each basket's rows are items[start..end].
        // Sort and deduplicate each basket, compacting in place and dropping empty ones.
        let mut start = 0;
        let mut write = 0;
        let mut kept = 0;
        for b in 0..baskets {
            let end = offsets[b];
            if end == start {
                continue;
            }
            items[start..end].sort_unstable();
            offsets[kept] = write;
            kept += 1;
            let mut last = None;
            for i in start..end {
                let item = items[i];
                if last != Some(item) {
                    items[write] = item;
                    write += 1;
                    last = Some(item);
                }
            }
            start = end;
        }
        offsets[kept] = write;
        offsets.truncate(kept + 1);
        items.truncate(write);
        items.shrink_to_fit();
        Self { offsets, items }
    }

    /// Baskets from lists of items (tests and small inputs).
    pub fn from_lists(lists: &[Vec<u32>]) -> Self {
        let basket_of_row: Vec<u32> = lists
            .iter()
            .enumerate()
            .flat_map(|(b, list)| std::iter::repeat_n(b as u32, list.len()))
            .collect();
        let item_of_row: Vec<u32> = lists.iter().flatten().copied().collect();
        Self::from_rows(lists.len(), &basket_of_row, &item_of_row)
    }

    /// The number of baskets.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items of basket `b`.
    pub fn get(&self, b: usize) -> &[u32] {
        &self.items[self.offsets[b]..self.offsets[b + 1]]
    }

    /// Every basket in id order.
    pub fn iter(&self) -> impl Iterator<Item = &[u32]> + '_ {
        self.offsets.windows(2).map(|w| &self.items[w[0]..w[1]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(b: &Baskets) -> Vec<Vec<u32>> {
        b.iter().map(<[u32]>::to_vec).collect()
    }

    #[test]
    fn rows_become_distinct_sorted_baskets() {
        // Basket 1 has no rows; basket 2's rows come before and after basket 0's.
        let b = Baskets::from_rows(3, &[2, 0, 0, 2, 0, 2], &[5, 1, 0, 5, 1, 3]);
        assert_eq!(lists(&b), vec![vec![0, 1], vec![3, 5]]);
        assert_eq!(b.len(), 2);
        assert_eq!(b.get(1), &[3, 5]);
        assert!(Baskets::from_rows(4, &[], &[]).is_empty());
        assert_eq!(
            lists(&Baskets::from_lists(&[vec![2, 1, 2], vec![], vec![7]])),
            vec![vec![1, 2], vec![7]]
        );
    }
}
