//! [`scan_json`]: a validating walk over serialized JSON that runs the
//! detectors on every string and object key, without building a value.

use super::{Detector, Violation, detectors, push_index, push_key};

/// Deepest nesting of arrays and objects accepted: what `serde_json` parses.
const MAX_DEPTH: usize = 127;

/// Scans serialized JSON (as `serde_json` writes it) and returns the first
/// violation: a string value or an object key on which a [`Detector`] fires.
///
/// The walk validates as it goes and fails closed: bytes that are not one
/// well-formed JSON value (including invalid UTF-8 in a string, a lone
/// surrogate escape, a number too large for `f64`, or nesting deeper than
/// 127 levels, like `serde_json`) give a violation with
/// [`Detector::MalformedJson`] at the place where the error was found. Strings
/// are unescaped (into a buffer reused for the whole call) only when they
/// hold an escape, so that `\/home\/ana` and `ana\u0040example.com` are seen
/// as what they decode to. Every occurrence of a duplicated key is scanned.
///
/// Allocates nothing while the payload is clean, except the unescape buffer
/// when an escape appears; the violation's path is built only on a hit.
///
/// ```
/// use telemetry_core::guard::{Detector, scan_json};
///
/// assert!(scan_json(br#"{"model":"sentence-transformers/all-mpnet-base-v2"}"#).is_ok());
///
/// let violation = scan_json(br#"{"timing":{"x":"\/home\/ana\/notes"}}"#).unwrap_err();
/// assert_eq!(violation.path, "timing.x");
/// assert_eq!(violation.detector, Detector::UnixPath);
/// assert_eq!(
///     violation.to_string(),
///     "field `timing.x`: looks like an absolute path (unix_path)"
/// );
/// ```
pub fn scan_json(json: &[u8]) -> Result<(), Violation> {
    let mut scanner = Scanner {
        json,
        pos: 0,
        buf: Vec::new(),
    };
    let root = Path::Root;
    scanner.value(&root, 0)?;
    scanner.skip_whitespace();
    if scanner.pos == json.len() {
        Ok(())
    } else {
        Err(root.violation(Detector::MalformedJson))
    }
}

/// Where the walk is, as a chain of stack frames: built into a string only
/// when a violation is reported.
enum Path<'a> {
    Root,
    /// A member of an object; `raw` is the key as written, escapes included.
    Key {
        parent: &'a Path<'a>,
        raw: &'a [u8],
    },
    Index {
        parent: &'a Path<'a>,
        index: usize,
    },
}

impl Path<'_> {
    fn render(&self) -> String {
        let mut chain = Vec::new();
        let mut node = self;
        while let Path::Key { parent, .. } | Path::Index { parent, .. } = node {
            chain.push(node);
            node = parent;
        }
        let mut path = String::new();
        let mut key = Vec::new();
        for node in chain.into_iter().rev() {
            match node {
                Path::Key { raw, .. } => {
                    key.clear();
                    // The key was unescaped once already, on the way in.
                    if unescape(raw, &mut key).is_some() {
                        push_key(&mut path, &String::from_utf8_lossy(&key));
                    } else {
                        push_key(&mut path, "?");
                    }
                }
                Path::Index { index, .. } => push_index(&mut path, *index),
                Path::Root => {}
            }
        }
        path
    }

    fn violation(&self, detector: Detector) -> Violation {
        Violation {
            path: self.render(),
            detector,
        }
    }

    fn key_violation(&self, detector: Detector) -> Violation {
        Violation {
            path: super::key_path(&self.render()),
            detector,
        }
    }
}

struct Scanner<'a> {
    json: &'a [u8],
    pos: usize,
    /// Unescaped text of the current string, when it holds an escape.
    buf: Vec<u8>,
}

