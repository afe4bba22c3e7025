//! PostgreSQL's `numeric` forms of an Arrow decimal (an `i128` and its scale): the text
//! (`numeric_out`: every digit of the scale kept, `1.50`, `0.00`) and the binary
//! (`numeric_send`: base-10000 digits without leading or trailing zero digits, the scale
//! as display scale). COPY writes decimals through these: the stock path goes through
//! `rust_decimal`, which drops the scale of zero (binary `0.00` arrives as `0`) and
//! cannot hold the whole `numeric(38, s)` range.

use bytes::{BufMut, BytesMut};

/// The largest scale [`write_numeric_binary`] takes (the fraction, aligned to whole
/// base-10000 digits, must fit an `u128`).
pub const MAX_BINARY_SCALE: i8 = 34;

/// `numeric_send`'s sign words.
const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;

/// Writes `value / 10^scale` as PostgreSQL prints a `numeric` of that scale.
pub fn write_numeric_text(out: &mut BytesMut, value: i128, scale: u8) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(value.unsigned_abs()).as_bytes();
    write_numeric_digits_text(out, value < 0, digits, scale);
}

/// [`write_numeric_text`] of a magnitude given as decimal digits (any width: `Decimal256`).
pub fn write_numeric_digits_text(out: &mut BytesMut, negative: bool, digits: &[u8], scale: u8) {
    if negative {
        out.put_u8(b'-');
    }
    let scale = usize::from(scale);
    if scale == 0 {
        out.put_slice(digits);
    } else if digits.len() <= scale {
        out.put_slice(b"0.");
        out.put_bytes(b'0', scale - digits.len());
        out.put_slice(digits);
    } else {
        let point = digits.len() - scale;
        out.put_slice(&digits[..point]);
        out.put_u8(b'.');
        out.put_slice(&digits[point..]);
    }
}

/// `numeric_send`'s form (without a length) of a magnitude given as decimal digits and
/// its scale: any width and scale, for what [`write_numeric_binary`] does not take.
pub fn write_numeric_digits_binary(out: &mut BytesMut, negative: bool, digits: &[u8], scale: u8) {
    let scale = usize::from(scale);
    let (whole, fraction): (&[u8], Vec<u8>) = if digits.len() > scale {
        let point = digits.len() - scale;
        (&digits[..point], digits[point..].to_vec())
    } else {
        let mut f = vec![b'0'; scale - digits.len()];
        f.extend_from_slice(digits);
        (&[], f)
    };
    // The whole part padded on the left, the fraction on the right, to whole
    // base-10000 digits (4 decimal digits each).
    let mut padded = vec![b'0'; (4 - whole.len() % 4) % 4];
    padded.extend_from_slice(whole);
    let whole_groups = padded.len() / 4;
    padded.extend_from_slice(&fraction);
    padded.resize(whole_groups * 4 + fraction.len().div_ceil(4) * 4, b'0');
    let groups: Vec<i16> = padded
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let leading = groups.iter().take_while(|d| **d == 0).count();
    let trailing = groups[leading..]
        .iter()
        .rev()
        .take_while(|d| **d == 0)
        .count();
    let kept = &groups[leading..groups.len() - trailing];
    let weight = if kept.is_empty() {
        0
    } else {
        whole_groups as i16 - 1 - leading as i16
    };
    out.put_i16(kept.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !kept.is_empty() {
        NEGATIVE
    } else {
        POSITIVE
    });
    out.put_u16(scale as u16);
    for d in kept {
        out.put_i16(*d);
    }
}

/// Writes `value / 10^scale` in `numeric_send`'s form (the field's length is the
/// caller's). `scale` is at most [`MAX_BINARY_SCALE`].
pub fn write_numeric_binary(out: &mut BytesMut, value: i128, scale: u8) {
    debug_assert!(scale <= MAX_BINARY_SCALE.unsigned_abs());
    let magnitude = value.unsigned_abs();
    if let (Ok(small), true) = (u64::try_from(magnitude), scale <= MAX_SMALL_SCALE) {
        write_small_numeric_binary(out, small, value < 0, scale);
        return;
    }
    let ten_to_scale = 10u128.pow(u32::from(scale));
    let (mut whole, fraction) = match (u64::try_from(magnitude), u64::try_from(ten_to_scale)) {
        (Ok(m), Ok(t)) => (u128::from(m / t), u128::from(m % t)),
        _ => (magnitude / ten_to_scale, magnitude % ten_to_scale),
    };
    // The fraction, padded on the right to whole base-10000 digits.
    let fraction_digits = usize::from(scale).div_ceil(4);
    let padding = fraction_digits * 4 - usize::from(scale);
    let mut fraction = fraction * 10u128.pow(padding as u32);

    // Most significant first: at most 10 whole digits (u128 < 10^39) and 9 fraction digits.
    let mut digits = [0i16; 20];
    let mut whole_digits = [0i16; 10];
    let mut whole_count = 0;
    while whole > 0 {
        (whole, whole_digits[whole_count]) = split_digit(whole);
        whole_count += 1;
    }
    for (i, d) in whole_digits[..whole_count].iter().rev().enumerate() {
        digits[i] = *d;
    }
    for i in (0..fraction_digits).rev() {
        (fraction, digits[whole_count + i]) = split_digit(fraction);
    }
    let (kept, weight) = significant_digits(&digits[..whole_count + fraction_digits], whole_count);
    let sign = if value < 0 { NEGATIVE } else { POSITIVE };

    out.put_i16(kept.len() as i16);
    out.put_i16(weight);
    out.put_u16(sign);
    out.put_u16(u16::from(scale));
    for d in kept {
        out.put_i16(*d);
    }
}

