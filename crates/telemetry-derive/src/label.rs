//! `#[derive(TelemetryValue)]` for unit-only enums: each variant is a label.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::attr::{self, LabelContainer};
use crate::ctxt::Ctxt;
use crate::expand::crate_path;
use crate::fallback;

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let container = LabelContainer::from_attrs(&cx, &input.attrs);
    let mut labels: Vec<(&syn::Ident, String)> = Vec::new();
    match &input.data {
        Data::Enum(data) => {
            for variant in &data.variants {
                if !matches!(variant.fields, Fields::Unit) {
                    cx.error_spanned_by(
                        &variant.fields,
                        format!(
                            "TelemetryValue can only be derived for enums whose variants carry no data; \
                             `{}` does",
                            variant.ident
                        ),
                    );
                    continue;
                }
                let rename = attr::variant_rename(&cx, &variant.attrs);
                let name = variant.ident.to_string();
                let label = rename.unwrap_or_else(|| {
                    container
                        .rename_all
                        .map_or_else(|| name.clone(), |rule| rule.apply(&name))
                });
                if let Some((first, _)) = labels.iter().find(|(_, existing)| *existing == label) {
                    cx.error_spanned_by(
                        &variant.ident,
                        format!(
                            "variant `{}` has label `{label}`, like variant `{first}`",
                            variant.ident
                        ),
                    );
                }
                labels.push((&variant.ident, label));
            }
        }
        Data::Struct(data) => cx.error_spanned_by(
            data.struct_token,
            "TelemetryValue is derived for unit-only enums; for a struct, derive TelemetrySafe",
        ),
        Data::Union(data) => cx.error_spanned_by(
            data.union_token,
            "TelemetryValue is derived for unit-only enums, not unions",
        ),
    }
    let krate = crate_path(container.krate.as_ref());
    if let Err(errors) = cx.check() {
        return fallback::telemetry_value(input, &krate, &errors);
    }

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let arms = labels
        .iter()
        .map(|(variant, label)| quote!(Self::#variant => #label));
    let names = labels.iter().map(|(_, label)| label);
    quote! {
        #[automatically_derived]
        #[diagnostic::do_not_recommend]
        impl #impl_generics #krate::Label for #ident #ty_generics #where_clause {
            fn label(&self) -> &str {
                match *self {
                    #(#arms,)*
                }
            }
        }

        #[automatically_derived]
        #[diagnostic::do_not_recommend]
        impl #impl_generics #krate::TelemetryValue for #ident #ty_generics #where_clause {
            const SHAPE: #krate::__private::Shape = #krate::__private::Shape::Label(&[#(#names),*]);

            fn serialize_value<__S: #krate::__private::serde::Serializer>(
                &self,
                _: &#krate::Anonymizer,
                __serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                __serializer.serialize_str(#krate::Label::label(self))
            }
        }
    }
}
