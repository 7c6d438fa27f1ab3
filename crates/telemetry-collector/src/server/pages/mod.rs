//! Server-rendered HTML pages, for people with a browser: the trace list,
//! one trace (reference 002's trace viewer, with its QA results and its
//! place in the log checked here), and reference 004's registry admin view.
//!
//! | page | answer |
//! | --- | --- |
//! | `GET /ui` | 303 to `/ui/traces` |
//! | `GET /ui/traces?verified=yes\|no&min_score=X&from=YYYY-MM-DD&to=YYYY-MM-DD` | the traces, newest first; a bad filter is a 400 that names it |
//! | `GET /ui/traces/{id}` | the trace: header, timeline, validation, rubric, QA job, integrity; 404 when unknown |
//! | `GET /ui/registry` | registrations per model, with success rates |
//!
//! The pages are behind the read side's door, as `GET /v1/traces/{id}` is:
//! with read keys configured, a page needs one, sent as the API takes it
//! (`Authorization: Bearer`, `X-API-Key`) or by HTTP Basic auth (any user
//! name, the key as the password), so that a browser can sign in; a page
//! asked for without one is a 401 that says `WWW-Authenticate: Basic`.
//! Without read keys, loopback clients only, as for the API.
//!
//! No script and nothing from elsewhere: the only style is inline, and
//! every answer says so in its `Content-Security-Policy`. Every value
//! shown is escaped by the templates.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use maud::{DOCTYPE, Markup, html};

use super::{ApiError, App};
use crate::storage::{Storage, StorageError};

mod registry;
mod trace;
mod traces;

/// What the pages may load: their own inline style and `data:` images,
/// nothing else; forms post back here only; never framed.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The challenge a 401 page carries, so that a browser asks for a key.
pub(super) const WWW_AUTHENTICATE: &str = r#"Basic realm="telemetry-collector", charset="UTF-8""#;

/// The pages, merged into the collector's router.
pub(super) fn routes<S: Storage>() -> Router<Arc<App<S>>> {
    Router::new()
        .route("/ui", get(to_traces))
        .route("/ui/", get(to_traces))
        .route("/ui/traces", get(traces::list::<S>))
        .route("/ui/traces/{id}", get(trace::show::<S>))
        .route("/ui/registry", get(registry::show::<S>))
        .route("/ui/{*rest}", get(unknown_page))
        .layer(middleware::map_response(secure))
}

async fn to_traces() -> Redirect {
    Redirect::to("/ui/traces")
}

async fn unknown_page() -> Page {
    Page::error(StatusCode::NOT_FOUND, "There is no such page.")
}

/// The headers every page carries.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page to answer with: its status, its title and its content, laid out
/// in the pages' frame.
pub(crate) struct Page {
    status: StatusCode,
    title: String,
    content: Markup,
    retry_after: Option<u64>,
}

impl Page {
    /// A 200 page.
    fn ok(title: impl Into<String>, content: Markup) -> Self {
        Self {
            status: StatusCode::OK,
            title: title.into(),
            content,
            retry_after: None,
        }
    }

    /// An error page: the status as its heading, `message` below it.
    fn error(status: StatusCode, message: impl AsRef<str>) -> Self {
        let heading = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        let content = html! {
            h1 { (heading) }
            p.error #message { (message.as_ref()) }
            @if status == StatusCode::UNAUTHORIZED {
                p { "Sign in with any user name and a read key as the password." }
            }
        };
        Self {
            status,
            title: heading,
            content,
            retry_after: None,
        }
    }

    /// The storage could not answer (503, to be retried).
    fn storage(error: &StorageError) -> Self {
        tracing::error!(%error, "storage refused a page");
        let mut page = Self::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The storage did not answer; try again shortly.",
        );
        page.retry_after = Some(crate::policy::RETRY_AFTER_OVERLOADED.as_secs().max(1));
        page
    }
}