/// The largest scale of [`write_small_numeric_binary`]: its fraction, padded to whole
/// base-10000 digits, stays below 10^18.
const MAX_SMALL_SCALE: u8 = 15;

/// Powers of ten up to 10^15 (the padding of a fraction needs at most 10^3).
const POWERS_OF_TEN: [u64; 16] = {
    let mut powers = [1u64; 16];
    let mut i = 1;
    while i < 16 {
        powers[i] = powers[i - 1] * 10;
        i += 1;
    }
    powers
};

/// [`write_numeric_binary`] of a magnitude that fits an `u64` with a scale of at most
/// [`MAX_SMALL_SCALE`] (a lake's prices and amounts): u64 arithmetic only, and the whole
/// value written in one copy (binary COPY of decimals spent most of its time here).
fn write_small_numeric_binary(out: &mut BytesMut, magnitude: u64, negative: bool, scale: u8) {
    let scale_digits = usize::from(scale);
    let ten_to_scale = POWERS_OF_TEN[scale_digits];
    let mut whole = magnitude / ten_to_scale;
    let fraction_digits = scale_digits.div_ceil(4);
    let mut fraction =
        (magnitude % ten_to_scale) * POWERS_OF_TEN[fraction_digits * 4 - scale_digits];
    // At most 5 whole digits (u64 < 10^20) and 4 fraction digits, most significant first.
    let mut digits = [0u16; 9];
    let mut whole_count = 0;
    while whole > 0 {
        digits[whole_count] = (whole % 10_000) as u16;
        whole /= 10_000;
        whole_count += 1;
    }
    digits[..whole_count].reverse();
    for i in (0..fraction_digits).rev() {
        digits[whole_count + i] = (fraction % 10_000) as u16;
        fraction /= 10_000;
    }
    let (kept, weight) = significant_digits(&digits[..whole_count + fraction_digits], whole_count);
    let sign = if negative { NEGATIVE } else { POSITIVE };
    let mut bytes = [0u8; 8 + 2 * 9];
    bytes[0..2].copy_from_slice(&(kept.len() as i16).to_be_bytes());
    bytes[2..4].copy_from_slice(&weight.to_be_bytes());
    bytes[4..6].copy_from_slice(&sign.to_be_bytes());
    bytes[6..8].copy_from_slice(&u16::from(scale).to_be_bytes());
    for (i, d) in kept.iter().enumerate() {
        bytes[8 + 2 * i..10 + 2 * i].copy_from_slice(&d.to_be_bytes());
    }
    out.put_slice(&bytes[..8 + 2 * kept.len()]);
}

/// The base-10000 `digits` (the first `whole_count` before the point) without their
/// leading and trailing zeros, and the weight of the first one kept (its place before the
/// point; 0 when none is kept), as `numeric_send` writes them.
fn significant_digits<D: Copy + Default + PartialEq>(
    digits: &[D],
    whole_count: usize,
) -> (&[D], i16) {
    let zero = D::default();
    let leading = digits.iter().take_while(|d| **d == zero).count();
    let trailing = digits[leading..]
        .iter()
        .rev()
        .take_while(|d| **d == zero)
        .count();
    let kept = &digits[leading..digits.len() - trailing];
    let weight = if kept.is_empty() {
        0
    } else {
        whole_count as i16 - 1 - leading as i16
    };
    (kept, weight)
}

