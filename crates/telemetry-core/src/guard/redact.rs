//! Redaction span by span: [`redact`] and what it returns.

use std::borrow::Cow;
use std::ops::Range;

use super::{Detector, detect};

/// Most words a hit may span (step 3 of [`redact`]).
const MAX_WINDOW_WORDS: usize = 4;

/// Most steps a narrowing takes from each end, so that a long word costs
/// a bounded number of detector passes.
const MAX_NARROWING_STEPS: usize = 32;

/// One part of a text that was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte offsets of the part in the original text.
    pub range: Range<usize>,
    /// The detector that fired on it.
    pub detector: Detector,
}

/// A text with what the detectors flag replaced, and where that was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction<'a> {
    /// The text as it may be kept: borrowed when nothing was replaced.
    pub text: Cow<'a, str>,
    /// The parts replaced, in order, by their offsets in the original.
    pub spans: Vec<Span>,
}

impl Redaction<'_> {
    /// How many parts were replaced.
    #[must_use]
    pub fn count(&self) -> usize {
        self.spans.len()
    }

    /// Whether anything was replaced.
    #[must_use]
    pub fn is_redacted(&self) -> bool {
        !self.spans.is_empty()
    }

    /// The text, owned.
    #[must_use]
    pub fn into_owned(self) -> String {
        self.text.into_owned()
    }
}

impl Detector {
    /// What [`redact`] writes in place of a hit: `[email]`, `[path]`,
    /// `[secret]` (keys, tokens, passwords, `Authorization` headers and
    /// random-looking strings), `[url]` (a URL with credentials), `[card]`,
    /// `[iban]`, `[ip]`, `[mac]`.
    #[must_use]
    pub const fn placeholder(self) -> &'static str {
        match self {
            Self::UrlCredentials => "[url]",
            Self::Authorization
            | Self::Password
            | Self::Jwt
            | Self::SecretPrefix
            | Self::HighEntropy => "[secret]",
            Self::Email => "[email]",
            Self::WindowsPath | Self::UnixPath | Self::HomePath => "[path]",
            Self::CreditCard => "[card]",
            Self::Iban => "[iban]",
            Self::Ipv4 | Self::Ipv6 => "[ip]",
            Self::MacAddress => "[mac]",
            Self::MalformedJson => "[redacted]",
        }
    }
}

/// `text` with every part a detector flags replaced by its
/// [placeholder](Detector::placeholder) (`[email]`, `[path]`, `[secret]` …),
/// and where each part was: free text that must be kept (an interaction's
/// input, a diff, a command's output) keeps everything else as it was.
///
/// The detectors answer yes or no for a whole string; [`redact`] finds
/// *where* by asking them about smaller pieces:
///
/// 1. A string on which no detector fires is returned as it is, borrowed:
///    one pass over its bytes, the cost of [`detect`].
/// 2. Otherwise each line on which a detector fires is split at white space
///    into words, and each word that fires is narrowed: its start moves past
///    assignments and openings (`path=`, `<`, `"`, `«`) and its end back over
///    closings (`>`, `,`, `.`) for as long as the rest still fires; never
///    past the `.`, `/`, `@` or `-` inside a path, address or key:
///    `see <ana@example.com>.` becomes `see <[email]>.`.
/// 3. A hit that needs several words (`Authorization: Bearer abc`,
///    `password = hunter2`) is found as the shortest run of up to four
///    consecutive words that fires, narrowed the same way.
/// 4. Should the line still fire once those are replaced (a hit that spans
///    the placeholders' neighbours), the whole line is replaced; should the
///    whole text still fire once every line is clean (a hit across lines),
///    the whole text is.
///
/// So the result never holds anything the detectors flag: [`detect`] on it
/// finds nothing, and redacting it again changes nothing. The price is
/// whatever the detectors flag that is not personal: a 40-hex SHA-1 inside
/// a diff is redacted as a high-entropy token, as [`detect`] flags it.
///
/// ```
/// use telemetry_core::guard::{Detector, redact};
///
/// let redacted = redact("mail ana@example.com about /home/ana/notes.md, then retry");
/// assert_eq!(redacted.text, "mail [email] about [path], then retry");
/// assert_eq!(redacted.spans.len(), 2);
/// assert_eq!(redacted.spans[0].detector, Detector::Email);
///
/// let clean = redact("cargo test -p telemetry-core");
/// assert!(clean.spans.is_empty());
/// assert!(matches!(clean.text, std::borrow::Cow::Borrowed(_)));
/// ```
#[must_use]
pub fn redact(text: &str) -> Redaction<'_> {
    if detect(text).is_none() {
        return Redaction {
            text: Cow::Borrowed(text),
            spans: Vec::new(),
        };
    }
    let mut spans = Vec::new();
    let single_line = !text.contains('\n');
    if single_line {
        // The line is the text: it fires, and what `redact_line` leaves
        // passes `detect`, so the text needs no second look.
        redact_line(text, 0, &mut spans);
        let out = rebuild(text, &spans);
        return Redaction {
            text: Cow::Owned(out),
            spans,
        };
    }
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if detect(body).is_some() {
            redact_line(body, start, &mut spans);
        }
        start += line.len();
    }
    let mut out = rebuild(text, &spans);
    if let Some(detector) = detect(&out) {
        spans = vec![Span {
            range: 0..text.len(),
            detector,
        }];
        detector.placeholder().clone_into(&mut out);
    }
    Redaction {
        text: Cow::Owned(out),
        spans,
    }
}

