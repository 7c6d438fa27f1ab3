//! When expansion fails: the errors, plus stub impls so the rest of the user's
//! code still type-checks and the real mistakes are not buried.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::ast::Input;

pub(crate) fn expand(input: &Input<'_>, krate: &TokenStream, errors: &syn::Error) -> TokenStream {
    match input {
        Input::Struct(input) => telemetry_safe(input.original, krate, errors),
        Input::Enum(input) => telemetry_value(input.original, krate, errors),
    }
}

fn telemetry_safe(input: &DeriveInput, krate: &TokenStream, errors: &syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let ident = &input.ident;
    let name = ident.to_string();
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors

        #[automatically_derived]
        impl #impl_generics #krate::TelemetrySafe for #ident #ty_generics #where_clause {
            const SCHEMA: &'static #krate::Schema =
                &#krate::__private::Schema::new(#name, ::core::option::Option::None, "", &[]);

            fn serialize_filtered<__S: #krate::__private::serde::Serializer>(
                &self,
                _: &#krate::Anonymizer,
                _: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::TelemetryValue for #ident #ty_generics #where_clause {
            fn serialize_value<__S: #krate::__private::serde::Serializer>(
                &self,
                _: &#krate::Anonymizer,
                _: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::TelemetryEvent for #ident #ty_generics #where_clause {
            const EVENT: &'static str = "";
        }
    }
}

fn telemetry_value(input: &DeriveInput, krate: &TokenStream, errors: &syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors

        #[automatically_derived]
        impl #impl_generics #krate::TelemetryValue for #ident #ty_generics #where_clause {
            fn serialize_value<__S: #krate::__private::serde::Serializer>(
                &self,
                _: &#krate::Anonymizer,
                _: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::Label for #ident #ty_generics #where_clause {
            fn label(&self) -> &str {
                ::core::unreachable!()
            }
        }
    }
}
