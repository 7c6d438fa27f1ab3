//! Credentials written out in text:
//! [`Detector::Authorization`](crate::guard::Detector::Authorization) (an
//! HTTP `Authorization` header's credentials) and
//! [`Password`](crate::guard::Detector::Password) (a password assigned to a
//! key). Both are found by a name and a separator, whatever the value: a
//! password has no shape to look for.

use super::bytes::run_len;

/// Shortest password assignment: `pwd=x`.
pub(super) const MIN_PASSWORD_LEN: usize = 5;
/// Shortest header with credentials: `authorization basic x`.
pub(super) const MIN_AUTHORIZATION_LEN: usize = AUTHORIZATION.len() + 8;

const AUTHORIZATION: &[u8] = b"authorization";

/// The schemes whose credentials follow them in the header (RFC 9110,
/// RFC 6750, RFC 7617), compared without case.
const SCHEMES: [&[u8]; 2] = [b"bearer", b"basic"];

/// `Authorization: Bearer …`, `proxy-authorization: basic …`,
/// `HTTP_AUTHORIZATION=Bearer …`: a word that ends in `authorization`, one
/// or more of `:`, `=`, quotes and blanks, `Bearer` or `Basic`, blanks and
/// a credential character.
pub(super) fn authorization(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(found) = s
        .get(i..)
        .and_then(|rest| rest.iter().position(|b| b.eq_ignore_ascii_case(&b'a')))
    {
        let at = i + found;
        i = at + 1;
        let word = s
            .get(at..at + AUTHORIZATION.len())
            .is_some_and(|word| word.eq_ignore_ascii_case(AUTHORIZATION));
        // The end of a word: `Proxy-Authorization`, `HTTP_AUTHORIZATION`,
        // not `preauthorization`.
        let ends_word = at == 0 || !s[at - 1].is_ascii_alphanumeric();
        if word && ends_word && credentials_follow(&s[at + AUTHORIZATION.len()..]) {
            return true;
        }
    }
    false
}

fn credentials_follow(rest: &[u8]) -> bool {
    let separator = run_len(rest, |b| {
        matches!(b, b':' | b'=' | b'"' | b'\'' | b' ' | b'\t')
    });
    let rest = &rest[separator..];
    let Some(scheme) = SCHEMES.iter().find(|scheme| {
        rest.get(..scheme.len())
            .is_some_and(|word| word.eq_ignore_ascii_case(scheme))
    }) else {
        return false;
    };
    let rest = &rest[scheme.len()..];
    let blanks = run_len(rest, |b| b == b' ' || b == b'\t');
    separator > 0 && blanks > 0 && rest.get(blanks).is_some_and(|&b| is_token68(b))
}

/// A character of a credential (`token68`, RFC 9110): letters, digits and
/// `- . _ ~ + /`. Not `<`, `$` or `{`, so that placeholders
/// (`Bearer <token>`, `Bearer ${TOKEN}`) pass.
const fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// Names of a password, compared without case: the whole key, or its end
/// after `_`, `-` or `.` (`DB_PASSWORD`, `--db-password`,
/// `spring.datasource.password`).
const PASSWORD_NAMES: [&[u8]; 3] = [b"password", b"passwd", b"pwd"];

/// `password=…`, `passwd: …`, `"pwd": "…"`, `DB_PASSWORD := …`: a key named
/// for a password, optional blanks and a closing quote, `=`, `:` or `:=`,
/// and a value that is not empty.
pub(super) fn password(s: &[u8]) -> bool {
    s.iter().enumerate().any(|(at, &b)| {
        matches!(b, b'=' | b':') && assigns(s, at) && is_password_name(key_before(s, at))
    })
}

/// Whether the `=` or `:` at `at` assigns a value that is not empty: not
/// `==`, `!=`, `<=`, `>=`, `=>` or `::`, and followed, after blanks, by a
/// character that is not white space or punctuation that ends a value, or
/// by a quote and a character that is not the closing quote.
fn assigns(s: &[u8], at: usize) -> bool {
    let before = at.checked_sub(1).map(|i| s[i]);
    let mut i = at + 1;
    match (s[at], before, s.get(i)) {
        (b'=', Some(b'=' | b'!' | b'<' | b'>'), _)
        | (b'=', _, Some(b'=' | b'>'))
        | (b':', Some(b':'), _)
        | (b':', _, Some(b':')) => return false,
        (b':', _, Some(b'=')) => i += 1,
        _ => {}
    }
    i += run_len(&s[i..], |b| b == b' ' || b == b'\t');
    match s.get(i) {
        Some(&quote @ (b'"' | b'\'')) => s
            .get(i + 1)
            .is_some_and(|&b| b != quote && b != b'\n' && b != b'\r'),
        Some(&b) => {
            !b.is_ascii_whitespace() && !matches!(b, b'&' | b';' | b',' | b')' | b']' | b'}')
        }
        None => false,
    }
}

/// The key that ends before the separator at `at`, past blanks and a
/// closing quote: `password` in `"password" : "x"`.
fn key_before(s: &[u8], at: usize) -> &[u8] {
    let mut end = at;
    while end > 0 && matches!(s[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if end > 0 && matches!(s[end - 1], b'"' | b'\'') {
        end -= 1;
    }
    let len = s[..end]
        .iter()
        .rev()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    &s[end - len..end]
}

fn is_password_name(key: &[u8]) -> bool {
    PASSWORD_NAMES.iter().any(|name| {
        key.len() >= name.len() && {
            let (head, tail) = key.split_at(key.len() - name.len());
            tail.eq_ignore_ascii_case(name)
                && head.last().is_none_or(|b| matches!(b, b'_' | b'-' | b'.'))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_names() {
        for key in [
            "password",
            "PASSWD",
            "pwd",
            "DB_PASSWORD",
            "--db-password",
            "a.pwd",
        ] {
            assert!(is_password_name(key.as_bytes()), "{key}");
        }
        for key in [
            "",
            "passwords",
            "password_hash",
            "nopassword",
            "pwdx",
            "OLDPWD",
        ] {
            assert!(!is_password_name(key.as_bytes()), "{key}");
        }
    }

    #[test]
    fn keys_before_separators() {
        let key = |s: &str| {
            let at = s.find(['=', ':']).unwrap();
            String::from_utf8(key_before(s.as_bytes(), at).to_vec()).unwrap()
        };
        assert_eq!(key("a password = x"), "password");
        assert_eq!(key(r#"{"pwd": "x"}"#), "pwd");
        assert_eq!(key("=x"), "");
    }
}