impl<'a> Scanner<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.json.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.json.get(self.pos).copied()
    }

    fn value(&mut self, path: &Path<'_>, depth: usize) -> Result<(), Violation> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(path, depth + 1),
            Some(b'[') => self.array(path, depth + 1),
            Some(b'"') => match self.string() {
                Some((_, None)) => Ok(()),
                Some((_, Some(detector))) => Err(path.violation(detector)),
                None => Err(path.violation(Detector::MalformedJson)),
            },
            Some(b't') => self.literal(b"true", path),
            Some(b'f') => self.literal(b"false", path),
            Some(b'n') => self.literal(b"null", path),
            Some(b'-' | b'0'..=b'9') => self.number(path),
            _ => Err(path.violation(Detector::MalformedJson)),
        }
    }

    fn object(&mut self, path: &Path<'_>, depth: usize) -> Result<(), Violation> {
        if depth > MAX_DEPTH {
            return Err(path.violation(Detector::MalformedJson));
        }
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(path.violation(Detector::MalformedJson));
            }
            let raw = match self.string() {
                Some((raw, None)) => raw,
                Some((_, Some(detector))) => return Err(path.key_violation(detector)),
                None => return Err(path.key_violation(Detector::MalformedJson)),
            };
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(path.violation(Detector::MalformedJson));
            }
            self.pos += 1;
            self.value(&Path::Key { parent: path, raw }, depth)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(path.violation(Detector::MalformedJson)),
            }
        }
    }

    fn array(&mut self, path: &Path<'_>, depth: usize) -> Result<(), Violation> {
        if depth > MAX_DEPTH {
            return Err(path.violation(Detector::MalformedJson));
        }
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            self.value(
                &Path::Index {
                    parent: path,
                    index,
                },
                depth,
            )?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(path.violation(Detector::MalformedJson)),
            }
            index += 1;
        }
    }

    /// Reads the string at `pos` (a `"`), and runs the detectors on its
    /// unescaped text. Returns the raw text between the quotes and the
    /// detection, or `None` when the string is malformed.
    fn string(&mut self) -> Option<(&'a [u8], Option<Detector>)> {
        use detectors::{BACKSLASH, CLASSES, CONTROL, NON_ASCII, QUOTE};

        let json = self.json;
        let start = self.pos + 1;
        let rest = json.get(start..)?;
        let mut i = 0;
        // The byte classes the detectors need, gathered on the way.
        let mut seen = 0;
        let mut escaped = false;
        // Eight bytes at a time while none ends the string or needs a look.
        while let Some(chunk) = rest.get(i..i + 8) {
            let class = chunk
                .iter()
                .fold(0, |class, &b| class | CLASSES[usize::from(b)]);
            if class & (QUOTE | BACKSLASH | CONTROL) != 0 {
                break;
            }
            seen |= class;
            i += 8;
        }
        loop {
            let class = CLASSES[usize::from(*rest.get(i)?)];
            if class & (QUOTE | BACKSLASH | CONTROL) == 0 {
                seen |= class;
                i += 1;
            } else if class & QUOTE != 0 {
                break;
            } else if class & BACKSLASH != 0 {
                escaped = true;
                i += 2;
            } else {
                return None;
            }
        }
        let raw = &rest[..i];
        self.pos = start + i + 1;
        if escaped {
            self.buf.clear();
            unescape(raw, &mut self.buf)?;
            std::str::from_utf8(&self.buf).ok()?;
            return Some((raw, detectors::detect(&self.buf)));
        }
        if seen & NON_ASCII != 0 {
            std::str::from_utf8(raw).ok()?;
        }
        Some((raw, detectors::detect_classified(raw, seen)))
    }

    fn literal(&mut self, literal: &[u8], path: &Path<'_>) -> Result<(), Violation> {
        if self.json[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            Ok(())
        } else {
            Err(path.violation(Detector::MalformedJson))
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self, path: &Path<'_>) -> Result<(), Violation> {
        let json = self.json;
        let digits = |from: usize| {
            json.get(from..).map_or(0, |rest| {
                rest.iter().take_while(|b| b.is_ascii_digit()).count()
            })
        };
        let mut i = self.pos;
        if json.get(i) == Some(&b'-') {
            i += 1;
        }
        let malformed = || Err(path.violation(Detector::MalformedJson));
        let integer = match json.get(i) {
            Some(b'0') => 1,
            Some(b'1'..=b'9') => digits(i),
            _ => return malformed(),
        };
        i += integer;
        if json.get(i) == Some(&b'.') {
            let n = digits(i + 1);
            if n == 0 {
                return malformed();
            }
            i += 1 + n;
        }
        // A rough decimal magnitude: only a large one can overflow `f64`.
        let mut magnitude = i64::try_from(integer).unwrap_or(i64::MAX);
        if let Some(b'e' | b'E') = json.get(i) {
            i += 1;
            let negative = json.get(i) == Some(&b'-');
            if let Some(b'+' | b'-') = json.get(i) {
                i += 1;
            }
            let n = digits(i);
            if n == 0 {
                return malformed();
            }
            let exponent = json[i..i + n].iter().fold(0_i64, |e, &d| {
                e.saturating_mul(10).saturating_add(i64::from(d - b'0'))
            });
            magnitude = if negative {
                magnitude.saturating_sub(exponent)
            } else {
                magnitude.saturating_add(exponent)
            };
            i += n;
        }
        // Like `serde_json`, refuse a number that overflows to infinity.
        if magnitude > 300 {
            let finite = std::str::from_utf8(&json[self.pos..i])
                .ok()
                .and_then(|text| text.parse::<f64>().ok())
                .is_some_and(f64::is_finite);
            if !finite {
                return malformed();
            }
        }
        self.pos = i;
        Ok(())
    }
}

/// Appends the unescaped text of `raw` (a JSON string's contents, without
/// quotes) to `out`; `None` on an invalid escape or a lone surrogate.
fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut i = 0;
    while let Some(offset) = raw[i..].iter().position(|&b| b == b'\\') {
        out.extend_from_slice(&raw[i..i + offset]);
        i += offset + 1;
        let byte = match *raw.get(i)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (c, len) = unicode_escape(&raw[i + 1..])?;
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                i += 1 + len;
                continue;
            }
            _ => return None,
        };
        out.push(byte);
        i += 1;
    }
    out.extend_from_slice(&raw[i..]);
    Some(())
}

/// Decodes the `XXXX` of `\uXXXX` at the start of `s`, and the low half
/// `\uXXXX` that must follow a high surrogate. Returns the character and how
/// many bytes of `s` it used.
fn unicode_escape(s: &[u8]) -> Option<(char, usize)> {
    let high = hex4(s)?;
    match high {
        0xD800..=0xDBFF => {
            if s.get(4..6)? != b"\\u" {
                return None;
            }
            let low = hex4(&s[6..])?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let code = 0x1_0000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            Some((char::from_u32(code)?, 10))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(high)?, 4)),
    }
}

fn hex4(s: &[u8]) -> Option<u32> {
    s.get(..4)?.iter().try_fold(0, |n, &b| {
        let digit = char::from(b).to_digit(16)?;
        Some(n * 16 + digit)
    })
}
