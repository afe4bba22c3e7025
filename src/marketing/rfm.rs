//! RFM: the canonical 125-code map of `rfm_segment(r, f, m)` and the R×F grid of
//! `rfm_segment_rf(r, f)`, exactly as the project's spec lists them (segment names
//! spelled as there, ASCII apostrophe in "Can't Lose Them"), and quantile scoring:
//! SQL-standard NTILE with ties split (by a tie-breaker) or shared.

/// The eleven segment names, in the spec's order.
pub const SEGMENTS: [&str; 11] = [
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
];

/// Each segment's RFM codes (R, F, M digits), as the spec's code lists give them.
const CODES: [(&str, &[u16]); 11] = [
    ("Champions", &[555, 554, 544, 545, 454, 455, 445]),
    ("Loyal Customers", &[543, 444, 435, 355, 354, 345, 344, 335]),
    (
        "Potential Loyalists",
        &[
            553, 551, 552, 541, 542, 533, 532, 531, 452, 451, 442, 441, 431, 453, 433, 432, 423,
            353, 352, 351, 342, 341, 333, 323,
        ],
    ),
    ("New Customers", &[512, 511, 422, 421, 412, 411, 311]),
    (
        "Promising",
        &[
            525, 524, 523, 522, 521, 515, 514, 513, 425, 424, 413, 414, 415, 315, 314, 313,
        ],
    ),
    ("Need Attention", &[535, 534, 443, 434, 343, 334, 325, 324]),
    ("About To Sleep", &[331, 321, 312, 221, 213, 231, 241, 251]),
    (
        "At Risk",
        &[
            255, 254, 245, 244, 253, 252, 243, 242, 235, 234, 225, 224, 153, 152, 145, 143, 142,
            135, 134, 133, 125, 124,
        ],
    ),
    ("Can't Lose Them", &[155, 154, 144, 214, 215, 115, 114, 113]),
    (
        "Hibernating",
        &[332, 322, 233, 232, 223, 222, 132, 123, 122, 212, 211],
    ),
    ("Lost", &[111, 112, 121, 131, 141, 151]),
];

/// The R×F grid: `GRID[f - 1][r - 1]`.
const GRID: [[&str; 5]; 5] = [
    [
        "Hibernating",
        "Hibernating",
        "About To Sleep",
        "Promising",
        "New Customers",
    ],
    [
        "Hibernating",
        "Hibernating",
        "About To Sleep",
        "Potential Loyalists",
        "Potential Loyalists",
    ],
    [
        "At Risk",
        "At Risk",
        "Need Attention",
        "Potential Loyalists",
        "Potential Loyalists",
    ],
    [
        "At Risk",
        "At Risk",
        "Loyal Customers",
        "Loyal Customers",
        "Champions",
    ],
    [
        "Can't Lose Them",
        "Can't Lose Them",
        "Loyal Customers",
        "Loyal Customers",
        "Champions",
    ],
];

/// A score out of 1..=5, for error messages and checks.
fn in_range(score: i64) -> bool {
    (1..=5).contains(&score)
}

/// The segment of an RFM code on the canonical map; `Err(score)` names the first score
/// outside 1..=5.
pub fn segment(r: i64, f: i64, m: i64) -> Result<&'static str, i64> {
    for score in [r, f, m] {
        if !in_range(score) {
            return Err(score);
        }
    }
    let code = u16::try_from(r * 100 + f * 10 + m).map_err(|_| r)?;
    CODES
        .iter()
        .find(|(_, codes)| codes.contains(&code))
        .map(|(name, _)| *name)
        .ok_or(r)
}

