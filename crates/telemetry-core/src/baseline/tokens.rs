//! Token rates: how many tokens and lines a file of some bytes holds, by
//! language.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

/// Tokens per 1000 bytes for a language that [`TokenModel::default`] does not
/// list.
pub const DEFAULT_TOKENS_PER_1000_BYTES: u32 = 220;

/// Bytes per line, for estimating lines when they are not counted.
pub const DEFAULT_BYTES_PER_LINE: u32 = 50;

/// The rates [`TokenModel::default`] starts with, in tokens per 1000 bytes.
pub const BUILT_IN_TOKENS_PER_1000_BYTES: &[(&str, u32)] = &[
    ("python", 250),
    ("typescript", 220),
    ("javascript", 220),
    ("rust", 200),
    ("go", 200),
    ("java", 200),
    ("c", 200),
    ("cpp", 200),
    ("csharp", 210),
    ("markdown", 300),
    ("text", 300),
    ("json", 180),
    ("yaml", 200),
    ("toml", 200),
];

/// How many tokens and lines a file of some bytes holds, by language.
///
/// Starts from [`BUILT_IN_TOKENS_PER_1000_BYTES`],
/// [`DEFAULT_TOKENS_PER_1000_BYTES`] for other languages and
/// [`DEFAULT_BYTES_PER_LINE`]; each can be overridden. Language names are
/// compared case-insensitively (ASCII).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenModel {
    rates: BTreeMap<String, u32>,
    default_rate: u32,
    bytes_per_line: NonZeroU32,
}

impl Default for TokenModel {
    fn default() -> Self {
        Self {
            rates: BUILT_IN_TOKENS_PER_1000_BYTES
                .iter()
                .map(|&(language, rate)| (language.to_owned(), rate))
                .collect(),
            default_rate: DEFAULT_TOKENS_PER_1000_BYTES,
            bytes_per_line: NonZeroU32::new(DEFAULT_BYTES_PER_LINE).expect("50 is not zero"),
        }
    }
}

impl TokenModel {
    /// Sets the rate of `language`, in tokens per 1000 bytes, replacing the
    /// built-in one if any.
    #[must_use]
    pub fn with_rate(mut self, language: &str, tokens_per_1000_bytes: u32) -> Self {
        self.rates
            .insert(language.to_ascii_lowercase(), tokens_per_1000_bytes);
        self
    }

    /// Sets the rate of languages without a rate of their own.
    #[must_use]
    pub fn with_default_rate(mut self, tokens_per_1000_bytes: u32) -> Self {
        self.default_rate = tokens_per_1000_bytes;
        self
    }

    /// Sets how many bytes make a line, when lines are estimated.
    #[must_use]
    pub fn with_bytes_per_line(mut self, bytes_per_line: NonZeroU32) -> Self {
        self.bytes_per_line = bytes_per_line;
        self
    }

    /// Tokens per 1000 bytes of `language`: its own rate, or the default one.
    #[must_use]
    pub fn tokens_per_1000_bytes(&self, language: &str) -> u32 {
        self.rate(Some(language))
    }

    /// Tokens per 1000 bytes of languages without a rate of their own.
    #[must_use]
    pub fn default_rate(&self) -> u32 {
        self.default_rate
    }

    /// Bytes per line, when lines are estimated.
    #[must_use]
    pub fn bytes_per_line(&self) -> NonZeroU32 {
        self.bytes_per_line
    }

    /// Every language with its own rate, sorted by name.
    pub fn rates(&self) -> impl Iterator<Item = (&str, u32)> {
        self.rates
            .iter()
            .map(|(language, rate)| (language.as_str(), *rate))
    }

    /// Tokens in `bytes` bytes of `language`, rounded to the nearest token
    /// (half up).
    #[must_use]
    pub fn estimate_tokens(&self, language: &str, bytes: u64) -> u64 {
        self.tokens(Some(language), bytes)
    }

    /// Lines in `bytes` bytes: bytes divided by [`bytes_per_line`](Self::bytes_per_line),
    /// rounded up, so that a file that is not empty has at least one line.
    #[must_use]
    pub fn estimate_lines(&self, bytes: u64) -> u64 {
        bytes.div_ceil(u64::from(self.bytes_per_line.get()))
    }

    fn rate(&self, language: Option<&str>) -> u32 {
        language
            .and_then(|language| match self.rates.get(language) {
                Some(rate) => Some(*rate),
                None => self.rates.get(&language.to_ascii_lowercase()).copied(),
            })
            .unwrap_or(self.default_rate)
    }

    /// Tokens in `bytes` bytes of `language`, or of a language without a
    /// rate of its own when `None`.
    pub(super) fn tokens(&self, language: Option<&str>, bytes: u64) -> u64 {
        let tokens = (u128::from(bytes) * u128::from(self.rate(language)) + 500) / 1000;
        u64::try_from(tokens).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rates_per_language() {
        let model = TokenModel::default();
        let expected = [
            ("python", 250),
            ("typescript", 220),
            ("javascript", 220),
            ("rust", 200),
            ("go", 200),
            ("java", 200),
            ("c", 200),
            ("cpp", 200),
            ("csharp", 210),
            ("markdown", 300),
            ("text", 300),
            ("json", 180),
            ("yaml", 200),
            ("toml", 200),
            ("haskell", 220),
            ("", 220),
        ];
        for (language, rate) in expected {
            assert_eq!(model.tokens_per_1000_bytes(language), rate, "{language}");
            assert_eq!(
                model.estimate_tokens(language, 10_000),
                u64::from(rate) * 10,
                "{language}"
            );
        }
        assert_eq!(model.tokens_per_1000_bytes("Python"), 250);
        assert_eq!(model.rates().count(), 14);
    }

    #[test]
    fn tokens_round_to_nearest_and_lines_round_up() {
        let model = TokenModel::default();
        // 10 bytes of Python: 2.5 tokens, half up.
        assert_eq!(model.estimate_tokens("python", 10), 3);
        // 9 bytes of JSON: 1.62 tokens.
        assert_eq!(model.estimate_tokens("json", 9), 2);
        assert_eq!(model.estimate_tokens("rust", 2), 0);
        assert_eq!(model.estimate_tokens("rust", 0), 0);
        assert_eq!(model.estimate_tokens("rust", u64::MAX), u64::MAX / 5);

        assert_eq!(model.estimate_lines(0), 0);
        assert_eq!(model.estimate_lines(1), 1);
        assert_eq!(model.estimate_lines(50), 1);
        assert_eq!(model.estimate_lines(51), 2);
        assert_eq!(model.estimate_lines(5_000), 100);
    }

    #[test]
    fn token_model_overrides() {
        let model = TokenModel::default()
            .with_rate("Rust", 300)
            .with_rate("haskell", 260)
            .with_default_rate(100)
            .with_bytes_per_line(NonZeroU32::new(40).unwrap());
        assert_eq!(model.tokens_per_1000_bytes("rust"), 300);
        assert_eq!(model.tokens_per_1000_bytes("haskell"), 260);
        assert_eq!(model.tokens_per_1000_bytes("python"), 250);
        assert_eq!(model.tokens_per_1000_bytes("cobol"), 100);
        assert_eq!(model.default_rate(), 100);
        assert_eq!(model.estimate_tokens("cobol", 1_000), 100);
        assert_eq!(model.estimate_lines(400), 10);
        assert_eq!(model.bytes_per_line().get(), 40);
    }
}