/// Finds the spans of one line (no line break), at offset `base` of the
/// text, and appends them to `spans` in order.
fn redact_line(line: &str, base: usize, spans: &mut Vec<Span>) {
    let words = words(line);
    let mut found: Vec<Span> = Vec::new();
    for word in &words {
        if let Some(span) = narrowed(line, word.clone()) {
            found.push(span);
        }
    }
    // What the words leave that still fires: then windows of words, until
    // nothing does; else the whole line.
    let mut firing = detect(&rebuild(line, &found));
    if firing.is_some() {
        for width in 2..=MAX_WINDOW_WORDS.min(words.len()) {
            for window in words.windows(width) {
                let range = window[0].start..window[width - 1].end;
                if found.iter().any(|span| overlaps(&span.range, &range)) {
                    continue;
                }
                if let Some(span) = narrowed(line, range) {
                    found.push(span);
                    found.sort_by_key(|span| span.range.start);
                }
            }
            firing = detect(&rebuild(line, &found));
            if firing.is_none() {
                break;
            }
        }
    }
    if let Some(detector) = firing {
        found = vec![Span {
            range: 0..line.len(),
            detector,
        }];
    }
    spans.extend(found.into_iter().map(|span| Span {
        range: span.range.start + base..span.range.end + base,
        detector: span.detector,
    }));
}

/// The byte ranges of the white-space-separated words of `line`.
fn words(line: &str) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push(s..i);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push(s..line.len());
    }
    words
}

/// What may come before a hit inside a word: assignments, openings and
/// separators (`path=`, `(`, `"`, `«`, `：`). Not `.`, `/`, `-`, `_`, `@`
/// or `+`, which are part of the paths, addresses and keys themselves.
fn opens(c: char) -> bool {
    matches!(
        c,
        '=' | ':'
            | '('
            | '['
            | '{'
            | '<'
            | '"'
            | '\''
            | '`'
            | ','
            | ';'
            | '|'
            | '«'
            | '‘'
            | '“'
            | '「'
            | '『'
            | '（'
            | '：'
            | '，'
            | '、'
            | '【'
    )
}

/// What may end a word after a hit: closings and sentence punctuation.
fn closes(c: char) -> bool {
    matches!(
        c,
        ')' | ']'
            | '}'
            | '>'
            | '"'
            | '\''
            | '`'
            | ','
            | ';'
            | '.'
            | ':'
            | '!'
            | '?'
            | '»'
            | '’'
            | '”'
            | '」'
            | '』'
            | '）'
            | '。'
            | '，'
            | '、'
            | '】'
            | '！'
            | '？'
    )
}

