//! `#[telemetry(aggregate)]`: one number for a collection of numbers.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::schema::Aggregate;

/// One number of a collection that `#[telemetry(aggregate)]` summarises.
#[diagnostic::on_unimplemented(
    message = "#[telemetry(aggregate)] cannot add up `{Self}`",
    label = "#[telemetry(aggregate)] needs a collection of integers (up to 64 bits) or floats"
)]
pub trait Number: Copy {
    /// The value, exactly for integers.
    fn number(self) -> NumberValue;
}

/// A number as the aggregation sees it: integers stay exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberValue {
    /// An integer, exact.
    Int(i128),
    /// A float, possibly NaN or infinite.
    Float(f64),
}

macro_rules! int {
    ($($ty:ty),*) => {$(
        impl Number for $ty {
            #[inline]
            fn number(self) -> NumberValue {
                NumberValue::Int(i128::from(self))
            }
        }
    )*};
}

int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Number for isize {
    #[inline]
    fn number(self) -> NumberValue {
        // isize is at most 64 bits on every supported target.
        NumberValue::Int(self as i128)
    }
}

impl Number for usize {
    #[inline]
    fn number(self) -> NumberValue {
        NumberValue::Int(self as i128)
    }
}

impl Number for f32 {
    #[inline]
    fn number(self) -> NumberValue {
        NumberValue::Float(f64::from(self))
    }
}

impl Number for f64 {
    #[inline]
    fn number(self) -> NumberValue {
        NumberValue::Float(self)
    }
}

/// A collection of numbers that `#[telemetry(aggregate)]` summarises as one
/// number. The results, chosen so that a payload is never silently wrong:
///
/// | input | `sum` | `mean` | `min` / `max` |
/// | --- | --- | --- | --- |
/// | empty | `0` | `null` | `null` |
/// | integers | exact integer (beyond ±2⁶⁴ a float) | float | integer |
/// | floats | float | float | float |
/// | any NaN | `null` | `null` | `null` |
/// | infinite input or overflowing float result | `null` | `null` | `null` for an infinite extreme |
/// | `Option::None` | `null` | `null` | `null` |
///
/// JSON has no NaN or infinity; `null` says "no meaningful number" rather
/// than inventing one.
#[diagnostic::on_unimplemented(
    message = "#[telemetry(aggregate)] cannot summarise `{Self}`",
    label = "#[telemetry(aggregate)] needs a collection of numbers: a Vec, slice, array or VecDeque of integers or floats, or an `Option` of one"
)]
pub trait Numbers {
    /// Calls `add` with every number, or returns `false` when there is no
    /// collection at all (`Option::None`).
    fn for_each_number(&self, add: &mut dyn FnMut(NumberValue)) -> bool;
}

macro_rules! numbers {
    ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {$(
        impl<$($generics)*> Numbers for $ty {
            fn for_each_number(&self, add: &mut dyn FnMut(NumberValue)) -> bool {
                for value in self.iter() {
                    add(value.number());
                }
                true
            }
        }
    )*};
}

numbers!(
    [T] => [T: Number],
    [T; N] => [T: Number, const N: usize],
    Vec<T> => [T: Number],
    VecDeque<T> => [T: Number],
);

impl<T: Numbers> Numbers for Option<T> {
    fn for_each_number(&self, add: &mut dyn FnMut(NumberValue)) -> bool {
        self.as_ref()
            .is_some_and(|numbers| numbers.for_each_number(add))
    }
}

macro_rules! forward {
    ($($ty:ident),*) => {$(
        impl<T: Numbers + ?Sized> Numbers for $ty<T> {
            fn for_each_number(&self, add: &mut dyn FnMut(NumberValue)) -> bool {
                T::for_each_number(self, add)
            }
        }
    )*};
}

forward!(Box, Rc, Arc);

impl<T: Numbers + ?Sized> Numbers for &T {
    fn for_each_number(&self, add: &mut dyn FnMut(NumberValue)) -> bool {
        T::for_each_number(self, add)
    }
}

/// Running state of one aggregation.
#[derive(Default)]
struct Accumulator {
    count: u64,
    /// Exact integer sum; `None` once it overflowed `i128`.
    int_sum: Option<i128>,
    float_sum: f64,
    saw_float: bool,
    saw_nan: bool,
    min: Option<NumberValue>,
    max: Option<NumberValue>,
}

fn compare(a: NumberValue, b: NumberValue) -> Ordering {
    match (a, b) {
        (NumberValue::Int(a), NumberValue::Int(b)) => a.cmp(&b),
        (NumberValue::Float(a), NumberValue::Float(b)) => a.total_cmp(&b),
        // A collection holds one element type, so the two never mix.
        (NumberValue::Int(_), NumberValue::Float(_)) => Ordering::Less,
        (NumberValue::Float(_), NumberValue::Int(_)) => Ordering::Greater,
    }
}

