//! The naming rules of `telemetry_core::names`, on the table of event names
//! that the derive's compile-time copy of the rule is tested on too.

use telemetry_core::names::check_event_name;

const NAMES: &[(&str, bool)] = include!("../data/event_names.in");

#[test]
fn core_accepts_and_rejects_the_names_the_derive_does() {
    for (name, valid) in NAMES {
        assert_eq!(check_event_name(name).is_ok(), *valid, "{name:?}");
    }
}
