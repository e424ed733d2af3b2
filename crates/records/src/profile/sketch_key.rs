//! A sketch bucket's key without a logarithm for most values: a table, built once, holds the key
//! of every small slice of the magnitudes that data usually has, and the logarithm is taken only
//! for a value in a slice that a bucket boundary crosses, or outside the table. Keys are exactly
//! what the logarithm gives, so profiles computed either way merge.

use std::sync::OnceLock;

use super::INV_LN_GAMMA;

/// Leading mantissa bits that pick a slice of a binary octave: 4 096 slices, against about 35
/// buckets an octave, so about one slice in a hundred holds a boundary.
const SLICE_BITS: u32 = 12;
/// Binary exponents of the magnitudes the table covers: 2^-40 (about 1e-12) to 2^64.
const FIRST_EXPONENT: i32 = -40;
const LAST_EXPONENT: i32 = 63;
/// A slice a boundary crosses.
const CROSSED: i32 = i32::MIN;

/// The key by the logarithm: the definition.
pub(super) fn exact(magnitude: f64) -> i32 {
    // Values far below any real measurement share the lowest bucket.
    (magnitude.max(1e-300).ln() * INV_LN_GAMMA).ceil() as i32
}

/// The key of a magnitude (> 0), as [`exact`] gives it, by the [`table`] (taken once for many
/// magnitudes in a row).
#[inline(always)]
pub(super) fn key_in(table: &[i32], magnitude: f64) -> i32 {
    if let Some(&key) = slice(magnitude).and_then(|slice| table.get(slice))
        && key != CROSSED
    {
        return key;
    }
    exact(magnitude)
}

fn slice(magnitude: f64) -> Option<usize> {
    let bits = magnitude.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    if !(FIRST_EXPONENT..=LAST_EXPONENT).contains(&exponent) || bits >> 63 != 0 {
        return None;
    }
    let octave = (exponent - FIRST_EXPONENT) as usize;
    Some((octave << SLICE_BITS) | ((bits >> (52 - SLICE_BITS)) as usize & ((1 << SLICE_BITS) - 1)))
}

/// Each slice's key, or [`CROSSED`]: the logarithm is monotonic, so a slice whose first and last
/// values share a key holds no other.
pub(super) fn table() -> &'static [i32] {
    static TABLE: OnceLock<Vec<i32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let octaves = (LAST_EXPONENT - FIRST_EXPONENT + 1) as u64;
        (0..octaves << SLICE_BITS)
            .map(|slice| {
                let biased = (slice >> SLICE_BITS) + (FIRST_EXPONENT + 1023) as u64;
                let mantissa = slice & ((1 << SLICE_BITS) - 1);
                let first = f64::from_bits((biased << 52) | (mantissa << (52 - SLICE_BITS)));
                let last = f64::from_bits((biased << 52) | (((mantissa + 1) << (52 - SLICE_BITS)) - 1));
                let key = exact(first);
                if key == exact(last) { key } else { CROSSED }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(magnitude: f64) -> i32 {
        key_in(table(), magnitude)
    }

    proptest::proptest! {
        #[test]
        fn the_table_gives_the_logarithms_key(bits in 1u64..0x7ff0_0000_0000_0000) {
            let magnitude = f64::from_bits(bits);
            proptest::prop_assert_eq!(key(magnitude), exact(magnitude), "{}", magnitude);
        }

        #[test]
        fn and_so_for_usual_magnitudes(magnitude in 1e-9f64..1e12) {
            proptest::prop_assert_eq!(key(magnitude), exact(magnitude), "{}", magnitude);
        }
    }

    #[test]
    fn around_every_boundary_of_an_octave() {
        for k in 0..40 {
            let boundary = (f64::from(k) / INV_LN_GAMMA).exp();
            let mut near = boundary;
            for _ in 0..4 {
                near = near.next_down();
            }
            for _ in 0..9 {
                assert_eq!(key(near), exact(near), "{near}");
                near = near.next_up();
            }
        }
        assert!(table().iter().filter(|k| **k == CROSSED).count() * 50 < table().len());
    }
}
