//! Emits the impls of a derive, or, when the input has mistakes, every
//! mistake beside stub impls.

mod label;
mod object;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::ast::{Derive, Input};
use crate::ctxt::Ctxt;
use crate::{check, fallback};

/// The crate that generated code names when the input does not name one
/// with `#[telemetry(crate = "...")]`.
#[derive(Clone, Copy)]
pub(crate) enum DefaultCrate {
    /// `::telemetry_core`, which re-exports `TelemetrySafe` and
    /// `TelemetryValue`.
    Core,
    /// `::telemetry_runtime`, a facade that re-exports core's items and the
    /// `...ViaRuntime` derives.
    Runtime,
}

pub(crate) fn derive(
    input: &DeriveInput,
    derive: Derive,
    default_crate: DefaultCrate,
) -> TokenStream {
    let cx = Ctxt::new();
    let input = Input::from_ast(&cx, input, derive);
    let krate = crate_path(input.krate(), default_crate);
    try_expand(cx, &input, &krate)
        .unwrap_or_else(|errors| fallback::expand(&input, &krate, &errors))
}

/// The impls, once the rules that span several fields or variants hold and
/// no mistake was found; otherwise every mistake, combined.
fn try_expand(cx: Ctxt, input: &Input<'_>, krate: &TokenStream) -> syn::Result<TokenStream> {
    check::check(&cx, input);
    cx.check()?;
    Ok(match input {
        Input::Struct(input) => object::expand(input, krate),
        Input::Enum(input) => label::expand(input, krate),
    })
}

/// The path of `telemetry_core` in generated code: the one the input names,
/// or the default of the entry point.
fn crate_path(krate: Option<&syn::Path>, default_crate: DefaultCrate) -> TokenStream {
    match (krate, default_crate) {
        (Some(path), _) => quote!(#path),
        (None, DefaultCrate::Core) => quote!(::telemetry_core),
        (None, DefaultCrate::Runtime) => quote!(::telemetry_runtime),
    }
}

#[cfg(test)]
mod tests {
    use syn::DeriveInput;

    use super::{DefaultCrate, derive};
    use crate::ast::Derive;

    /// Which of the three crate roots the expansion names.
    fn crates_named(source: &str, which: Derive, default_crate: DefaultCrate) -> Vec<String> {
        let input: DeriveInput = syn::parse_str(source).unwrap();
        let expanded = derive(&input, which, default_crate).to_string();
        let mut named: Vec<String> = Vec::new();
        for root in ["telemetry_core", "telemetry_runtime", "my_app"] {
            if expanded.contains(&format!("{root} ::")) {
                named.push(root.to_owned());
            }
        }
        named
    }

    const EVENT: &str = r#"#[telemetry(event = "search")] struct Search { #[telemetry(hash)] repository: String, results: u64 }"#;
    const LABEL: &str = "enum Period { Daily, Weekly }";

    #[test]
    fn each_entry_point_names_its_own_crate() {
        for (source, which) in [
            (EVENT, Derive::TelemetrySafe),
            (LABEL, Derive::TelemetryValue),
        ] {
            assert_eq!(
                crates_named(source, which, DefaultCrate::Core),
                ["telemetry_core"]
            );
            assert_eq!(
                crates_named(source, which, DefaultCrate::Runtime),
                ["telemetry_runtime"]
            );
        }
    }

    #[test]
    fn an_explicit_crate_path_wins_over_either_default() {
        let event =
            r#"#[telemetry(crate = "my_app", event = "search")] struct Search { results: u64 }"#;
        let label = r#"#[telemetry(crate = "my_app")] enum Period { Daily }"#;
        for default_crate in [DefaultCrate::Core, DefaultCrate::Runtime] {
            assert_eq!(
                crates_named(event, Derive::TelemetrySafe, default_crate),
                ["my_app"]
            );
            assert_eq!(
                crates_named(label, Derive::TelemetryValue, default_crate),
                ["my_app"]
            );
        }
    }

    #[test]
    fn the_stub_impls_of_a_failed_expansion_name_the_default_crate_too() {
        let tuple = "struct Latency(u64);";
        assert_eq!(
            crates_named(tuple, Derive::TelemetrySafe, DefaultCrate::Runtime),
            ["telemetry_runtime"]
        );
    }
}
