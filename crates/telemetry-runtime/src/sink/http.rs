//! The rules every HTTP sink follows, in one place: what a status means for
//! delivery, how `Retry-After` is read, and what of a server's answer may be
//! logged, returned in an error or written to the dead-letter file.
//!
//! | status | [`SinkErrorKind`] | delivery does |
//! | --- | --- | --- |
//! | 400 | `Rejected` | dead-letters the batch |
//! | 413 | `TooLarge` | splits the batch, drops a single event |
//! | 408, 429, 5xx, anything else | `Transient` (with `Retry-After`, if given, for 429 and 5xx) | retries |
//! | 401, 403, other 4xx | `Unauthorized` | pauses until the next start |

use std::time::Duration;

use time::PrimitiveDateTime;
use time::macros::format_description;

use super::{SinkError, SinkErrorKind};
use crate::guard::{self, Detector};
use crate::policy::{MAX_ANSWER_CHARS, MAX_RETRY_AFTER};

/// What the delivery rules do with an HTTP status other than 2xx, given
/// the server's `Retry-After` (see the [module docs](self)).
#[must_use]
pub fn classify(status: u16, retry_after: Option<Duration>) -> SinkErrorKind {
    match status {
        413 => SinkErrorKind::TooLarge,
        400 => SinkErrorKind::Rejected,
        429 | 500..=599 => SinkErrorKind::Transient { retry_after },
        // 401 and 403: a wrong or revoked key. Other 4xx (404 from a wrong
        // host path, 405, …) also need a configuration change, not a retry.
        400..=499 if status != 408 => SinkErrorKind::Unauthorized,
        _ => SinkErrorKind::TRANSIENT,
    }
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3), capped
/// at [`MAX_RETRY_AFTER`]; `None` when it is neither.
#[must_use]
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let format = format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let at = PrimitiveDateTime::parse(value, &format).ok()?.assume_utc();
        let now = time::OffsetDateTime::now_utc();
        Duration::try_from(at - now).unwrap_or_default()
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A server's answer as it may be logged, returned in an error, or written
/// to the dead-letter file: a server or proxy that echoes the request would
/// otherwise carry the API key into all three.
/// `secret` (the configured key; empty for none), and every token the
/// guard's secret detectors flag (keys by their prefix, JWTs, credentials
/// in URLs, password assignments, long random strings), become `[secret]`.
/// A token runs between white space, quotes and brackets, so a URL or a
/// `password=…` stays whole; a credential spread over several tokens
/// (`Authorization: Bearer x`) is caught only when its last part looks
/// random on its own.
#[must_use]
pub fn redact_answer(answer: &str, secret: &str) -> String {
    let answer = if secret.is_empty() {
        answer.to_owned()
    } else {
        answer.replace(secret, "[secret]")
    };
    let is_boundary = |c: char| c.is_whitespace() || "\"'`,;{}[]()<>".contains(c);
    let mut out = String::with_capacity(answer.len());
    let mut token_start = None;
    let flush = |out: &mut String, token: &str| {
        let secret = matches!(
            guard::detect(token),
            Some(
                Detector::SecretPrefix
                    | Detector::Jwt
                    | Detector::UrlCredentials
                    | Detector::Password
                    | Detector::Authorization
                    | Detector::HighEntropy
            )
        );
        out.push_str(if secret { "[secret]" } else { token });
    };
    for (at, c) in answer.char_indices() {
        if is_boundary(c) {
            if let Some(start) = token_start.take() {
                flush(&mut out, &answer[start..at]);
            }
            out.push(c);
        } else if token_start.is_none() {
            token_start = Some(at);
        }
    }
    if let Some(start) = token_start {
        flush(&mut out, &answer[start..]);
    }
    out
}

/// `answer` redacted (see [`redact_answer`]), trimmed and cut to
/// [`MAX_ANSWER_CHARS`]: what a sink keeps of a server's words. Redacted
/// before it is cut, so that a key split by the cut is still recognised.
#[must_use]
pub fn shown_answer(answer: &str, secret: &str) -> String {
    redact_answer(answer.trim(), secret)
        .chars()
        .take(MAX_ANSWER_CHARS)
        .collect()
}

