//! `GET /ui/traces`: the traces, newest first, with their QA state, as a
//! GET form's filters select them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, html};
use time::Date;
use time::macros::format_description;

use super::{Page, let_in};
use crate::server::App;
use crate::storage::Storage;
use crate::storage::jobs::{TraceFilter, TraceSummary};

/// The most traces one page lists.
pub(super) const MAX_LISTED: u32 = 200;

/// The highest score the rubric gives.
const MAX_SCORE: f64 = 5.0;

/// The filters as the form sends them, each checked.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    verified: Option<bool>,
    min_score: Option<f64>,
    from: Option<Date>,
    to: Option<Date>,
}

/// A filter that cannot be used: which parameter, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadFilter {
    parameter: String,
    problem: String,
}

impl BadFilter {
    fn new(parameter: &str, problem: impl Into<String>) -> Self {
        Self {
            parameter: parameter.to_owned(),
            problem: problem.into(),
        }
    }

    fn page(&self) -> Page {
        Page::error(
            StatusCode::BAD_REQUEST,
            format!("`{}`: {}", self.parameter, self.problem),
        )
    }
}

fn date(parameter: &str, value: &str) -> Result<Date, BadFilter> {
    Date::parse(value, format_description!("[year]-[month]-[day]")).map_err(|_| {
        BadFilter::new(
            parameter,
            format!("`{value}` is not a date: write it YYYY-MM-DD"),
        )
    })
}

