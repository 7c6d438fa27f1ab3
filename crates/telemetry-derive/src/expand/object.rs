//! `#[derive(TelemetrySafe)]` for a struct: `TelemetrySafe`, `TelemetryValue`
//! (so that the struct nests as an object) and, for an event, `TelemetryEvent`.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, WherePredicate};

use crate::ast::{Field, Struct};
use crate::attr::{Aggregate, Conversion, HashScope};
use crate::ty;

pub(super) fn expand(input: &Struct<'_>, krate: &TokenStream) -> TokenStream {
    let ident = &input.original.ident;
    let type_name = ident.to_string();
    let doc = &input.doc;

    let generics = bounded_generics(input, krate);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let event = input.attrs.event.as_ref().map_or_else(
        || quote!(::core::option::Option::None),
        |name| quote!(::core::option::Option::Some(#name)),
    );
    let field_schemas = input.fields.iter().map(|field| field_schema(field, krate));
    let writes: Vec<TokenStream> = input
        .fields
        .iter()
        .filter_map(|field| write_field(field, krate))
        .collect();
    let len = writes.len();
    // Forbidden fields are never sent, but they are part of the struct: touch
    // them so the derive reads every field, as serde's does, and an app does
    // not get dead-code warnings for fields it keeps on purpose.
    let touched = input
        .fields
        .iter()
        .filter(|field| field.attrs.conversion == Conversion::Forbidden)
        .map(|field| {
            let member = field.ident;
            quote!(let _ = &self.#member;)
        });
    let event_impl = input.attrs.event.as_ref().map(|name| {
        quote! {
            #[automatically_derived]
            #[diagnostic::do_not_recommend]
            impl #impl_generics #krate::TelemetryEvent for #ident #ty_generics #where_clause {
                const EVENT: &'static str = #name;
            }
        }
    });

    // Kept out of "the following other types implement trait" lists, which
    // would otherwise name every derived type; only for impls without where
    // clauses, so a generic wrapper still explains which field type fails.
    let hidden = input
        .original
        .generics
        .type_params()
        .next()
        .is_none()
        .then(|| quote!(#[diagnostic::do_not_recommend]));

    // Only a concrete type has one schema to register.
    let register = input
        .original
        .generics
        .params
        .is_empty()
        .then(|| quote!(#krate::__private::register!(#ident);));

    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::TelemetrySafe for #ident #ty_generics #where_clause {
            const SCHEMA: &'static #krate::Schema = &#krate::__private::Schema::new(
                #type_name,
                #event,
                #doc,
                &[#(#field_schemas),*],
            );

            fn serialize_filtered<__S: #krate::__private::serde::Serializer>(
                &self,
                __anonymizer: &#krate::Anonymizer,
                __serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                let mut __state = #krate::__private::serde::Serializer::serialize_struct(
                    __serializer,
                    #type_name,
                    #len,
                )?;
                #(#touched)*
                #(#writes)*
                #krate::__private::serde::ser::SerializeStruct::end(__state)
            }
        }

        #[automatically_derived]
        #hidden
        impl #impl_generics #krate::TelemetryValue for #ident #ty_generics #where_clause {
            const SHAPE: #krate::__private::Shape =
                #krate::__private::Shape::Object(<Self as #krate::TelemetrySafe>::SCHEMA);

            fn serialize_value<__S: #krate::__private::serde::Serializer>(
                &self,
                __anonymizer: &#krate::Anonymizer,
                __serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                #krate::TelemetrySafe::serialize_filtered(self, __anonymizer, __serializer)
            }
        }

        #event_impl

        #register
    }
}