impl From<ApiError> for Page {
    fn from(error: ApiError) -> Self {
        let mut page = Self::error(error.status, &error.message);
        page.retry_after = error
            .retry_after
            .map(|wait| (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1));
        page
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let markup = layout(&self.title, &self.content);
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            markup.into_string(),
        )
            .into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The style of every page. It holds no `<`, `>`, `&` or quote, so the
/// template writes it as it is, escaped like everything else.
const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d1f23; background: #fafafa; }
header { background: #22303c; padding: 0.6em 1.5em; }
header a { color: #e8eef3; margin-right: 1.5em; text-decoration: none; font-weight: 600; }
main { padding: 1em 1.5em 3em; max-width: 80em; }
h1 { font-size: 1.5em; margin: 0.4em 0; }
h2 { font-size: 1.15em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #d5d9de; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #d5d9de; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
td.num, td.score, td.weight, td.rate { text-align: right; font-variant-numeric: tabular-nums; }
td.id, td.started { white-space: nowrap; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
pre { background: #fff; border: 1px solid #d5d9de; padding: 0.5em; overflow-x: auto; margin: 0.3em 0; }
pre.diff span { display: block; white-space: pre; min-height: 1.4em; }
p.note { margin: 0.3em 0; }
.add { background: #e3f6e5; color: #14532d; }
.del { background: #fde8e8; color: #7f1d1d; }
.hunk { color: #5b6b7a; }
.meta { color: #5b6b7a; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; margin: 0.4em 0; }
dt { font-weight: 600; color: #4a5561; }
dd { margin: 0; }
ol#timeline { list-style: none; padding: 0; }
li.event { background: #fff; border: 1px solid #d5d9de; border-left: 4px solid #8aa0b4; margin: 0 0 0.5em; padding: 0.4em 0.7em; }
li.event[data-kind=file_edit] { border-left-color: #4c8bf5; }
li.event[data-kind=cmd_run] { border-left-color: #8a63d2; }
li.event[data-kind=test_run] { border-left-color: #e0a100; }
li.event[data-kind=commit] { border-left-color: #2e9a4b; }
li.event[data-kind=rationale_note] { border-left-color: #c2410c; }
.event-head { color: #4a5561; font-size: 0.9em; }
.event-head .kind { font-weight: 700; color: #1d1f23; margin: 0 0.6em; }
.rationale-kind { font-weight: 700; text-transform: uppercase; font-size: 0.8em; letter-spacing: 0.05em; margin-right: 0.5em; }
.exit-ok { color: #14532d; font-weight: 600; }
.exit-fail { color: #7f1d1d; font-weight: 600; }
.verified { color: #14532d; font-weight: 600; }
.not-verified, .error { color: #7f1d1d; font-weight: 600; }
.pending { color: #5b6b7a; font-style: italic; }
.muted { color: #5b6b7a; }
form#filters { display: flex; flex-wrap: wrap; gap: 0.8em; align-items: end; margin: 0.8em 0 1em; }
form#filters label { display: flex; flex-direction: column; font-size: 0.85em; color: #4a5561; }
";

/// The frame of every page: a title, the style, the navigation.
fn layout(title: &str, content: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · telemetry-collector" }
                style { (STYLE) }
            }
            body {
                header {
                    nav {
                        a href="/ui/traces" { "Traces" }
                        a href="/ui/registry" { "Registry" }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// Lets a page's request in by the read side's rule (see the
/// [module](self)), its key sent as the API takes it or by Basic auth.
fn let_in<S: Storage>(app: &App<S>, peer: SocketAddr, headers: &HeaderMap) -> Result<(), Page> {
    app.let_in_side(peer, &basic_as_key(headers), true)
        .map_err(Page::from)
}

/// The request's headers with a Basic auth password moved to `X-API-Key`,
/// where the read side's door looks for a key. Credentials that cannot be
/// read are dropped, so the door finds no key and asks for one.
fn basic_as_key(headers: &HeaderMap) -> Cow<'_, HeaderMap> {
    let Some((scheme, credentials)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
    else {
        return Cow::Borrowed(headers);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Cow::Borrowed(headers);
    }
    let api_key = HeaderName::from_static("x-api-key");
    let mut moved = headers.clone();
    moved.remove(header::AUTHORIZATION);
    moved.remove(&api_key);
    if let Some(value) = basic_password(credentials.trim())
        .and_then(|password| HeaderValue::from_str(&password).ok())
    {
        moved.insert(api_key, value);
    }
    Cow::Owned(moved)
}

/// The password of Basic credentials (`base64(user:password)`, RFC 7617),
/// when there is one.
fn basic_password(credentials: &str) -> Option<String> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

/// Unix seconds as RFC 3339 UTC, to the millisecond at most.
fn rfc3339(unix_seconds: f64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "milliseconds since 1970 fit i64 for any time a trace records"
    )]
    let millis = (unix_seconds * 1000.0).round() as i64;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).map_or_else(
        |_| unix_seconds.to_string(),
        |at| telemetry_core::Timestamp::from(at).to_string(),
    )
}

/// `1 commit`, `2 commits`.
fn counted(count: impl Into<u64>, noun: &str) -> String {
    let count = count.into();
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_style_needs_no_escaping() {
        assert!(!STYLE.contains(['<', '>', '&', '"', '\'']));
        let page = layout("t", &html! {});
        assert!(page.into_string().contains(STYLE));
    }

    #[test]
    fn a_basic_password_becomes_the_key() {
        let mut headers = HeaderMap::new();
        // "anyone:read-key-0123456789"
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YW55b25lOnJlYWQta2V5LTAxMjM0NTY3ODk="),
        );
        let moved = basic_as_key(&headers);
        assert_eq!(crate::auth::presented(&moved), Some("read-key-0123456789"));

        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(crate::auth::presented(&basic_as_key(&headers)), None);

        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer read-key-0123456789"),
        );
        assert!(matches!(basic_as_key(&headers), Cow::Borrowed(_)));
        assert_eq!(basic_password("dXNlcjo="), None, "an empty password");
    }

    #[test]
    fn times_read_as_rfc3339() {
        assert_eq!(rfc3339(1_696_435_200.0), "2023-10-04T16:00:00Z");
        assert_eq!(rfc3339(1_696_435_200.25), "2023-10-04T16:00:00.25Z");
        assert_eq!(counted(1u32, "commit"), "1 commit");
        assert_eq!(counted(0u32, "commit"), "0 commits");
    }
}
