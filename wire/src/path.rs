//! ZooKeeper's path rules (`PathUtils.validatePath`), sequential suffixes and
//! chroot handling, shared by the server, the client and every binding.
//!
//! ZooKeeper validates a path one UTF-16 code unit at a time, so characters
//! outside the Basic Multilingual Plane (encoded as surrogate pairs, which
//! fall in a forbidden range) are rejected; [`validate_path`] reproduces that
//! and reports positions in UTF-16 code units like ZooKeeper's messages.

use thiserror::Error;

/// Why a path is not a valid ZooKeeper path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty.
    #[error("path length must be > 0")]
    Empty,
    /// The path does not start with `/`.
    #[error("path must start with / character")]
    NotAbsolute,
    /// The path ends with `/` and is not the root.
    #[error("path must not end with / character")]
    TrailingSlash,
    /// A NUL character at this position.
    #[error("null character not allowed @{position}")]
    NullCharacter {
        /// Position in UTF-16 code units.
        position: usize,
    },
    /// Two consecutive slashes end here.
    #[error("empty node name specified @{position}")]
    EmptySegment {
        /// Position in UTF-16 code units.
        position: usize,
    },
    /// A `.` or `..` segment ends here.
    #[error("relative paths not allowed @{position}")]
    Relative {
        /// Position in UTF-16 code units.
        position: usize,
    },
    /// A control character or a code point in a forbidden range.
    #[error("invalid character @{position}")]
    InvalidCharacter {
        /// Position in UTF-16 code units.
        position: usize,
    },
}

/// Whether ZooKeeper forbids this UTF-16 code unit (`PathUtils.validatePath`):
/// controls `\u0001-\u001f` and `\u007f-\u009f`, surrogates and the private
/// use area `\ud800-\uf8ff`, and the specials `\ufff0-\uffff`.
fn forbidden_unit(unit: u16) -> bool {
    (0x0001..=0x001f).contains(&unit)
        || (0x007f..=0x009f).contains(&unit)
        || (0xd800..=0xf8ff).contains(&unit)
        || unit >= 0xfff0
}

/// Checks `path` with exactly ZooKeeper's rules: starts with `/`, no
/// trailing `/` except for the root, no empty, `.` or `..` segment, no NUL,
/// no control character and none of the code points ZooKeeper forbids.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    let units: Vec<u16> = path.encode_utf16().collect();
    let dot = u16::from(b'.');
    let slash = u16::from(b'/');
    let mut last = slash;
    for i in 1..units.len() {
        let c = units[i];
        let next_ends_segment = i + 1 == units.len() || units[i + 1] == slash;
        if c == 0 {
            return Err(PathError::NullCharacter { position: i });
        } else if c == slash && last == slash {
            return Err(PathError::EmptySegment { position: i });
        } else if c == dot && last == dot {
            if units[i - 2] == slash && next_ends_segment {
                return Err(PathError::Relative { position: i });
            }
        } else if c == dot {
            if units[i - 1] == slash && next_ends_segment {
                return Err(PathError::Relative { position: i });
            }
        } else if forbidden_unit(c) {
            return Err(PathError::InvalidCharacter { position: i });
        }
        last = c;
    }
    Ok(())
}

/// Checks the path of a sequential create: ZooKeeper validates `path + "1"`,
/// so `/queue/` (children named by their suffix alone) is accepted.
pub fn validate_sequential_path(path: &str) -> Result<(), PathError> {
    validate_path(&format!("{path}1"))
}

