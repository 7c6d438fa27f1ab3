//! Keywords: trimmed, case-folded and deduplicated, then matched against
//! paths, file names and contents folded the same way.

use std::path::Path;

/// Keywords, trimmed, case-folded, blank ones dropped, without duplicates.
#[derive(Debug)]
pub(super) struct Keywords(Vec<String>);

impl Keywords {
    pub(super) fn new<S: AsRef<str>>(keywords: &[S]) -> Self {
        let mut folded: Vec<String> = keywords
            .iter()
            .map(|keyword| keyword.as_ref().trim())
            .filter(|keyword| !keyword.is_empty())
            .map(|keyword| {
                let mut out = String::new();
                fold_case(keyword, &mut out);
                out
            })
            .collect();
        folded.sort_unstable();
        folded.dedup();
        Self(folded)
    }

    /// Whether case-folded `text` contains any keyword.
    pub(super) fn matches(&self, folded: &str) -> bool {
        self.0
            .iter()
            .any(|keyword| folded.contains(keyword.as_str()))
    }

    /// Whether the file name of `path` contains any keyword.
    pub(super) fn matches_file_name(&self, path: &Path) -> bool {
        let Some(name) = path.file_name() else {
            return false;
        };
        let mut folded = String::new();
        fold_case(&name.to_string_lossy(), &mut folded);
        self.matches(&folded)
    }
}

/// Writes `text` lowercased into `out`, character by character, so that
/// keywords and contents fold alike.
pub(super) fn fold_case(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
    } else {
        out.extend(text.chars().flat_map(char::to_lowercase));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_fold_unicode_case() {
        let keywords = Keywords::new(&["ÄRGER", "Straße", "ärger"]);
        assert_eq!(keywords.0, ["straße", "ärger"]);
        let mut folded = String::new();
        fold_case("VIEL ÄRGER", &mut folded);
        assert!(keywords.matches(&folded));
        assert!(keywords.matches_file_name(Path::new("x/STRAßE.txt")));
        assert!(!keywords.matches_file_name(Path::new("strasse/readme.md")));
    }
}
