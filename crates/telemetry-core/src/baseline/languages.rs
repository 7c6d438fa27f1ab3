//! Languages: the language of a file, from its extension.

use std::path::Path;

/// The language of a file, from its extension (case-insensitive), as named in
/// [`BUILT_IN_TOKENS_PER_1000_BYTES`](super::BUILT_IN_TOKENS_PER_1000_BYTES);
/// `None` for any other extension.
///
/// `py` python, `ts`/`tsx` typescript, `js`/`jsx`/`mjs` javascript, `rs`
/// rust, `go`, `java`, `c`/`h` c, `cc`/`cpp`/`cxx`/`hpp` cpp, `cs` csharp,
/// `md` markdown, `txt` text, `json`, `yaml`/`yml` yaml, `toml`.
#[must_use]
pub fn language_for_path(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    let language = match extension.as_str() {
        "py" => "python",
        "ts" | "tsx" => "typescript",
        "js" | "jsx" | "mjs" => "javascript",
        "rs" => "rust",
        "go" => "go",
        "java" => "java",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" => "cpp",
        "cs" => "csharp",
        "md" => "markdown",
        "txt" => "text",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "toml" => "toml",
        _ => return None,
    };
    Some(language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_extensions() {
        let cases = [
            ("a.py", Some("python")),
            ("a.ts", Some("typescript")),
            ("a.tsx", Some("typescript")),
            ("a.js", Some("javascript")),
            ("a.jsx", Some("javascript")),
            ("a.mjs", Some("javascript")),
            ("a.rs", Some("rust")),
            ("a.go", Some("go")),
            ("a.java", Some("java")),
            ("a.c", Some("c")),
            ("a.h", Some("c")),
            ("a.cc", Some("cpp")),
            ("a.cpp", Some("cpp")),
            ("a.cxx", Some("cpp")),
            ("a.hpp", Some("cpp")),
            ("a.cs", Some("csharp")),
            ("README.MD", Some("markdown")),
            ("a.txt", Some("text")),
            ("a.json", Some("json")),
            ("a.yaml", Some("yaml")),
            ("a.yml", Some("yaml")),
            ("Cargo.toml", Some("toml")),
            ("Makefile", None),
            ("a.hs", None),
            (".gitignore", None),
        ];
        for (path, language) in cases {
            assert_eq!(language_for_path(Path::new(path)), language, "{path}");
        }
    }
}