impl Filters {
    /// The filters in `pairs`; an empty value is no filter (a form sends
    /// its empty fields).
    fn parse(pairs: &[(String, String)]) -> Result<Self, BadFilter> {
        let mut filters = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name.as_str()) {
                return Err(BadFilter::new(name, "is given more than once"));
            }
            seen.push(name);
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "verified" => {
                    filters.verified = Some(match value {
                        "yes" => true,
                        "no" => false,
                        other => {
                            return Err(BadFilter::new(
                                name,
                                format!("`{other}` is neither `yes` nor `no`"),
                            ));
                        }
                    });
                }
                "min_score" => {
                    let score = value
                        .parse::<f64>()
                        .ok()
                        .filter(|score| (0.0..=MAX_SCORE).contains(score))
                        .ok_or_else(|| {
                            BadFilter::new(
                                name,
                                format!("`{value}` is not a score from 0 to {MAX_SCORE}"),
                            )
                        })?;
                    filters.min_score = Some(score);
                }
                "from" => filters.from = Some(date(name, value)?),
                "to" => filters.to = Some(date(name, value)?),
                other => {
                    return Err(BadFilter::new(
                        other,
                        "is not a filter: the filters are `verified`, `min_score`, `from` and `to`",
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (filters.from, filters.to)
            && to < from
        {
            return Err(BadFilter::new(
                "to",
                format!("{to} is before `from` ({from})"),
            ));
        }
        Ok(filters)
    }

    /// The storage's filter: `from` at its first second, `to` to its
    /// last, both UTC.
    fn storage(&self) -> TraceFilter {
        let midnight = |date: Date| date.midnight().assume_utc().unix_timestamp();
        TraceFilter {
            verified: self.verified,
            min_score: self.min_score,
            max_score: None,
            created_from: self.from.map(midnight),
            created_to: self.to.map(|to| to.next_day().map_or(i64::MAX, midnight)),
            limit: MAX_LISTED,
        }
    }
}

pub(super) async fn list<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Page, Page> {
    let_in(&app, peer, &headers)?;
    let Query(pairs) =
        query.map_err(|rejection| Page::error(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let filters = Filters::parse(&pairs).map_err(|bad| bad.page())?;
    let traces = app
        .storage()
        .trace_list(filters.storage())
        .await
        .map_err(|error| Page::storage(&error))?;
    Ok(Page::ok("Traces", content(&filters, &traces)))
}

fn content(filters: &Filters, traces: &[TraceSummary]) -> Markup {
    let verified = filters.verified.map(|yes| if yes { "yes" } else { "no" });
    html! {
        h1 { "Traces" }
        form #filters method="get" action="/ui/traces" {
            label {
                "Verified"
                select name="verified" {
                    option value="" selected[verified.is_none()] { "any" }
                    option value="yes" selected[verified == Some("yes")] { "yes" }
                    option value="no" selected[verified == Some("no")] { "no" }
                }
            }
            label {
                "Overall score at least"
                input type="number" name="min_score" min="0" max="5" step="0.01"
                    value=[filters.min_score.map(|score| score.to_string())];
            }
            label { "Started from" input type="date" name="from" value=[filters.from.map(|date| date.to_string())]; }
            label { "to" input type="date" name="to" value=[filters.to.map(|date| date.to_string())]; }
            button type="submit" { "Filter" }
        }
        @if traces.is_empty() {
            p #empty .muted { "No trace matches." }
        } @else {
            p #count .muted {
                (traces.len()) " trace" @if traces.len() != 1 { "s" }
                @if traces.len() as u64 >= u64::from(MAX_LISTED) { ", the newest " (MAX_LISTED) " shown" }
            }
            table #traces {
                thead {
                    tr {
                        th { "Trace" } th { "Task" } th { "Started" } th { "Events" }
                        th { "QA job" } th { "Verified" } th { "Overall" }
                    }
                }
                tbody {
                    @for trace in traces { (row(trace)) }
                }
            }
        }
    }
}

fn row(trace: &TraceSummary) -> Markup {
    let header: serde_json::Value = trace
        .header
        .as_deref()
        .and_then(|header| serde_json::from_str(header).ok())
        .unwrap_or_default();
    let text = |field: &str| header[field].as_str().unwrap_or_default().to_owned();
    #[allow(clippy::cast_precision_loss, reason = "Unix seconds fit f64's 53 bits")]
    let started = super::rfc3339(trace.created_at as f64);
    html! {
        tr.trace data-trace-id=(trace.trace_id) {
            td.id { a href={ "/ui/traces/" (trace.trace_id) } { code { (trace.trace_id) } } }
            td.task { code { (text("task_id")) } " " (text("task_title")) }
            td.started { (started) }
            td.num.events {
                @match trace.num_events {
                    Some(events) => (events),
                    None => span.muted { (trace.state) },
                }
            }
            td.job {
                @match trace.job_state {
                    Some(state) => (state.as_str()),
                    None => span.muted { "none" },
                }
            }
            td.verified {
                @match trace.verified {
                    Some(true) => span.verified { "yes" },
                    Some(false) => span.not-verified { "no" },
                    None => span.muted { "—" },
                }
            }
            td.score {
                @match trace.overall {
                    Some(overall) => (format!("{overall:.2}")),
                    None => span.muted { "—" },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Filters, BadFilter> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Filters::parse(&pairs)
    }

    #[test]
    fn filters_read_as_the_form_sends_them() {
        assert_eq!(parse(&[]), Ok(Filters::default()));
        let empty = parse(&[
            ("verified", ""),
            ("min_score", ""),
            ("from", ""),
            ("to", ""),
        ]);
        assert_eq!(empty, Ok(Filters::default()));
        let all = parse(&[
            ("verified", "yes"),
            ("min_score", "3.5"),
            ("from", "2026-01-02"),
            ("to", "2026-01-02"),
        ])
        .unwrap();
        let filter = all.storage();
        assert_eq!(filter.verified, Some(true));
        assert_eq!(filter.min_score, Some(3.5));
        // One whole UTC day.
        assert_eq!(filter.created_from, Some(1_767_312_000));
        assert_eq!(filter.created_to, Some(1_767_312_000 + 86_400));
        assert_eq!(parse(&[("verified", "no")]).unwrap().verified, Some(false));
    }

    #[test]
    fn a_bad_filter_names_its_parameter() {
        for (pairs, parameter) in [
            (&[("verified", "maybe")][..], "verified"),
            (&[("min_score", "abc")][..], "min_score"),
            (&[("min_score", "5.5")][..], "min_score"),
            (&[("min_score", "NaN")][..], "min_score"),
            (&[("from", "2026-13-01")][..], "from"),
            (&[("to", "01/02/2026")][..], "to"),
            (&[("from", "2026-01-03"), ("to", "2026-01-02")][..], "to"),
            (&[("verified", "yes"), ("verified", "no")][..], "verified"),
            (&[("limit", "5")][..], "limit"),
        ] {
            assert_eq!(parse(pairs).unwrap_err().parameter, parameter, "{pairs:?}");
        }
    }
}
