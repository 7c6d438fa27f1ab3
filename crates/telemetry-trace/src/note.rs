//! Signed checkpoints of the trace log, in the C2SP formats that
//! transparency logs share, so that any of their tools can read ours:
//!
//! - a **checkpoint** (c2sp.org/tlog-checkpoint) is the text
//!   `"{origin}\n{size}\n{base64 root}\n"`;
//! - a **signed note** (c2sp.org/signed-note) is that text, a blank line,
//!   and one line per signature: `— {key name} {base64(key id ‖ signature)}`,
//!   with an em dash (U+2014). The key id is the first 4 bytes, big-endian,
//!   of `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ Ed25519 public key)`, and the
//!   signature is Ed25519 (RFC 8032) over the text's bytes.
//!
//! Keys are written as Go's `golang.org/x/mod/sumdb/note` writes them: a
//! verifier key `name+<8 hex key id>+<base64(0x01 ‖ public key)>`, a
//! private key `PRIVATE+KEY+name+<8 hex key id>+<base64(0x01 ‖ seed)>`.
//!
//! Decisions: a checkpoint with extension lines after the root is refused
//! (this log writes none, and [`Checkpoint`] could not keep them); a note
//! with more than [`MAX_SIGNATURES`] signature lines is refused; a signature
//! by the trusted key (same name *and* key id) that does not verify rejects
//! the note, while signatures by other keys are ignored, as the spec says.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The most signature lines a note may have (the spec asks verifiers to
/// accept at least 16; Go's verifier accepts 100).
pub const MAX_SIGNATURES: usize = 100;

/// The signature type byte of Ed25519 in C2SP signed notes.
const ED25519: u8 = 0x01;

const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Why a key, a note or a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty or holds a space or `+`.
    #[error("a key name must be non-empty, with no spaces and no `+`")]
    InvalidKeyName,
    /// A verifier or private key string is not well-formed.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// The note is not a well-formed signed note.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// No signature line is by the trusted key (same name and key id).
    #[error("the note has no signature by the key `{key}`")]
    NoSignature {
        /// The trusted key's name and id: `name+1a2b3c4d`.
        key: String,
    },
    /// A signature line by the trusted key does not verify: the note was
    /// changed after it was signed, or forged.
    #[error("the signature by the key `{key}` does not verify")]
    BadSignature {
        /// The trusted key's name and id: `name+1a2b3c4d`.
        key: String,
    },
    /// The note verified but its text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
}

/// A tree head of the log: its origin (the log's name), its size and its
/// root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name, a schema-less URL (`collector.example/traces`).
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The root hash of the tree of `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint's text: `"{origin}\n{size}\n{base64 root}\n"`.
    #[must_use]
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Reads a checkpoint's text (the body of a signed note).
    ///
    /// ```
    /// use telemetry_trace::Checkpoint;
    ///
    /// let body = "example.com/log\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    /// let checkpoint = Checkpoint::parse(body)?;
    /// assert_eq!((checkpoint.origin.as_str(), checkpoint.size), ("example.com/log", 5));
    /// assert_eq!(checkpoint.body(), body);
    /// # Ok::<(), telemetry_trace::NoteError>(())
    /// ```
    pub fn parse(body: &str) -> Result<Self, NoteError> {
        let malformed = NoteError::MalformedCheckpoint;
        let text = body
            .strip_suffix('\n')
            .ok_or(malformed("it must end with a newline"))?;
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("it must have an origin, a size and a root line"));
        };
        if lines.next().is_some() {
            return Err(malformed("extension lines after the root are not accepted"));
        }
        check_origin(origin).map_err(malformed)?;
        let canonical_number =
            size == "0" || (!size.starts_with('0') && size.bytes().all(|b| b.is_ascii_digit()));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical_number)
            .ok_or(malformed(
                "the size must be a decimal number with no sign or leading zero",
            ))?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or(malformed("the root must be 32 bytes in standard base64"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

fn check_origin(origin: &str) -> Result<(), &'static str> {
    if origin.is_empty() {
        return Err("the origin must not be empty");
    }
    if origin.chars().any(char::is_control) {
        return Err("the origin must not hold control characters");
    }
    Ok(())
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::InvalidKeyName);
    }
    Ok(())
}

