//! `GET /ui/registry`: reference 004's admin view of the model registry —
//! per model, its registrations, distinct registrants, what it was
//! registered as, and how often it loaded and computed an embedding.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use maud::{Markup, html};

use super::{Page, let_in};
use crate::server::App;
use crate::storage::{ModelSummary, ModelsReport, Storage};

pub(super) async fn show<S: Storage>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Page, Page> {
    let_in(&app, peer, &headers)?;
    let (groups, registrants) = app
        .storage()
        .model_groups()
        .await
        .map_err(|error| Page::storage(&error))?;
    let report = crate::storage::models(groups, &registrants);
    Ok(Page::ok("Model registry", content(&report)))
}

fn content(report: &ModelsReport) -> Markup {
    html! {
        h1 { "Model registry" }
        p #total {
            (report.registrations) " registrations of " (report.models.len()) " models"
        }
        @if !report.models.is_empty() {
            table #models {
                thead {
                    tr {
                        th { "Model" } th { "Registrations" } th { "Clients" }
                        th { "Loaded" } th { "Inferred" } th { "Sources" } th { "Versions" }
                        th { "Dimensions" } th { "Modalities" } th { "Devices" }
                    }
                }
                tbody {
                    @for model in &report.models { (row(model)) }
                }
            }
        }
    }
}

fn row(model: &ModelSummary) -> Markup {
    html! {
        tr.model data-model=(model.model_name) {
            td.name { code { (model.model_name) } }
            td.num.registrations { (model.registrations) }
            td.num.clients { (model.clients) }
            td.rate.load-rate { (percent(model.load_success_rate)) }
            td.rate.inference-rate { (percent(model.inference_success_rate)) }
            td.sources { (counts(&model.model_source)) }
            td.versions { (counts(&model.model_version)) }
            td.dimensions { (counts(&model.embedding_dimension)) }
            td.modalities { (counts(&model.modalities)) }
            td.devices { (counts(&model.device_type)) }
        }
    }
}

/// A share as `87.5%`.
fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// Values with their registrations, most first: `cpu 3, cuda 1`.
fn counts(values: &BTreeMap<String, u64>) -> Markup {
    let mut sorted: Vec<(&String, &u64)> = values.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    html! {
        @for (index, (value, count)) in sorted.into_iter().enumerate() {
            @if index > 0 { ", " }
            (value) " " span.muted { (count) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_percentages() {
        assert_eq!(percent(0.875), "87.5%");
        assert_eq!(percent(1.0), "100.0%");
        let values = BTreeMap::from([("cpu".to_owned(), 1), ("cuda".to_owned(), 3)]);
        assert_eq!(
            counts(&values).into_string(),
            "cuda <span class=\"muted\">3</span>, cpu <span class=\"muted\">1</span>"
        );
    }
}
