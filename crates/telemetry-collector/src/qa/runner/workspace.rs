//! Unpacking a workspace snapshot (a tar archive, gzip-compressed or not)
//! into a directory, refusing what could reach outside it.

use std::io::Read;
use std::path::{Component, Path};

/// The most entries a snapshot may hold.
pub const MAX_ENTRIES: u64 = 100_000;

/// Why a snapshot was not unpacked; each names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnpackError {
    /// An entry's path or link leaves the workspace, or its kind is not a
    /// file, directory or relative symbolic link.
    #[error("entry `{path}`: {reason}")]
    Refused {
        /// The entry's path as archived.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The snapshot unpacks to more than the limit.
    #[error("the workspace is larger than {limit_mb} MiB unpacked")]
    TooLarge {
        /// The limit, MiB.
        limit_mb: u64,
    },
    /// More than [`MAX_ENTRIES`] entries.
    #[error("the workspace has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    /// Not a tar archive, or a truncated one.
    #[error("the workspace snapshot is not a readable tar archive: {0}")]
    Corrupt(String),
    /// Writing the files failed.
    #[error("unpacking the workspace: {0}")]
    Io(String),
}

/// Unpacks `archive` (tar, or tar.gz by its magic bytes) into `into`,
/// which must exist; at most `max_bytes` of file content.
pub fn unpack_workspace(archive: &[u8], into: &Path, max_bytes: u64) -> Result<u64, UnpackError> {
    if archive.starts_with(&[0x1f, 0x8b]) {
        unpack(flate2::read::MultiGzDecoder::new(archive), into, max_bytes)
    } else {
        unpack(archive, into, max_bytes)
    }
}

fn unpack(reader: impl Read, into: &Path, max_bytes: u64) -> Result<u64, UnpackError> {
    let corrupt = |error: std::io::Error| UnpackError::Corrupt(error.to_string());
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let mut total = 0_u64;
    let mut entries = 0_u64;
    let mut links = Vec::new();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(UnpackError::TooManyEntries);
        }
        let path = entry.path().map_err(corrupt)?.into_owned();
        let shown = path.display().to_string();
        let refuse = |reason: &str| UnpackError::Refused {
            path: shown.clone(),
            reason: reason.to_owned(),
        };
        if !path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(refuse("the path is absolute or has `..`"));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(corrupt)?
                .ok_or_else(|| refuse("a symbolic link without a target"))?;
            if !stays_inside(&path, &target) {
                return Err(refuse("a symbolic link that points outside the workspace"));
            }
            links.push(path.clone());
        } else if !(kind.is_file() || kind.is_dir() || kind.is_pax_global_extensions()) {
            return Err(refuse(
                "only files, directories and relative symbolic links are unpacked",
            ));
        }
        total = total.saturating_add(entry.header().size().map_err(corrupt)?);
        if total > max_bytes {
            return Err(UnpackError::TooLarge {
                limit_mb: max_bytes / (1024 * 1024),
            });
        }
        let unpacked = entry
            .unpack_in(into)
            .map_err(|error| UnpackError::Io(format!("`{shown}`: {error}")))?;
        if !unpacked {
            return Err(refuse("the path leaves the workspace"));
        }
    }
    // Each link checked alone stays inside, but links through links (`d ->
    // .`, then `d/d/x -> ../x`) may not: resolve every one now that all
    // are there.
    let root = into
        .canonicalize()
        .map_err(|error| UnpackError::Io(error.to_string()))?;
    for link in links {
        if let Ok(resolved) = into.join(&link).canonicalize()
            && !resolved.starts_with(&root)
        {
            return Err(UnpackError::Refused {
                path: link.display().to_string(),
                reason: "a symbolic link that resolves outside the workspace".to_owned(),
            });
        }
    }
    Ok(total)
}

/// Whether a link at `link` (relative to the workspace) to `target`
/// resolves inside the workspace, by its components alone.
fn stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth = link.parent().map_or(0, |parent| {
        parent
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count()
    });
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn file(builder: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, body).unwrap();
    }

    /// A header whose name is written raw, past `tar::Builder`'s checks.
    fn raw(builder: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str) {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_size(0);
        header.set_mode(0o644);
        header.set_entry_type(kind);
        header.set_cksum();
        builder.append(&header, std::io::empty()).unwrap();
    }

    #[test]
    fn files_unpack_gzipped_or_not() {
        let tar = archive(|b| {
            file(b, "pkg/mod.py", b"x = 1\n");
            file(b, "tests/test_mod.py", b"def test(): pass\n");
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        for bytes in [tar.clone(), gz.finish().unwrap()] {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(unpack_workspace(&bytes, dir.path(), 1 << 20), Ok(23));
            assert_eq!(
                std::fs::read_to_string(dir.path().join("pkg/mod.py")).unwrap(),
                "x = 1\n"
            );
        }
    }

    #[test]
    fn paths_and_links_leaving_the_workspace_are_refused_by_name() {
        let cases = [
            (
                "../escape.py",
                tar::EntryType::Regular,
                "",
                "absolute or has `..`",
            ),
            (
                "/etc/passwd",
                tar::EntryType::Regular,
                "",
                "absolute or has `..`",
            ),
            (
                "a/link",
                tar::EntryType::Symlink,
                "/etc/shadow",
                "outside the workspace",
            ),
            (
                "a/link",
                tar::EntryType::Symlink,
                "../../x",
                "outside the workspace",
            ),
            ("hard", tar::EntryType::Link, "a", "only files"),
            ("dev", tar::EntryType::Char, "", "only files"),
        ];
        for (name, kind, link, reason) in cases {
            let bytes = archive(|b| raw(b, name, kind, link));
            let dir = tempfile::tempdir().unwrap();
            let error = unpack_workspace(&bytes, dir.path(), 1 << 20).unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains(name.trim_start_matches('/')),
                "{name}: {text}"
            );
            assert!(text.contains(reason), "{name}: {text}");
        }
        // Each link alone looks inside; through the first, the second is
        // `../outside` from the workspace.
        let chained = archive(|b| {
            raw(b, "d", tar::EntryType::Symlink, ".");
            raw(b, "d/x", tar::EntryType::Symlink, "../outside");
        });
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("ws");
        std::fs::create_dir(&workspace).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        let error = unpack_workspace(&chained, &workspace, 1 << 20).unwrap_err();
        assert!(
            error.to_string().contains("outside the workspace"),
            "{error}"
        );
        let dotted = archive(|b| raw(b, "./a/link", tar::EntryType::Symlink, "../../x"));
        let error = unpack_workspace(&dotted, dir.path(), 1 << 20).unwrap_err();
        assert!(
            error.to_string().contains("outside the workspace"),
            "{error}"
        );
        let inside = archive(|b| raw(b, "a/link", tar::EntryType::Symlink, "../b.py"));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unpack_workspace(&inside, dir.path(), 1 << 20), Ok(0));
    }

    #[test]
    fn a_snapshot_over_the_limit_or_truncated_is_refused() {
        let bytes = archive(|b| file(b, "big.bin", &[0; 4096]));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            unpack_workspace(&bytes, dir.path(), 4095),
            Err(UnpackError::TooLarge { limit_mb: 0 })
        );
        let error = unpack_workspace(&bytes[..700], dir.path(), 1 << 20).unwrap_err();
        assert!(
            matches!(error, UnpackError::Corrupt(_) | UnpackError::Io(_)),
            "{error}"
        );
    }
}
