//! Looking at field types: printing them as written, and spotting the ones
//! that are personal by nature.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, Ident, PathArguments, Type};

/// Standard types that may identify a person or a machine.
const PERSONAL: [&str; 10] = [
    "Path", "PathBuf", "OsStr", "OsString", "IpAddr", "Ipv4Addr", "Ipv6Addr", "SocketAddr",
    "SocketAddrV4", "SocketAddrV6",
];

/// The first standard personal type inside `ty` (`PathBuf` in
/// `Option<Vec<PathBuf>>`), if any. Only bare names and paths through
/// `std`/`core`/`alloc` count, so a type of the user's own that happens to be
/// called `Path` is left to the trait check.
pub(crate) fn find_personal(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(path) => {
            let segments = &path.path.segments;
            let last = segments.last()?;
            let standard = path.qself.is_none()
                && (segments.len() == 1
                    || ["std", "core", "alloc"].iter().any(|root| segments[0].ident == root));
            if standard && PERSONAL.iter().any(|name| last.ident == name) {
                return Some(&last.ident);
            }
            segments.iter().find_map(|segment| match &segment.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                    GenericArgument::Type(inner) => find_personal(inner),
                    _ => None,
                }),
                _ => None,
            })
        }
        Type::Reference(reference) => find_personal(&reference.elem),
        Type::Slice(slice) => find_personal(&slice.elem),
        Type::Array(array) => find_personal(&array.elem),
        Type::Paren(paren) => find_personal(&paren.elem),
        Type::Group(group) => find_personal(&group.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(find_personal),
        _ => None,
    }
}

/// Whether `ty` mentions any of `params` (the struct's type parameters).
pub(crate) fn mentions(ty: &Type, params: &[&Ident]) -> bool {
    fn walk(tokens: TokenStream, params: &[&Ident]) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => params.iter().any(|param| **param == ident),
            TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(ty.to_token_stream(), params)
}

/// The type as a person writes it: `Option<Vec<PathBuf>>`, `&'a str`,
/// `HashMap<String, u64>`, `[u8; 4]`.
pub(crate) fn display(ty: &Type) -> String {
    let mut out = String::new();
    write_tokens(ty.to_token_stream(), &mut out);
    out
}

fn write_tokens(tokens: TokenStream, out: &mut String) {
    let mut previous: Option<TokenTree> = None;
    for token in tokens {
        if needs_space(previous.as_ref(), &token) {
            out.push(' ');
        }
        match &token {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(group.stream(), out);
                out.push_str(close);
            }
            other => out.push_str(&other.to_string()),
        }
        previous = Some(token);
    }
}

/// Spaces go between words (`dyn Trait`, `&'a str`, `mut T`), after commas
/// and semicolons, around `+`, `=` and `->`; never inside `<...>` or `::`.
fn needs_space(previous: Option<&TokenTree>, next: &TokenTree) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    let punct = |token: &TokenTree| match token {
        TokenTree::Punct(punct) => Some(punct.as_char()),
        _ => None,
    };
    let word = |token: &TokenTree| matches!(token, TokenTree::Ident(_) | TokenTree::Literal(_));
    match (punct(previous), punct(next)) {
        // After `,` `;` `+` `=`, before `+` `=` `-`, or at the end of `->`
        // or of generics, before a word or a group.
        (Some(',' | ';' | '+' | '='), _) | (_, Some('+' | '=' | '-')) | (Some('>'), None) => true,
        (None, None) => match next {
            TokenTree::Group(group) if word(previous) => {
                // `&'a [u8]` and `&mut (u8, u8)`, but `Fn(u8)`.
                group.delimiter() == Delimiter::Bracket
                    || matches!(previous, TokenTree::Ident(ident) if ident == "mut" || ident == "dyn")
            }
            _ => word(previous) && word(next),
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(source: &str) -> String {
        display(&syn::parse_str(source).unwrap())
    }

    #[test]
    fn prints_types_as_written() {
        assert_eq!(shown("Option < Vec < PathBuf > >"), "Option<Vec<PathBuf>>");
        assert_eq!(shown("HashMap<String, u64>"), "HashMap<String, u64>");
        assert_eq!(shown("&'a str"), "&'a str");
        assert_eq!(shown("&'static [&'static str]"), "&'static [&'static str]");
        assert_eq!(shown("[u8; 4]"), "[u8; 4]");
        assert_eq!(shown("std::path::PathBuf"), "std::path::PathBuf");
        assert_eq!(shown("::std::path::PathBuf"), "::std::path::PathBuf");
        assert_eq!(shown("&mut T"), "&mut T");
        assert_eq!(shown("&mut [u8]"), "&mut [u8]");
        assert_eq!(shown("&'a mut (u8, u8)"), "&'a mut (u8, u8)");
        assert_eq!(shown("Box<dyn Fn(u8) -> u8 + Send>"), "Box<dyn Fn(u8) -> u8 + Send>");
        assert_eq!(shown("(u8, String)"), "(u8, String)");
        assert_eq!(shown("Option<&'a Path>"), "Option<&'a Path>");
    }

    #[test]
    fn finds_personal_types_anywhere() {
        let personal = |source: &str| {
            find_personal(&syn::parse_str(source).unwrap()).map(ToString::to_string)
        };
        assert_eq!(personal("PathBuf").as_deref(), Some("PathBuf"));
        assert_eq!(personal("Option<Vec<std::net::IpAddr>>").as_deref(), Some("IpAddr"));
        assert_eq!(personal("&'a Path").as_deref(), Some("Path"));
        assert_eq!(personal("HashMap<String, OsString>").as_deref(), Some("OsString"));
        assert_eq!(personal("[SocketAddr; 2]").as_deref(), Some("SocketAddr"));
        assert_eq!(personal("String"), None);
        assert_eq!(personal("my_app::Path"), None);
    }
}