impl Accumulator {
    fn add(&mut self, value: NumberValue) {
        self.count += 1;
        match value {
            NumberValue::Int(int) => {
                self.int_sum = self.int_sum.and_then(|sum| sum.checked_add(int));
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "the float sum is the fallback past i128"
                )]
                let approx = int as f64;
                self.float_sum += approx;
            }
            NumberValue::Float(float) => {
                self.saw_float = true;
                self.saw_nan |= float.is_nan();
                self.float_sum += float;
            }
        }
        if self.min.is_none_or(|min| compare(value, min).is_lt()) {
            self.min = Some(value);
        }
        if self.max.is_none_or(|max| compare(value, max).is_gt()) {
            self.max = Some(value);
        }
    }

    fn finish(&self, aggregate: Aggregate) -> Option<NumberValue> {
        if self.saw_nan {
            return None;
        }
        let finite = |value: NumberValue| match value {
            NumberValue::Float(float) if !float.is_finite() => None,
            other => Some(other),
        };
        match aggregate {
            Aggregate::Sum if self.count == 0 => Some(NumberValue::Int(0)),
            Aggregate::Sum => match (self.saw_float, self.int_sum) {
                (false, Some(exact)) => Some(NumberValue::Int(exact)),
                _ => finite(NumberValue::Float(self.float_sum)),
            },
            Aggregate::Mean if self.count == 0 => None,
            Aggregate::Mean => {
                #[allow(clippy::cast_precision_loss, reason = "a mean is a float")]
                let (sum, count) = match (self.saw_float, self.int_sum) {
                    (false, Some(exact)) => (exact as f64, self.count as f64),
                    _ => (self.float_sum, self.count as f64),
                };
                finite(NumberValue::Float(sum / count))
            }
            Aggregate::Min => self.min.and_then(finite),
            Aggregate::Max => self.max.and_then(finite),
        }
    }
}

/// Summarises `value` as `aggregate` does; `None` means `null`.
#[must_use]
pub(crate) fn summarise<T: Numbers + ?Sized>(
    value: &T,
    aggregate: Aggregate,
) -> Option<NumberValue> {
    let mut accumulator = Accumulator {
        int_sum: Some(0),
        ..Accumulator::default()
    };
    if !value.for_each_number(&mut |number| accumulator.add(number)) {
        return None;
    }
    accumulator.finish(aggregate)
}

impl Serialize for NumberValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Int(int) => {
                if let Ok(small) = i64::try_from(int) {
                    serializer.serialize_i64(small)
                } else if let Ok(large) = u64::try_from(int) {
                    serializer.serialize_u64(large)
                } else {
                    #[allow(
                        clippy::cast_precision_loss,
                        reason = "documented: beyond 64 bits a float"
                    )]
                    serializer.serialize_f64(int as f64)
                }
            }
            Self::Float(float) => serializer.serialize_f64(float),
        }
    }
}

/// A field as `#[telemetry(aggregate)]` sends it.
pub(crate) struct Aggregated<'a, T: ?Sized> {
    pub(crate) value: &'a T,
    pub(crate) aggregate: Aggregate,
}

impl<T: Numbers + ?Sized> Serialize for Aggregated<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match summarise(self.value, self.aggregate) {
            Some(number) => number.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Aggregate::{Max, Mean, Min, Sum};

    fn json<T: Numbers + ?Sized>(value: &T, aggregate: Aggregate) -> String {
        serde_json::to_string(&Aggregated { value, aggregate }).unwrap()
    }

    #[test]
    fn integers_sum_exactly() {
        assert_eq!(json(&[1u64, 2, 3], Sum), "6");
        assert_eq!(json(&[u64::MAX, 0], Sum), u64::MAX.to_string());
        assert_eq!(json(&[i64::MIN, -1], Sum), "-9.223372036854776e+18");
        assert_eq!(json(&[-5i32, 2], Sum), "-3");
    }

    #[test]
    fn integer_sums_beyond_64_bits_become_floats() {
        let big = [u64::MAX, u64::MAX];
        assert_eq!(json(&big, Sum), "3.6893488147419103e+19");
    }

    #[test]
    fn mean_min_max() {
        let values = vec![4u32, 1, 7];
        assert_eq!(json(&values, Mean), "4.0");
        assert_eq!(json(&values, Min), "1");
        assert_eq!(json(&values, Max), "7");
        assert_eq!(json(&[0.5f64, 1.5], Mean), "1.0");
        assert_eq!(json(&[-0.5f32, 2.0], Min), "-0.5");
    }

    #[test]
    fn empty_sums_to_zero_and_has_no_mean_min_or_max() {
        let empty: Vec<f64> = Vec::new();
        assert_eq!(json(&empty, Sum), "0");
        assert_eq!(json(&empty, Mean), "null");
        assert_eq!(json(&empty, Min), "null");
        assert_eq!(json(&empty, Max), "null");
    }

    #[test]
    fn none_is_null() {
        assert_eq!(json(&None::<Vec<u64>>, Sum), "null");
        assert_eq!(json(&Some(vec![2u64]), Sum), "2");
    }

    #[test]
    fn nan_anywhere_is_null() {
        let values = [1.0, f64::NAN, 3.0];
        for aggregate in [Sum, Mean, Min, Max] {
            assert_eq!(json(&values, aggregate), "null", "{aggregate:?}");
        }
    }

    #[test]
    fn infinities_are_null_where_they_reach_the_result() {
        let values = [1.0, f64::INFINITY];
        assert_eq!(json(&values, Sum), "null");
        assert_eq!(json(&values, Mean), "null");
        assert_eq!(json(&values, Min), "1.0");
        assert_eq!(json(&values, Max), "null");
        assert_eq!(
            json(&[f64::MAX, f64::MAX], Sum),
            "null",
            "overflow to infinity"
        );
    }
}