/// `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[..4]`, big-endian.
fn key_id(name: &str, public_key: &VerifyingKey) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519]);
    hasher.update(public_key.as_bytes());
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Splits `name+<8 hex>+<base64(0x01 ‖ 32 bytes)>` into its name, key id
/// and 32 key bytes.
fn split_key(text: &str) -> Result<(&str, u32, [u8; 32]), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey(
            "expected `name+<key id>+<base64 key>`",
        ));
    };
    check_key_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("the key id must be 8 hex digits"));
    }
    let id = u32::from_str_radix(id, 16)
        .map_err(|_| NoteError::MalformedKey("the key id must be 8 hex digits"))?;
    let bytes = BASE64
        .decode(key)
        .map_err(|_| NoteError::MalformedKey("the key is not standard base64"))?;
    match bytes.split_first() {
        Some((&ED25519, key)) => {
            let key = <[u8; 32]>::try_from(key)
                .map_err(|_| NoteError::MalformedKey("an Ed25519 key is 32 bytes"))?;
            Ok((name, id, key))
        }
        _ => Err(NoteError::MalformedKey(
            "the key's type byte must be 0x01 (Ed25519)",
        )),
    }
}

/// The log's signing key: an Ed25519 key and the name it signs under.
///
/// Its `Debug` shows the name and key id, never the seed.
#[derive(Clone)]
pub struct LogSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// The signer named `name` whose Ed25519 key comes from `seed` (the 32
    /// bytes RFC 8032 calls the private key). The caller draws the seed
    /// (this crate holds no random number generator) and keeps it secret.
    ///
    /// Refused when the name is empty or holds a space or `+`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, &key.verifying_key()),
            key,
        })
    }

    /// Reads a private key written by [`private_key`](Self::private_key)
    /// (or by Go's `note.GenerateKey`).
    pub fn parse(private_key: &str) -> Result<Self, NoteError> {
        let rest = private_key
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(NoteError::MalformedKey(
                "a private key starts with `PRIVATE+KEY+`",
            ))?;
        let (name, id, seed) = split_key(rest)?;
        let signer = Self::from_seed(name, seed)?;
        if signer.id != id {
            return Err(NoteError::MalformedKey("the key id does not match the key"));
        }
        Ok(signer)
    }

    /// The key's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (see the [module](crate::note)).
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The public key, as a [`VerifierKey`].
    #[must_use]
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The verifier key to publish: `name+<key id>+<base64(0x01 ‖ public key)>`.
    #[must_use]
    pub fn verifier_key(&self) -> String {
        self.verifier().to_string()
    }

    /// The private key to store: `PRIVATE+KEY+name+<key id>+<base64(0x01 ‖ seed)>`.
    #[must_use]
    pub fn private_key(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ED25519);
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64.encode(bytes)
        )
    }

    /// Signs any note text: it must end with a newline and hold no control
    /// character other than newlines. Returns the signed note.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::MalformedNote("the text must end with a newline"));
        }
        check_note_characters(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + 64);
        blob.extend_from_slice(&self.id.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!("{text}\n— {} {}\n", self.name, BASE64.encode(blob)))
    }

    /// Signs a checkpoint: its [body](Checkpoint::body), a blank line and
    /// the signature line. Refused when the origin is empty or holds a
    /// control character (a newline would change the checkpoint's lines).
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, NoteError> {
        check_origin(&checkpoint.origin).map_err(NoteError::MalformedCheckpoint)?;
        self.sign_note(&checkpoint.body())
    }
}

fn check_note_characters(text: &str) -> Result<(), NoteError> {
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::MalformedNote(
            "it holds a control character other than newline",
        ));
    }
    Ok(())
}

/// A log's public key: what a verifier trusts, given out of band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl fmt::Display for VerifierKey {
    /// `name+<key id>+<base64(0x01 ‖ public key)>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ED25519);
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, BASE64.encode(bytes))
    }
}

