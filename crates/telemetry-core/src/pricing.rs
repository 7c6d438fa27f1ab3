//! What tokens cost, for the savings that baselines and sessions report.

/// The price of tokens in US dollars, blended from input and output prices.
///
/// The default is 0.0054 USD per 1000 tokens: 80% input at 0.003 and 20%
/// output at 0.015 per 1000.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    /// US dollars per 1000 input tokens.
    pub input_usd_per_1000: f64,
    /// US dollars per 1000 output tokens.
    pub output_usd_per_1000: f64,
    /// Share of tokens billed as input, 0 to 1; the rest is output.
    pub input_share: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            input_usd_per_1000: 0.003,
            output_usd_per_1000: 0.015,
            input_share: 0.8,
        }
    }
}

impl CostModel {
    /// One flat price for every token.
    #[must_use]
    pub fn flat(usd_per_1000: f64) -> Self {
        Self {
            input_usd_per_1000: usd_per_1000,
            output_usd_per_1000: usd_per_1000,
            input_share: 1.0,
        }
    }

    /// US dollars per 1000 tokens, input and output blended.
    #[must_use]
    pub fn usd_per_1000_tokens(&self) -> f64 {
        let input_share = self.input_share.clamp(0.0, 1.0);
        input_share * self.input_usd_per_1000 + (1.0 - input_share) * self.output_usd_per_1000
    }

    /// What `tokens` cost, in US dollars, rounded to a billionth of a
    /// dollar (so `0.0001242`, not `0.00012419999999999998`).
    #[must_use]
    pub fn cost_usd(&self, tokens: u64) -> f64 {
        #[allow(
            clippy::cast_precision_loss,
            reason = "token counts are far below 2^52"
        )]
        let tokens = tokens as f64;
        (tokens / 1000.0 * self.usd_per_1000_tokens() * 1e9).round() / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_carry_no_float_noise() {
        assert_eq!(CostModel::default().cost_usd(23).to_string(), "0.0001242");
        assert_eq!(CostModel::default().cost_usd(1_000_000).to_string(), "5.4");
    }

    #[test]
    fn default_blends_to_0_0054_per_1000() {
        assert!((CostModel::default().usd_per_1000_tokens() - 0.0054).abs() < 1e-12);
        assert!((CostModel::default().cost_usd(10_000) - 0.054).abs() < 1e-12);
    }

    #[test]
    fn flat_prices_every_token_alike() {
        assert!((CostModel::flat(0.01).cost_usd(500) - 0.005).abs() < 1e-12);
    }
}