/// `range` of `line`, if a detector fires on it, with its start moved past
/// [`opens`] characters and its end back over a trailing run of [`closes`]
/// characters, for as long as the same detector still fires (so that
/// `https://u:pw@host` is not narrowed to the e-mail-like `pw@host`).
fn narrowed(line: &str, range: Range<usize>) -> Option<Span> {
    let detector = detect(&line[range.clone()])?;
    let same = |piece: &str| detect(piece) == Some(detector);
    let (mut start, mut end) = (range.start, range.end);
    let openings = line[start..end]
        .char_indices()
        .filter(|&(_, c)| opens(c))
        .map(|(i, c)| range.start + i + c.len_utf8())
        .take(MAX_NARROWING_STEPS);
    for next in openings {
        if next >= end || !same(&line[next..end]) {
            break;
        }
        start = next;
    }
    let closings = line[start..end]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| closes(c))
        .map(|(j, _)| start + j)
        .take(MAX_NARROWING_STEPS);
    for before in closings {
        if before <= start || !same(&line[start..before]) {
            break;
        }
        end = before;
    }
    Some(Span {
        range: start..end,
        detector,
    })
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// `text` with each span (ordered, not overlapping) replaced by its
/// placeholder.
fn rebuild(text: &str, spans: &[Span]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        out.push_str(&text[at..span.range.start]);
        out.push_str(span.detector.placeholder());
        at = span.range.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> String {
        redact(text).into_owned()
    }

    #[test]
    fn each_family_gets_its_placeholder() {
        let cases = [
            ("write to ana@example.com now", "write to [email] now"),
            ("open /home/ana/notes.md", "open [path]"),
            ("cd ~/work/app && make", "cd [path] && make"),
            (r"dir C:\Users\ana\x", "dir C:[path]"),
            ("key sk-proj-4f9Xk2LqZ8rT5vW1 leaked", "key [secret] leaked"),
            ("GET https://u:pw@example.com/x", "GET [url]"),
            ("card 4111 1111 1111 1111 ok", "card [card] ok"),
            ("iban DE89370400440532013000.", "iban [iban]."),
            ("ping 192.168.1.20 failed", "ping [ip] failed"),
            ("ether 00:1a:2b:3c:4d:5e up", "ether [mac] up"),
        ];
        for (text, expected) in cases {
            assert_eq!(redacted(text), expected, "{text}");
        }
    }

    #[test]
    fn punctuation_around_a_hit_is_kept() {
        assert_eq!(redacted("see <ana@example.com>."), "see <[email]>.");
        assert_eq!(redacted("path=/etc/passwd,"), "path=[path],");
        assert_eq!(
            redacted(r#"{"file": "/home/ana/x"}"#),
            r#"{"file": "[path]"}"#
        );
    }

    #[test]
    fn a_hit_over_several_words_is_found_as_the_shortest_window() {
        assert_eq!(
            redacted("curl -H 'Authorization: Bearer abc123' https://api.example.com"),
            "curl -H '[secret]' https://api.example.com"
        );
        let text = redacted("set password = hunter2 then go");
        assert!(detect(&text).is_none(), "{text}");
        assert!(
            text.starts_with("set ") && text.ends_with(" then go"),
            "{text}"
        );
    }

    #[test]
    fn spans_point_into_the_original_and_lines_are_kept() {
        let text = "line one\n+ mail ana@example.com\r\n- old /srv/data/x\n";
        let redaction = redact(text);
        assert_eq!(redaction.text, "line one\n+ mail [email]\r\n- old [path]\n");
        let pieces: Vec<(&str, Detector)> = redaction
            .spans
            .iter()
            .map(|span| (&text[span.range.clone()], span.detector))
            .collect();
        assert_eq!(
            pieces,
            [
                ("ana@example.com", Detector::Email),
                ("/srv/data/x", Detector::UnixPath)
            ]
        );
    }

    #[test]
    fn clean_text_is_borrowed_and_redaction_is_idempotent() {
        let clean = "fn main() { println!(\"1/2 and/or text/plain\"); }";
        assert!(matches!(redact(clean).text, Cow::Borrowed(_)));
        for text in [
            "mail ana@example.com and bob@example.org",
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
            "a\nb /home/x/y\n\nc 10.0.0.1:8080",
        ] {
            let once = redacted(text);
            let twice = redact(&once);
            assert!(twice.spans.is_empty(), "{once}");
            assert_eq!(twice.text, once);
        }
    }

    #[test]
    fn unicode_neighbours_keep_their_bytes() {
        assert_eq!(redacted("路径：/home/ana 失败"), "路径：[path] 失败");
        assert_eq!(redacted("«/etc/passwd»"), "«[path]»");
    }
}
