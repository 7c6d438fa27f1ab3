//! `#[derive(TelemetryValue)]` for a unit-only enum: `Label` and
//! `TelemetryValue`, each variant sent as its label.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Enum;

pub(super) fn expand(input: &Enum<'_>, krate: &TokenStream) -> TokenStream {
    let original = input.original;
    let ident = &original.ident;
    let (impl_generics, ty_generics, where_clause) = original.generics.split_for_impl();
    let arms = input.variants.iter().map(|variant| {
        let (variant, label) = (&variant.original.ident, &variant.label);
        quote!(Self::#variant => #label)
    });
    let names = input.variants.iter().map(|variant| &variant.label);
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
