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

pub(crate) fn derive(input: &DeriveInput, derive: Derive) -> TokenStream {
    let cx = Ctxt::new();
    let input = Input::from_ast(&cx, input, derive);
    let krate = crate_path(input.krate());
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

/// The path of `telemetry_core` in generated code.
fn crate_path(krate: Option<&syn::Path>) -> TokenStream {
    krate.map_or_else(|| quote!(::telemetry_core), |path| quote!(#path))
}