/// The parent of a valid path; `None` for the root.
///
/// ```
/// assert_eq!(corral_wire::path::parent("/a/b"), Some("/a"));
/// assert_eq!(corral_wire::path::parent("/a"), Some("/"));
/// assert_eq!(corral_wire::path::parent("/"), None);
/// ```
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last segment of a path (`""` for the root).
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The path of `child` under `parent`.
pub fn join(parent: &str, child: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// `path` with ZooKeeper's sequence suffix: `%010d` of the counter, which is
/// a signed 32-bit number, so it turns negative past `i32::MAX`
/// (`/q-2147483648`).
pub fn sequential_name(path: &str, counter: i32) -> String {
    format!("{path}{counter:010}")
}

/// Whether `chroot` means "no chroot".
fn no_chroot(chroot: &str) -> bool {
    chroot.is_empty() || chroot == "/"
}

/// The server path of a client path under `chroot` (ZooKeeper's
/// `prependChroot`): the client root maps to the chroot itself.
pub fn apply_chroot(chroot: &str, path: &str) -> String {
    if no_chroot(chroot) {
        path.to_owned()
    } else if path == "/" {
        chroot.to_owned()
    } else {
        format!("{chroot}{path}")
    }
}

/// The client path of a server path under `chroot` (ZooKeeper's
/// `stripChroot`): the chroot itself maps to `/`; a path outside the chroot
/// is returned unchanged, as ZooKeeper does.
pub fn strip_chroot(chroot: &str, path: &str) -> String {
    if no_chroot(chroot) {
        return path.to_owned();
    }
    if path == chroot {
        return "/".to_owned();
    }
    match path.strip_prefix(chroot) {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_path_table() {
        use PathError::*;
        let cases: &[(&str, Result<(), PathError>)] = &[
            ("/", Ok(())),
            ("/a", Ok(())),
            ("/a/b/c", Ok(())),
            ("/a.b", Ok(())),
            ("/.a", Ok(())),
            ("/a.", Ok(())),
            ("/...", Ok(())),
            ("/a/..b", Ok(())),
            ("/a/b..", Ok(())),
            ("/zookeeper", Ok(())),
            ("/é/中文", Ok(())),
            ("", Err(Empty)),
            ("a", Err(NotAbsolute)),
            ("a/b", Err(NotAbsolute)),
            ("/a/", Err(TrailingSlash)),
            ("//", Err(TrailingSlash)),
            ("//a", Err(EmptySegment { position: 1 })),
            ("/a//b", Err(EmptySegment { position: 3 })),
            ("/.", Err(Relative { position: 1 })),
            ("/..", Err(Relative { position: 2 })),
            ("/a/./b", Err(Relative { position: 3 })),
            ("/a/../b", Err(Relative { position: 4 })),
            ("/a/..", Err(Relative { position: 4 })),
            ("/a\0b", Err(NullCharacter { position: 2 })),
            ("/a\u{1}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{1f}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{7f}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{9f}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{e000}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{f8ff}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{fff0}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{ffff}", Err(InvalidCharacter { position: 2 })),
            // Outside the BMP: a surrogate pair in Java, hence rejected.
            ("/a\u{1f600}", Err(InvalidCharacter { position: 2 })),
            ("/a\u{a0}", Ok(())),
            ("/a\u{f900}", Ok(())),
            ("/a\u{ffef}", Ok(())),
        ];
        for (path, want) in cases {
            assert_eq!(&validate_path(path), want, "{path:?}");
        }
    }

    #[test]
    fn validate_sequential_path_table() {
        let cases: &[(&str, bool)] = &[
            ("/q/", true),
            ("/q/n-", true),
            ("/", true),
            ("/q//", false),
            ("/q/.", true),
            ("q", false),
            ("", false),
        ];
        for (path, ok) in cases {
            assert_eq!(validate_sequential_path(path).is_ok(), *ok, "{path:?}");
        }
    }

    #[test]
    fn parent_name_join_table() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("/", None, ""),
            ("/a", Some("/"), "a"),
            ("/a/b", Some("/a"), "b"),
            ("/a/b/c", Some("/a/b"), "c"),
        ];
        for (path, p, n) in cases {
            assert_eq!(parent(path), *p, "{path}");
            assert_eq!(name(path), *n, "{path}");
            if let Some(p) = p {
                assert_eq!(join(p, n), *path);
            }
        }
    }

    #[test]
    fn sequential_name_table() {
        let cases: &[(&str, i32, &str)] = &[
            ("/q/n-", 0, "/q/n-0000000000"),
            ("/q/n-", 42, "/q/n-0000000042"),
            ("/q/", i32::MAX, "/q/2147483647"),
            ("/q/n-", i32::MAX.wrapping_add(1), "/q/n--2147483648"),
            ("/q/n-", -1, "/q/n--000000001"),
        ];
        for (path, counter, want) in cases {
            assert_eq!(sequential_name(path, *counter), *want);
        }
    }

    #[test]
    fn chroot_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("", "/a", "/a"),
            ("/", "/a", "/a"),
            ("/app", "/", "/app"),
            ("/app", "/a", "/app/a"),
            ("/app/x", "/a/b", "/app/x/a/b"),
        ];
        for (chroot, client, server) in cases {
            assert_eq!(apply_chroot(chroot, client), *server);
            assert_eq!(strip_chroot(chroot, server), *client);
        }
        assert_eq!(strip_chroot("/app", "/other"), "/other");
        assert_eq!(strip_chroot("/app", "/apple"), "/apple");
    }
}