/// The segment of an R and F score on the R×F grid; `Err(score)` as for [`segment`].
pub fn segment_rf(r: i64, f: i64) -> Result<&'static str, i64> {
    for score in [r, f] {
        if !in_range(score) {
            return Err(score);
        }
    }
    let (r, f) = (
        usize::try_from(r - 1).unwrap_or(0),
        usize::try_from(f - 1).unwrap_or(0),
    );
    Ok(GRID[f][r])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_exactly_one_segment() {
        let mut seen = std::collections::HashSet::new();
        for (_, codes) in CODES {
            for code in codes {
                assert!(seen.insert(*code), "{code} listed twice");
            }
        }
        assert_eq!(seen.len(), 125);
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    assert!(segment(r, f, m).is_ok(), "{r}{f}{m}");
                }
            }
        }
        let sizes: Vec<usize> = CODES.iter().map(|(_, c)| c.len()).collect();
        assert_eq!(sizes, vec![7, 8, 24, 7, 16, 8, 8, 22, 8, 11, 6]);
        let names: Vec<&str> = CODES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, SEGMENTS);
    }

    #[test]
    fn the_map_reads_as_the_spec_tables() {
        // Spot checks against the spec's R blocks, including its documented quirks.
        assert_eq!(segment(5, 5, 5), Ok("Champions"));
        assert_eq!(segment(5, 1, 5), Ok("Promising"));
        assert_eq!(segment(1, 1, 3), Ok("Can't Lose Them"));
        assert_eq!(segment(5, 5, 1), Ok("Potential Loyalists"));
        assert_eq!(segment(4, 4, 3), Ok("Need Attention"));
        assert_eq!(segment(1, 4, 5), Ok("At Risk"));
        assert_eq!(segment(1, 5, 1), Ok("Lost"));
        assert_eq!(segment(3, 3, 1), Ok("About To Sleep"));
        assert_eq!(segment(6, 1, 1), Err(6));
        assert_eq!(segment(1, 0, 1), Err(0));
    }

    #[test]
    fn the_rf_grid_reads_as_the_spec() {
        assert_eq!(segment_rf(5, 5), Ok("Champions"));
        assert_eq!(segment_rf(1, 5), Ok("Can't Lose Them"));
        assert_eq!(segment_rf(5, 1), Ok("New Customers"));
        assert_eq!(segment_rf(4, 1), Ok("Promising"));
        assert_eq!(segment_rf(3, 3), Ok("Need Attention"));
        assert_eq!(segment_rf(2, 2), Ok("Hibernating"));
        assert_eq!(segment_rf(3, 5), Ok("Loyal Customers"));
        assert_eq!(segment_rf(0, 5), Err(0));
    }
}

/// How equal values are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ties {
    /// SQL-standard NTILE over the order (value, then tie-breaker): peers may be split
    /// across buckets. The default.
    Split,
    /// Every row of a peer group gets the bucket of the group's first row.
    Same,
}

/// SQL-standard NTILE: the 1-based bucket of the row at 0-based `position` among `rows`
/// rows in `n` buckets; sizes differ by at most one and the first `rows % n` buckets get
/// the extra row (NTILE(4) over 10 rows: 3, 3, 2, 2).
pub fn ntile(position: usize, rows: usize, n: usize) -> usize {
    let n = n.max(1);
    if rows <= n {
        return position + 1;
    }
    let small = rows / n;
    let big = small + 1;
    let extra = rows % n;
    let in_big = extra * big;
    if position < in_big {
        position / big + 1
    } else {
        extra + (position - in_big) / small + 1
    }
}

/// Scores for rows already sorted worst to best; `same_as_previous[i]` says whether row
/// `i` ties with row `i - 1` (ignored for the first row and under [`Ties::Split`]).
pub fn scores(same_as_previous: &[bool], n: usize, ties: Ties) -> Vec<usize> {
    let rows = same_as_previous.len();
    let mut out = Vec::with_capacity(rows);
    let mut group_start = 0;
    for (i, tied) in same_as_previous.iter().enumerate() {
        if i == 0 || !tied {
            group_start = i;
        }
        let position = match ties {
            Ties::Split => i,
            Ties::Same => group_start,
        };
        out.push(ntile(position, rows, n));
    }
    out
}

#[cfg(test)]
mod ntile_tests {
    use super::*;

    #[test]
    fn ntile_follows_the_sql_standard() {
        let buckets: Vec<usize> = (0..10).map(|i| ntile(i, 10, 4)).collect();
        assert_eq!(buckets, vec![1, 1, 1, 2, 2, 2, 3, 3, 4, 4]);
        // Fewer rows than buckets: one row each, from 1.
        let buckets: Vec<usize> = (0..3).map(|i| ntile(i, 3, 5)).collect();
        assert_eq!(buckets, vec![1, 2, 3]);
        // Even split.
        let buckets: Vec<usize> = (0..10).map(|i| ntile(i, 10, 5)).collect();
        assert_eq!(buckets, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    }

    #[test]
    fn ties_split_or_share_a_bucket() {
        // Six rows, the first four equal.
        let tied = [false, true, true, true, false, false];
        assert_eq!(scores(&tied, 3, Ties::Split), vec![1, 1, 2, 2, 3, 3]);
        assert_eq!(scores(&tied, 3, Ties::Same), vec![1, 1, 1, 1, 3, 3]);
        // All equal: one bucket under Same, the standard split otherwise.
        let all = [false, true, true, true];
        assert_eq!(scores(&all, 2, Ties::Same), vec![1, 1, 1, 1]);
        assert_eq!(scores(&all, 2, Ties::Split), vec![1, 1, 2, 2]);
    }
}
