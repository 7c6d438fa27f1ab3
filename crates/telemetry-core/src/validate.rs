//! The checks event constructors run, so that a payload is never silently
//! wrong: each failure names the field and what was expected.

use std::collections::BTreeMap;

use crate::Label;

/// Why an event could not be built. Every variant names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidEvent {
    /// A number was NaN or infinite.
    #[error("`{field}` must be a finite number, got {value}")]
    NotFinite {
        /// The field, as in the payload (`timing.p95_response_ms`).
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A number was outside its range.
    #[error("`{field}` must be within {min}..={max}, got {value}")]
    OutOfRange {
        /// The field, as in the payload.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The smallest value allowed.
        min: f64,
        /// The largest value allowed.
        max: f64,
    },
    /// A number was above its maximum.
    #[error("`{field}` must be at most {max}, got {value}")]
    AboveMaximum {
        /// The field, as in the payload.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The largest value allowed.
        max: f64,
    },
    /// A number was below its minimum.
    #[error("`{field}` must be at least {min}, got {value}")]
    BelowMinimum {
        /// The field, as in the payload.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The smallest value allowed.
        min: f64,
    },
    /// Shares that must add up to 1 did not.
    #[error("`{field}` must sum to 1 (within 1e-6), got {sum}")]
    SharesDoNotSumToOne {
        /// The field, as in the payload.
        field: &'static str,
        /// What they summed to.
        sum: f64,
    },
    /// A text was empty, too long or not of the expected form.
    #[error("`{field}` {problem}")]
    BadText {
        /// The field, as in the payload.
        field: &'static str,
        /// What is wrong, e.g. `is empty`.
        problem: String,
    },
    /// A list was empty or named an element twice.
    #[error("`{field}` {problem}")]
    BadList {
        /// The field, as in the payload.
        field: &'static str,
        /// What is wrong, e.g. `is empty`.
        problem: String,
    },
    /// Fields contradict each other.
    #[error("`{field}` {problem}")]
    Inconsistent {
        /// The field, as in the payload.
        field: &'static str,
        /// What contradicts what.
        problem: String,
    },
}

pub(crate) fn finite(field: &'static str, value: f64) -> Result<f64, InvalidEvent> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(InvalidEvent::NotFinite { field, value })
    }
}

pub(crate) fn within(
    field: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<f64, InvalidEvent> {
    finite(field, value)?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidEvent::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// Not negative: durations, counts as floats, costs.
pub(crate) fn non_negative(field: &'static str, value: f64) -> Result<f64, InvalidEvent> {
    if finite(field, value)? < 0.0 {
        return Err(InvalidEvent::BelowMinimum {
            field,
            value,
            min: 0.0,
        });
    }
    Ok(value)
}

/// A rate or share: `0..=1`.
pub(crate) fn rate(field: &'static str, value: f64) -> Result<f64, InvalidEvent> {
    within(field, value, 0.0, 1.0)
}

/// A percentage of reduction or savings: at most 100, and negative when the
/// tool did worse than its baseline.
pub(crate) fn percent(field: &'static str, value: f64) -> Result<f64, InvalidEvent> {
    if finite(field, value)? > 100.0 {
        return Err(InvalidEvent::AboveMaximum {
            field,
            value,
            max: 100.0,
        });
    }
    Ok(value)
}

/// Shares per label: each in `0..=1`, together 1 within 1e-6. An empty map
/// (nothing to share out) is valid.
pub(crate) fn shares(
    field: &'static str,
    shares: &BTreeMap<String, f64>,
) -> Result<(), InvalidEvent> {
    if shares.is_empty() {
        return Ok(());
    }
    let mut sum = 0.0;
    for value in shares.values() {
        sum += rate(field, *value)?;
    }
    if (sum - 1.0).abs() > 1e-6 {
        return Err(InvalidEvent::SharesDoNotSumToOne { field, sum });
    }
    Ok(())
}

/// A short, non-empty text of at most `max` characters.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), InvalidEvent> {
    let length = value.chars().count();
    if value.trim().is_empty() {
        return Err(InvalidEvent::BadText {
            field,
            problem: "is empty".to_owned(),
        });
    }
    if length > max {
        return Err(InvalidEvent::BadText {
            field,
            problem: format!("is {length} characters long; at most {max} are allowed"),
        });
    }
    Ok(())
}

/// An identifier: 1 to 64 ASCII letters, digits, `_`, `-` or `.`. Such a value
/// cannot carry a path, an address or free text.
pub(crate) fn identifier(field: &'static str, value: &str) -> Result<(), InvalidEvent> {
    text(field, value, 64)?;
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(InvalidEvent::BadText {
            field,
            problem: format!("contains {bad:?}; use ASCII letters, digits, `_`, `-` or `.`"),
        });
    }
    Ok(())
}

/// A non-empty list of labels, each at most once.
pub(crate) fn distinct_labels<T: Label + PartialEq>(
    field: &'static str,
    items: &[T],
) -> Result<(), InvalidEvent> {
    if items.is_empty() {
        return Err(InvalidEvent::BadList {
            field,
            problem: "is empty; name at least one".to_owned(),
        });
    }
    for (at, item) in items.iter().enumerate() {
        if items[..at].contains(item) {
            return Err(InvalidEvent::BadList {
                field,
                problem: format!("names `{}` more than once", item.label()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_and_the_expectation() {
        assert_eq!(
            rate("success_rate", 1.5).unwrap_err().to_string(),
            "`success_rate` must be within 0..=1, got 1.5"
        );
        assert_eq!(
            finite("timing.p95_response_ms", f64::NAN)
                .unwrap_err()
                .to_string(),
            "`timing.p95_response_ms` must be a finite number, got NaN"
        );
        assert_eq!(
            percent("improvement.tokens_reduction_percent", 100.5)
                .unwrap_err()
                .to_string(),
            "`improvement.tokens_reduction_percent` must be at most 100, got 100.5"
        );
    }

    #[test]
    fn percent_allows_negative_reductions_and_durations_do_not() {
        assert_eq!(
            non_negative("duration_minutes", -1.0)
                .unwrap_err()
                .to_string(),
            "`duration_minutes` must be at least 0, got -1"
        );
        assert_eq!(percent("p", -250.0), Ok(-250.0));
        assert!(percent("p", f64::NEG_INFINITY).is_err());
    }

    #[test]
    fn shares_sum_to_one_within_tolerance() {
        let ok = BTreeMap::from([("a".to_owned(), 0.3), ("b".to_owned(), 0.7 + 5e-7)]);
        assert_eq!(shares("f", &ok), Ok(()));
        let off = BTreeMap::from([("a".to_owned(), 0.3), ("b".to_owned(), 0.6)]);
        assert!(matches!(
            shares("f", &off),
            Err(InvalidEvent::SharesDoNotSumToOne { field: "f", .. })
        ));
        assert_eq!(shares("f", &BTreeMap::new()), Ok(()));
        let negative = BTreeMap::from([("a".to_owned(), -0.5), ("b".to_owned(), 1.5)]);
        assert!(matches!(
            shares("f", &negative),
            Err(InvalidEvent::OutOfRange { .. })
        ));
    }

    #[test]
    fn identifiers_refuse_paths_and_spaces() {
        assert_eq!(identifier("f", "search_vs_grep"), Ok(()));
        assert!(identifier("f", "/home/ana").is_err());
        assert!(identifier("f", "two words").is_err());
        assert!(identifier("f", "").is_err());
        assert!(identifier("f", &"x".repeat(65)).is_err());
    }
}