/// The struct's generics, plus a bound per field whose type mentions a type
/// parameter: the trait its conversion needs (`T: TelemetryValue`).
fn bounded_generics(input: &Struct<'_>, krate: &TokenStream) -> syn::Generics {
    let mut generics = input.original.generics.clone();
    let params: Vec<&Ident> = input
        .original
        .generics
        .type_params()
        .map(|param| &param.ident)
        .collect();
    let bounds: Vec<WherePredicate> = input
        .fields
        .iter()
        .filter(|field| ty::mentions(&field.original.ty, &params))
        .filter_map(|field| {
            let ty = &field.original.ty;
            let bound = field.attrs.conversion.bound(krate)?;
            Some(syn::parse_quote!(#ty: #bound))
        })
        .collect();
    generics.make_where_clause().predicates.extend(bounds);
    generics
}

impl Conversion {
    /// The trait a field type needs for this conversion.
    fn bound(self, krate: &TokenStream) -> Option<TokenStream> {
        Some(match self {
            Self::PassThrough => quote!(#krate::TelemetryValue),
            Self::Forbidden => return None,
            Self::Boolean => quote!(#krate::convert::Presence),
            Self::Count => quote!(#krate::convert::Countable),
            Self::TextCount => quote!(#krate::convert::TextLength),
            Self::Hash(_) => quote!(#krate::convert::HashInput),
            Self::Distribution => quote!(#krate::convert::LabelCounts),
            Self::Aggregate(_) => quote!(#krate::convert::Numbers),
        })
    }

    /// The same conversion as core's `schema::Conversion`, recorded in the
    /// schema.
    fn schema_value(self, krate: &TokenStream) -> TokenStream {
        let schema = quote!(#krate::__private::Conversion);
        match self {
            Self::PassThrough => quote!(#schema::PassThrough),
            Self::Forbidden => quote!(#schema::Forbidden),
            Self::Boolean => quote!(#schema::Boolean),
            Self::Count => quote!(#schema::Count),
            Self::TextCount => quote!(#schema::TextCount),
            Self::Hash(scope) => {
                let scope = scope.tokens(krate);
                quote!(#schema::Hash(#scope))
            }
            Self::Distribution => quote!(#schema::Distribution),
            Self::Aggregate(kind) => {
                let kind = kind.tokens(krate);
                quote!(#schema::Aggregate(#kind))
            }
        }
    }
}

impl HashScope {
    fn tokens(self, krate: &TokenStream) -> TokenStream {
        match self {
            Self::Installation => quote!(#krate::HashScope::Installation),
            Self::App => quote!(#krate::HashScope::App),
        }
    }
}

impl Aggregate {
    fn tokens(self, krate: &TokenStream) -> TokenStream {
        let aggregate = quote!(#krate::__private::Aggregate);
        match self {
            Self::Sum => quote!(#aggregate::Sum),
            Self::Mean => quote!(#aggregate::Mean),
            Self::Min => quote!(#aggregate::Min),
            Self::Max => quote!(#aggregate::Max),
        }
    }
}

fn field_schema(field: &Field<'_>, krate: &TokenStream) -> TokenStream {
    let key = field.key();
    let ident = field.ident.to_string();
    let rust_type = ty::display(&field.original.ty);
    let conversion = field.attrs.conversion.schema_value(krate);
    let doc = &field.doc;
    let ty = &field.original.ty;
    let shape = if field.attrs.conversion == Conversion::PassThrough {
        let span = ty.span();
        let krate = respan(krate, span);
        quote_spanned!(span=> #krate::__private::shape::<#ty>())
    } else {
        quote!(#krate::__private::Shape::Scalar)
    };
    quote! {
        #krate::__private::FieldSchema::new(#key, #ident, #rust_type, #conversion, #doc, #shape)
    }
}

/// The statement that writes one field, or none for a forbidden field, which
/// is never sent. Every token sits on the field's type and `self.field` ends
/// on its last token, so a missing trait is reported once, with the caret
/// under the whole type, and the trait's own message.
fn write_field(field: &Field<'_>, krate: &TokenStream) -> Option<TokenStream> {
    let ty = &field.original.ty;
    let tokens: Vec<TokenTree> = ty.to_token_stream().into_iter().collect();
    let span = tokens.first().map_or_else(Span::call_site, TokenTree::span);
    let mut member = field.ident.clone();
    member.set_span(tokens.last().map_or(span, TokenTree::span));
    let key = field.key();
    let krate = respan(krate, span);
    let private = quote_spanned!(span=> #krate::__private);
    let value = quote_spanned!(span=> &self.#member);
    Some(match field.attrs.conversion {
        Conversion::Forbidden => return None,
        Conversion::PassThrough => quote_spanned! {span=>
            let _ = #private::shape::<#ty>();
            #private::pass(&mut __state, #key, #value, __anonymizer)?;
        },
        Conversion::Hash(scope) => {
            let scope = scope.tokens(&krate);
            quote_spanned!(span=> #private::hash(&mut __state, #key, #value, __anonymizer, #scope)?;)
        }
        Conversion::Boolean => {
            quote_spanned!(span=> #private::boolean(&mut __state, #key, #value)?;)
        }
        Conversion::Count => quote_spanned!(span=> #private::count(&mut __state, #key, #value)?;),
        Conversion::TextCount => {
            quote_spanned!(span=> #private::text_count(&mut __state, #key, #value)?;)
        }
        Conversion::Distribution => {
            quote_spanned!(span=> #private::distribution(&mut __state, #key, #value)?;)
        }
        Conversion::Aggregate(kind) => {
            let kind = kind.tokens(&krate);
            quote_spanned!(span=> #private::aggregate(&mut __state, #key, #value, #kind)?;)
        }
    })
}

/// `tokens` with every span, nested ones included, set to `span`.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(&group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            }
            token.set_span(span);
            token
        })
        .collect()
}