impl SinkError {
    /// The error for an HTTP answer other than 2xx: its kind by
    /// [`classify`] (with the `retry_after` header's value, as the server
    /// sent it), and `HTTP {status}: {answer}` as the reason, the answer
    /// [shown](shown_answer) without `secret` or anything else secret.
    #[must_use]
    pub fn from_status(
        sink: impl Into<String>,
        status: u16,
        retry_after: Option<&str>,
        answer: &str,
        secret: &str,
    ) -> Self {
        let answer = shown_answer(answer, secret);
        let reason = if answer.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {answer}")
        };
        Self::new(
            sink,
            classify(status, retry_after.and_then(parse_retry_after)),
            reason,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_lose_the_key_and_anything_secret_but_keep_the_rest() {
        let key = "phc_0123456789abcdefghijklmnopqrstuv";
        let echoed = format!(
            r#"{{"api_key":"{key}","batch":[{{"event":"x","properties":{{"token":"ghp_16C7e42F292c6912E7710c838347Ae178B4a"}}}}]}} bad request"#
        );
        let redacted = redact_answer(&echoed, key);
        assert_eq!(
            redacted,
            r#"{"api_key":"[secret]","batch":[{"event":"x","properties":{"token":"[secret]"}}]} bad request"#
        );
        // Another key the guard recognises by its shape, with no configured key.
        assert_eq!(
            redact_answer("invalid key sk-proj-4f9Xk2LqZ8mN3pQ7rS1tU5vW", ""),
            "invalid key [secret]"
        );
        assert_eq!(
            redact_answer("HTTP 500: upstream timeout", key),
            "HTTP 500: upstream timeout"
        );
        // Credentials in a URL and password assignments, whole.
        assert_eq!(
            redact_answer(
                "proxy https://ana:hunter2@proxy.example.com refused password=hunter2",
                ""
            ),
            "proxy [secret] refused [secret]"
        );
    }

    #[test]
    fn a_shown_answer_is_redacted_before_it_is_cut() {
        let key = "phc_0123456789abcdefghijklmnopqrstuv";
        let long = format!("{}{key}", "x ".repeat(MAX_ANSWER_CHARS / 2 - 3));
        let shown = shown_answer(&format!("  {long}  "), key);
        assert_eq!(shown.chars().count(), MAX_ANSWER_CHARS);
        assert!(shown.ends_with("[secre"), "{shown}");
        assert!(!shown.contains("phc_"), "{shown}");
    }

    #[test]
    fn statuses_map_to_the_delivery_rules() {
        assert_eq!(classify(413, None), SinkErrorKind::TooLarge);
        assert_eq!(classify(400, None), SinkErrorKind::Rejected);
        assert_eq!(classify(401, None), SinkErrorKind::Unauthorized);
        assert_eq!(classify(403, None), SinkErrorKind::Unauthorized);
        assert_eq!(classify(404, None), SinkErrorKind::Unauthorized);
        for status in [408, 500, 502, 504, 599] {
            assert_eq!(classify(status, None), SinkErrorKind::TRANSIENT, "{status}");
        }
        let after = Some(Duration::from_secs(7));
        for status in [429, 500, 503] {
            assert_eq!(
                classify(status, after),
                SinkErrorKind::Transient { retry_after: after },
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let format = format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let header = soon.format(&format).unwrap();
        let wait = parse_retry_after(&header).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn an_error_from_a_status_carries_its_kind_and_the_shown_answer() {
        let key = "collector-key-0123456789abcdef";
        let error = SinkError::from_status(
            "collector http://127.0.0.1:1",
            429,
            Some("3"),
            &format!(" slow down, {key} \n"),
            key,
        );
        assert_eq!(
            error.kind,
            SinkErrorKind::Transient {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(error.reason, "HTTP 429: slow down, [secret]");
        let bare = SinkError::from_status("s", 400, Some("soon"), "   ", "");
        assert_eq!(bare.kind, SinkErrorKind::Rejected);
        assert_eq!(bare.reason, "HTTP 400");
    }
}