impl VerifierKey {
    /// Reads a verifier key: `name+<8 hex key id>+<base64(0x01 ‖ public key)>`.
    /// The key id must be the key's (see the [module](crate::note)).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = split_key(text.trim_end())?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        if key_id(name, &key) != id {
            return Err(NoteError::MalformedKey("the key id does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// Checks a signed note against this key and returns its text (which
    /// ends with a newline). Signatures by other keys are ignored; one by
    /// this key must be there, and every one by this key must verify.
    pub fn verify_note<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        check_note_characters(note)?;
        let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote(
            "no blank line before the signatures",
        ))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let signatures = signatures
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedNote(
                "the signatures must end with a newline",
            ))?;
        let mut verified = false;
        for (count, line) in signatures.split('\n').enumerate() {
            if count == MAX_SIGNATURES {
                return Err(NoteError::MalformedNote("too many signatures"));
            }
            let (name, blob) = line
                .strip_prefix("— ")
                .and_then(|line| line.split_once(' '))
                .ok_or(NoteError::MalformedNote(
                    "a signature line is `— <key name> <base64 signature>`",
                ))?;
            let blob = BASE64
                .decode(blob)
                .map_err(|_| NoteError::MalformedNote("a signature is not standard base64"))?;
            let Some((id, signature)) = blob.split_first_chunk::<4>() else {
                return Err(NoteError::MalformedNote(
                    "a signature is shorter than its key id",
                ));
            };
            if name != self.name || u32::from_be_bytes(*id) != self.id {
                continue;
            }
            let bad = || NoteError::BadSignature { key: self.label() };
            let signature = <[u8; 64]>::try_from(signature).map_err(|_| bad())?;
            self.key
                .verify_strict(text.as_bytes(), &Signature::from_bytes(&signature))
                .map_err(|_| bad())?;
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(NoteError::NoSignature { key: self.label() })
        }
    }

    /// Checks a signed checkpoint against this key and reads it.
    ///
    /// ```
    /// use telemetry_trace::{Checkpoint, LogSigner, NoteError};
    ///
    /// let signer = LogSigner::from_seed("collector.example/traces", [7; 32])?;
    /// let checkpoint = Checkpoint { origin: "collector.example/traces".into(), size: 3, root: [1; 32] };
    /// let note = signer.sign_checkpoint(&checkpoint)?;
    /// assert_eq!(signer.verifier().open(&note)?, checkpoint);
    ///
    /// let forged = note.replacen("\n3\n", "\n4\n", 1);
    /// assert!(matches!(signer.verifier().open(&forged), Err(NoteError::BadSignature { .. })));
    /// # Ok::<(), NoteError>(())
    /// ```
    pub fn open(&self, note: &str) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse(self.verify_note(note)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The key and note of Go's golang.org/x/mod/sumdb/note tests, which
    // C2SP's signed-note spec follows.
    const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_PRIVATE: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n\
                           \n\
                           — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn signer() -> LogSigner {
        LogSigner::from_seed("collector.example/traces", [42; 32]).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "collector.example/traces".into(),
            size: 70,
            root: [9; 32],
        }
    }

    #[test]
    fn the_go_test_vector_is_reproduced_byte_for_byte() {
        let signer = LogSigner::parse(GO_PRIVATE).unwrap();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(signer.key_id(), 0xc74f_20a3);
        assert_eq!(signer.verifier_key(), GO_VERIFIER);
        assert_eq!(signer.private_key(), GO_PRIVATE);
        assert_eq!(signer.sign_note(GO_TEXT).unwrap(), GO_NOTE);
        let verifier = VerifierKey::parse(GO_VERIFIER).unwrap();
        assert_eq!(verifier.verify_note(GO_NOTE).unwrap(), GO_TEXT);
        assert_eq!(verifier.to_string(), GO_VERIFIER);
        let changed = GO_NOTE.replace("cryptography", "cryptographY");
        assert_eq!(
            verifier.verify_note(&changed),
            Err(NoteError::BadSignature {
                key: "PeterNeumann+c74f20a3".into()
            })
        );
    }

    #[test]
    fn mangled_keys_are_refused() {
        for bad in [
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            "PeterNeumann+c74f20a3",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad}");
        }
        assert!(LogSigner::parse(GO_VERIFIER).is_err());
        assert!(LogSigner::parse(&GO_PRIVATE.replace("c74f20a3", "c74f20a4")).is_err());
        assert_eq!(
            LogSigner::from_seed("a+b", [0; 32]).unwrap_err(),
            NoteError::InvalidKeyName
        );
    }

    #[test]
    fn a_checkpoint_round_trips_through_a_signed_note() {
        let signer = signer();
        let note = signer.sign_checkpoint(&checkpoint()).unwrap();
        assert!(note.starts_with(&checkpoint().body()));
        assert!(note.contains("\n\n— collector.example/traces "));
        let verifier = VerifierKey::parse(&signer.verifier_key()).unwrap();
        assert_eq!(verifier.open(&note).unwrap(), checkpoint());
        let again = LogSigner::parse(&signer.private_key()).unwrap();
        assert_eq!(again.sign_checkpoint(&checkpoint()).unwrap(), note);
    }

    #[test]
    fn a_changed_origin_size_or_root_fails() {
        let signer = signer();
        let note = signer.sign_checkpoint(&checkpoint()).unwrap();
        let root = BASE64.encode([9_u8; 32]);
        let other_root = BASE64.encode([8_u8; 32]);
        for forged in [
            note.replacen("\n70\n", "\n71\n", 1),
            note.replacen(&root, &other_root, 1),
            note.replacen("collector.example/traces\n", "collector.example/other\n", 1),
        ] {
            assert_ne!(forged, note);
            assert_eq!(
                signer.verifier().open(&forged),
                Err(NoteError::BadSignature {
                    key: signer.verifier().label()
                })
            );
        }
    }

    #[test]
    fn a_signature_by_another_key_is_not_enough() {
        let impostor = LogSigner::from_seed("collector.example/traces", [43; 32]).unwrap();
        let note = impostor.sign_checkpoint(&checkpoint()).unwrap();
        assert!(matches!(
            signer().verifier().open(&note),
            Err(NoteError::NoSignature { .. })
        ));
        // The impostor's signature beside the real one is ignored.
        let real = signer().sign_checkpoint(&checkpoint()).unwrap();
        let impostor_line = note.rsplit_once("\n\n").unwrap().1;
        let both = format!("{real}{impostor_line}");
        assert_eq!(signer().verifier().open(&both).unwrap(), checkpoint());
    }

    #[test]
    fn malformed_notes_and_checkpoints_are_named() {
        let verifier = signer().verifier();
        for (note, want) in [
            (
                "no blank line\n— x AAAA\n",
                "no blank line before the signatures",
            ),
            ("text\n\n— x AAAA", "the signatures must end with a newline"),
            (
                "text\n\nx AAAAAAAA\n",
                "a signature line is `— <key name> <base64 signature>`",
            ),
            ("text\n\n— x !!!\n", "a signature is not standard base64"),
            (
                "text\n\n— x AAA=\n",
                "a signature is shorter than its key id",
            ),
            (
                "te\tx\n\n— x AAAAAAAA\n",
                "it holds a control character other than newline",
            ),
        ] {
            assert_eq!(
                verifier.verify_note(note),
                Err(NoteError::MalformedNote(want)),
                "{note:?}"
            );
        }
        let signer = signer();
        for (body, want) in [
            ("o\n1\n", "it must have an origin, a size and a root line"),
            (
                "o\n01\nAA==\n",
                "the size must be a decimal number with no sign or leading zero",
            ),
            (
                "o\n+1\nAA==\n",
                "the size must be a decimal number with no sign or leading zero",
            ),
            (
                "o\n1\nAA==\n",
                "the root must be 32 bytes in standard base64",
            ),
            (
                "o\n1\nAA==\next\n",
                "extension lines after the root are not accepted",
            ),
            ("\n1\nAA==\n", "the origin must not be empty"),
        ] {
            let note = signer.sign_note(body).unwrap();
            assert_eq!(
                signer.verifier().open(&note),
                Err(NoteError::MalformedCheckpoint(want)),
                "{body:?}"
            );
        }
        let bad_origin = Checkpoint {
            origin: "a\nb".into(),
            ..checkpoint()
        };
        assert!(signer.sign_checkpoint(&bad_origin).is_err());
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let signer = signer();
        assert_eq!(
            format!("{signer:?}"),
            format!(
                "LogSigner {{ name: \"collector.example/traces\", key_id: {:08x}, .. }}",
                signer.key_id()
            )
        );
    }
}
