//! [`scan_json`]: `serde_json`'s parser, driven by a visitor that runs the
//! detectors on every string value and object key, without building a value.
//!
//! The visitor is a [`DeserializeSeed`] per value: it carries the value's
//! place in the document as a chain of stack frames ([`Path`]) of positions
//! (keys are never kept, since they are never reported), which is rendered
//! into a string only when something is reported. A hit, or a parse
//! error, is stored in [`Scan::found`] where it is found and leaves
//! `serde_json` as an error that says nothing; the frames it passes through
//! on the way out leave it alone.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Detector, Violation, detectors, key_path, push_index, push_key};

/// Scans serialized JSON (as `serde_json` writes it) and returns the first
/// violation: a string value or an object key on which a [`Detector`] fires.
///
/// The bytes are parsed by `serde_json`, and the scan fails closed: bytes
/// that are not one JSON value `serde_json` accepts (including invalid UTF-8
/// in a string, a lone surrogate escape, a number too large for `f64`,
/// nesting deeper than `serde_json`'s recursion limit, or trailing bytes)
/// give a violation with [`Detector::MalformedJson`] at the place where
/// `serde_json` found the error. Strings are seen unescaped, so that
/// `\/home\/ana` and `ana\u0040example.com` are seen as what they decode to.
/// Every occurrence of a duplicated key is scanned.
///
/// Allocates nothing while the payload is clean beyond what `serde_json`
/// needs to unescape a string that holds an escape; the violation's path,
/// written with positions as [`Violation`] says, is built only on a hit.
///
/// ```
/// use telemetry_core::guard::{Detector, scan_json};
///
/// assert!(scan_json(br#"{"model":"sentence-transformers/all-mpnet-base-v2"}"#).is_ok());
///
/// let violation = scan_json(br#"{"n":1,"timing":{"avg":2.5,"x":"\/home\/ana\/notes"}}"#).unwrap_err();
/// assert_eq!(violation.path, "[key 1][key 1]");
/// assert_eq!(violation.detector, Detector::UnixPath);
/// assert_eq!(
///     violation.to_string(),
///     "field `[key 1][key 1]`: looks like an absolute path (unix_path)"
/// );
/// ```
pub fn scan_json(json: &[u8]) -> Result<(), Violation> {
    match std::str::from_utf8(json) {
        // One pass over the whole payload, rather than one per string.
        Ok(text) => scan(serde_json::Deserializer::from_str(text)),
        // The slower reader finds the string that holds the bad byte.
        Err(_) => scan(serde_json::Deserializer::from_slice(json)),
    }
}

fn scan<'de, R: serde_json::de::Read<'de>>(
    mut parser: serde_json::Deserializer<R>,
) -> Result<(), Violation> {
    let scan = Scan::default();
    let root = Path::Root;
    let parsed = ValueSeed {
        scan: &scan,
        path: &root,
    }
    .deserialize(&mut parser)
    .and_then(|()| parser.end());
    match parsed {
        Ok(()) => Ok(()),
        // Trailing bytes after the value (the only error nothing has stored).
        Err(_) => Err(scan
            .found
            .take()
            .unwrap_or_else(|| root.violation(Detector::MalformedJson))),
    }
}

/// The state of one scan, shared by every frame.
#[derive(Default)]
struct Scan {
    /// The first hit or parse error, stored by the frame that found it.
    found: RefCell<Option<Violation>>,
}

impl Scan {
    /// Stores a hit and returns the error that carries it out of `serde_json`.
    fn hit<E: de::Error>(&self, violation: Violation) -> E {
        *self.found.borrow_mut() = Some(violation);
        E::custom(Found)
    }

    /// Stores a parse error, unless a frame below stored one already;
    /// `place` renders where it was found.
    fn malformed(&self, place: impl FnOnce() -> String) {
        let mut found = self.found.borrow_mut();
        if found.is_none() {
            *found = Some(Violation {
                path: place(),
                detector: Detector::MalformedJson,
            });
        }
    }
}

/// What leaves `serde_json` when a frame stored a [`Violation`]; it is never
/// shown.
struct Found;

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopped by the guard")
    }
}

/// Where the walk is, as a chain of stack frames.
enum Path<'a> {
    Root,
    /// A member of an object, by its position.
    Key {
        parent: &'a Path<'a>,
        position: usize,
    },
    /// An element of an array.
    Index {
        parent: &'a Path<'a>,
        index: usize,
    },
}

impl Path<'_> {
    /// The path as [`Violation`] writes it: `[key 1][0]`.
    fn render(&self) -> String {
        let mut chain = Vec::new();
        let mut node = self;
        while let Path::Key { parent, .. } | Path::Index { parent, .. } = node {
            chain.push(node);
            node = parent;
        }
        let mut rendered = String::new();
        for node in chain.into_iter().rev() {
            match node {
                Path::Key { position, .. } => push_key(&mut rendered, *position),
                Path::Index { index, .. } => push_index(&mut rendered, *index),
                Path::Root => {}
            }
        }
        rendered
    }

    fn violation(&self, detector: Detector) -> Violation {
        Violation {
            path: self.render(),
            detector,
        }
    }
}

/// Scans the value at `path`.
#[derive(Clone, Copy)]
struct ValueSeed<'s, 'p> {
    scan: &'s Scan,
    path: &'p Path<'p>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer
            .deserialize_any(self)
            .inspect_err(|_| self.scan.malformed(|| self.path.render()))
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    /// A string with an escape, unescaped by `serde_json`.
    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        match detectors::detect(text) {
            None => Ok(()),
            Some(detector) => Err(self.scan.hit(self.path.violation(detector))),
        }
    }

    /// A string without an escape, borrowed from the input.
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<(), E> {
        self.visit_str(text)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let path = Path::Index {
                parent: self.path,
                index,
            };
            let item = ValueSeed {
                scan: self.scan,
                path: &path,
            };
            match items.next_element_seed(item) {
                Ok(Some(())) => index += 1,
                Ok(None) => return Ok(()),
                Err(error) => {
                    self.scan.malformed(|| self.path.render());
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let scan = self.scan;
        let mut position = 0;
        loop {
            let path = Path::Key {
                parent: self.path,
                position,
            };
            let key = KeySeed {
                scan,
                member: &path,
            };
            match members.next_key_seed(key) {
                Ok(Some(())) => {}
                Ok(None) => return Ok(()),
                Err(error) => {
                    scan.malformed(|| self.path.render());
                    return Err(error);
                }
            }
            let value = members.next_value_seed(ValueSeed { scan, path: &path });
            if let Err(error) = value {
                scan.malformed(|| self.path.render());
                return Err(error);
            }
            position += 1;
        }
    }
}

/// Scans the key of the member at `member`.
#[derive(Clone, Copy)]
struct KeySeed<'s, 'p> {
    scan: &'s Scan,
    member: &'p Path<'p>,
}

impl KeySeed<'_, '_> {
    /// The place reported for a key: the member's path and ` (key)`.
    fn place(self) -> String {
        key_path(&self.member.render())
    }

    fn detect<E: de::Error>(self, key: &str) -> Result<(), E> {
        match detectors::detect(key) {
            None => Ok(()),
            Some(detector) => Err(self.scan.hit(Violation {
                path: self.place(),
                detector,
            })),
        }
    }
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer
            .deserialize_any(self)
            .inspect_err(|_| self.scan.malformed(|| self.place()))
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    /// A key with an escape, unescaped by `serde_json`.
    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        self.detect(key)
    }

    /// A key without an escape, borrowed from the input.
    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<(), E> {
        self.detect(key)
    }
}
