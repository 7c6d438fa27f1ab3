//! The conversions behind the field attributes, each bounded by a trait on the
//! field's type, so that a misuse (`count` on a `bool`) is a type error that
//! names the attribute, not a surprise at run time.
//!
//! | attribute | trait | payload |
//! | --- | --- | --- |
//! | `hash`, `hash(scope = "app")` | [`HashInput`] | 32 hex digits, `null` for `None` |
//! | `boolean` | [`Presence`] | `true` when present: `Some`, non-empty, or the `bool` itself |
//! | `count` | [`Countable`] | number of elements, `null` for `None` |
//! | `text_count` | [`TextLength`] | number of characters (Unicode scalar values, not bytes), `null` for `None` |
//! | `distribution` | [`LabelCounts`] | `{label: count}`, sorted by label, `null` for `None` |
//! | `aggregate = "sum" \| "mean" \| "min" \| "max"` | [`Numbers`] | one number; see [`Numbers`] for empty input, NaN and infinities |
//! | `forbidden` | none | the key is absent |

mod aggregate;
mod count;
mod distribution;
mod hash;
mod presence;

pub use aggregate::{Number, NumberValue, Numbers};
pub use count::{Countable, TextLength};
pub use distribution::{LabelCounts, LabelWeight};
pub use hash::HashInput;
pub use presence::Presence;

pub(crate) use aggregate::Aggregated;
pub(crate) use distribution::Distribution;
pub(crate) use hash::Hashed;