/// `n / 10_000` and the base-10000 digit `n % 10_000`, in u64 arithmetic once `n` fits
/// (u128 division is a library call, and the hot part of binary COPY's decimals).
fn split_digit(n: u128) -> (u128, i16) {
    match u64::try_from(n) {
        Ok(small) => (u128::from(small / 10_000), (small % 10_000) as i16),
        Err(_) => (n / 10_000, (n % 10_000) as i16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: i128, scale: u8) -> String {
        let mut out = BytesMut::new();
        write_numeric_text(&mut out, value, scale);
        String::from_utf8(out.to_vec()).unwrap()
    }

    /// (ndigits, weight, sign, dscale, digits) of the binary form, its length checked.
    fn binary(value: i128, scale: u8) -> (i16, i16, u16, u16, Vec<i16>) {
        let mut out = BytesMut::new();
        write_numeric_binary(&mut out, value, scale);
        let word = |i: usize| i16::from_be_bytes([out[i], out[i + 1]]);
        let n = word(0);
        assert_eq!(out.len(), 8 + 2 * n as usize);
        let digits = (0..n as usize).map(|i| word(8 + 2 * i)).collect();
        (n, word(2), word(4) as u16, word(6) as u16, digits)
    }

    #[test]
    fn text_keeps_every_digit_of_the_scale() {
        assert_eq!(text(150, 2), "1.50");
        assert_eq!(text(0, 2), "0.00");
        assert_eq!(text(-5, 3), "-0.005");
        assert_eq!(text(12345, 0), "12345");
        assert_eq!(text(-12345, 2), "-123.45");
        assert_eq!(
            text(i128::MAX, 10),
            "17014118346046923173168730371.5884105727"
        );
    }

    #[test]
    fn binary_is_numeric_send() {
        // Zero keeps its display scale and has no digits.
        assert_eq!(binary(0, 2), (0, 0, POSITIVE, 2, vec![]));
        // Past what an i128 fraction aligns: the digits path, 1.5 at scale 40.
        let mut out = BytesMut::new();
        let digits = format!("15{}", "0".repeat(39));
        write_numeric_digits_binary(&mut out, false, digits.as_bytes(), 40);
        assert_eq!(&out[..8], &[0, 2, 0, 0, 0, 0, 0, 40]);
        assert_eq!(&out[8..], &[0, 1, 0x13, 0x88]);
        assert_eq!(binary(150, 2), (2, 0, POSITIVE, 2, vec![1, 5000]));
        // Trailing zero digits are dropped, before and after the point.
        assert_eq!(binary(10_000, 0), (1, 1, POSITIVE, 0, vec![1]));
        assert_eq!(binary(1_000_000, 2), (1, 1, POSITIVE, 2, vec![1]));
        // Leading zero digits of a fraction move the weight.
        assert_eq!(binary(-1, 4), (1, -1, NEGATIVE, 4, vec![1]));
        assert_eq!(binary(1, 5), (1, -2, POSITIVE, 5, vec![1000]));
        // 123456789.012 is 1|2345|6789.0120 in base-10000 digits.
        assert_eq!(
            binary(123_456_789_012, 3),
            (4, 2, POSITIVE, 3, vec![1, 2345, 6789, 120])
        );
    }

    #[test]
    fn binary_of_small_values_is_the_digits_path() {
        for scale in 0..=MAX_SMALL_SCALE {
            for magnitude in [0, 1, 9999, 10_000, 10u64.pow(19), u64::MAX] {
                for negative in [false, true] {
                    let value = i128::from(magnitude) * if negative { -1 } else { 1 };
                    let mut out = BytesMut::new();
                    write_numeric_binary(&mut out, value, scale);
                    let mut want = BytesMut::new();
                    let digits = magnitude.to_string();
                    write_numeric_digits_binary(&mut want, negative, digits.as_bytes(), scale);
                    assert_eq!(out, want, "{value} scale {scale}");
                }
            }
        }
    }

    #[test]
    fn binary_reads_back_as_the_same_value_and_scale() {
        use postgres_types::{FromSql, Type};
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for scale in 0..=12u8 {
            for _ in 0..200 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let value = i128::from(state as i64) >> (state % 40);
                let mut out = BytesMut::new();
                write_numeric_binary(&mut out, value, scale);
                let decoded = rust_decimal::Decimal::from_sql(&Type::NUMERIC, &out).unwrap();
                let mut from_digits = BytesMut::new();
                let digits = value.unsigned_abs().to_string();
                write_numeric_digits_binary(&mut from_digits, value < 0, digits.as_bytes(), scale);
                assert_eq!(from_digits, out, "{value} scale {scale}");
                let want = rust_decimal::Decimal::from_i128_with_scale(value, u32::from(scale));
                assert_eq!(decoded, want, "{value} scale {scale}");
                assert_eq!(decoded.scale(), u32::from(scale), "{value} scale {scale}");
                assert_eq!(
                    text(value, scale),
                    want.to_string(),
                    "{value} scale {scale}"
                );
            }
        }
    }
}
