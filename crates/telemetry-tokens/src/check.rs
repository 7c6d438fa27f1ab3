//! `telemetry tokens check` (the reference workflow's `db_identity_check`):
//! which database, how many usage events, how many are usable for
//! calibration, how many groups have enough samples, and a clear warning
//! when nothing was ever recorded.

use std::fmt::Write as _;

use crate::location::{Location, Switch};
use crate::store::{SCHEMA_VERSION, Store, StoreError};

/// What a database holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The schema version (after any upgrade by this open).
    pub schema_version: i64,
    /// The version this open upgraded from, if it did.
    pub upgraded_from: Option<i64>,
    /// Every recorded call.
    pub events: u64,
    /// Successful and not truncated.
    pub usable: u64,
    /// Distinct runs.
    pub runs: u64,
    /// Category × complexity groups with any usable call.
    pub groups: u64,
    /// Groups with at least `min_samples` usable calls.
    pub groups_with_min_samples: u64,
    /// The `min_samples` counted with.
    pub min_samples: u64,
    /// Calls whose counts the provider reported.
    pub provider_reported: u64,
    /// Rows without `actual_max_tokens` (written before it was recorded).
    pub without_ceiling: u64,
    /// The first and last timestamps.
    pub span: Option<(String, String)>,
}

/// Reads the identity of `store`.
pub fn identity(store: &Store, min_samples: u64) -> Result<Identity, StoreError> {
    let connection = store.connection();
    let error = |source| store.error(source);
    let (events, usable, runs, provider_reported, without_ceiling, first, last): (
        u64,
        u64,
        u64,
        u64,
        u64,
        Option<String>,
        Option<String>,
    ) = connection
        .query_row(
            "SELECT count(*),
                    coalesce(sum(success = 1 AND truncated = 0), 0),
                    count(DISTINCT run_id),
                    coalesce(sum(counts_source = 'provider'), 0),
                    coalesce(sum(actual_max_tokens IS NULL), 0),
                    min(timestamp), max(timestamp)
             FROM token_estimation_v2_events",
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            },
        )
        .map_err(error)?;
    let (groups, groups_with_min_samples): (u64, u64) = connection
        .query_row(
            "SELECT count(*), coalesce(sum(n >= ?1), 0) FROM (
                 SELECT count(*) AS n FROM token_estimation_v2_events
                 WHERE success = 1 AND truncated = 0
                 GROUP BY category, complexity)",
            [min_samples],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(error)?;
    Ok(Identity {
        schema_version: store.schema_version()?,
        upgraded_from: store.upgraded_from(),
        events,
        usable,
        runs,
        groups,
        groups_with_min_samples,
        min_samples,
        provider_reported,
        without_ceiling,
        span: first.zip(last),
    })
}

/// The check as text. `switch` is whether this environment would record,
/// and `enabled_var` the variable that turns it on.
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
pub fn render(
    identity: &Identity,
    location: &Location,
    switch: &Switch,
    enabled_var: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "database:        {location}");
    let upgraded = identity.upgraded_from.map_or_else(String::new, |from| {
        format!(" (upgraded from {from} by this check)")
    });
    let _ = writeln!(
        out,
        "schema version:  {}{upgraded}",
        identity.schema_version
    );
    let _ = writeln!(
        out,
        "recording here:  {} ({})",
        if switch.enabled { "on" } else { "off" },
        switch.reason
    );
    let _ = writeln!(out, "LLM usage events: {}", identity.events);
    let share = |part: u64| {
        if identity.events == 0 {
            String::new()
        } else {
            format!(" ({:.1}%)", part as f64 * 100.0 / identity.events as f64)
        }
    };
    let _ = writeln!(
        out,
        "  successful and not truncated: {}{}",
        identity.usable,
        share(identity.usable)
    );
    let _ = writeln!(
        out,
        "  counts reported by the provider: {}{}",
        identity.provider_reported,
        share(identity.provider_reported)
    );
    if identity.without_ceiling > 0 {
        let _ = writeln!(
            out,
            "  without actual_max_tokens (recorded before schema {SCHEMA_VERSION}): {}",
            identity.without_ceiling
        );
    }
    let _ = writeln!(out, "  runs: {}", identity.runs);
    if let Some((first, last)) = &identity.span {
        let _ = writeln!(out, "  from {first} to {last}");
    }
    let _ = writeln!(
        out,
        "groups (category × complexity): {}, with at least {} samples: {}",
        identity.groups, identity.min_samples, identity.groups_with_min_samples
    );
    if identity.events == 0 {
        let _ = writeln!(
            out,
            "warning: LLM usage events: 0. Nothing was ever recorded here: set {enabled_var}=1 (and the same database location) in the environment of the process that calls the LLM, then run it again."
        );
    } else if identity.groups_with_min_samples == 0 {
        let _ = writeln!(
            out,
            "warning: no group has {} successful, untruncated calls yet; calibration will propose nothing.",
            identity.min_samples
        );
    }
    out
}
