//! Blocklists for the Fluent Bit filter. Fluent Bit hands a wasm filter no
//! configuration (no argv, no env; only `Accessible_Paths` as WASI
//! preopens), so the lists are found by a convention instead of by flags:
//! every file in a directory `postfix-enrich/blocklists/` under the first
//! accessible path that has one is a list, named after its file name
//! without the extension (`openbl.txt` → `openbl`, `firehol_level1.netset`
//! → `firehol_level1`), taken in file-name order (the order of
//! `threat.enrichments`, as the order of `--blocklist` flags is for the
//! CLI). Hidden files (`.*`) and subdirectories are skipped. They are read
//! once, when the filter sees its first record (the module instance lives
//! as long as the filter); a restart of Fluent Bit reloads them.
//!
//! Failures never trap and never stop the filter: no directory means no
//! lists; a list that cannot be read is left out, said once on Fluent Bit's
//! log (stderr) and once on the first output record, as
//! `postfix_enrich_error`; lines that are not addresses are counted and
//! said once on the log, as the CLI says them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postfix_enrich_core::Blocklists;

/// Where the lists live, under an accessible path.
pub const DIR: &str = "postfix-enrich/blocklists";

/// What loading the lists found.
#[derive(Default)]
pub struct Loaded {
    /// The lists, when at least one was loaded.
    pub lists: Option<Arc<Blocklists>>,
    /// One line per list: entries and lines skipped (the CLI's stderr lines).
    pub notes: Vec<String>,
    /// Lists that could not be read.
    pub errors: Vec<String>,
}

/// Loads every list in `DIR` under the first of `roots` that has that directory.
pub fn load_from(roots: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    let Some(dir) = roots.iter().map(|r| r.join(DIR)).find(|d| d.is_dir()) else {
        return loaded;
    };
    let mut files: Vec<(String, PathBuf)> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter(|e| !e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect(),
        Err(e) => {
            loaded.errors.push(format!("blocklists: {}: {e}", dir.display()));
            return loaded;
        }
    };
    files.sort();
    let mut lists = Blocklists::new();
    for (file, path) in files {
        let name = list_name(&file);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let report = lists.add(name, &String::from_utf8_lossy(&bytes));
                loaded.notes.push(report.to_string());
            }
            Err(e) => loaded.errors.push(format!("blocklist {name}: {}: {e}", path.display())),
        }
    }
    if !lists.is_empty() {
        loaded.lists = Some(Arc::new(lists));
    }
    loaded
}

/// `openbl.txt` → `openbl`; a name without an extension stays whole.
fn list_name(file: &str) -> &str {
    Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(file)
}

/// The WASI preopens (Fluent Bit's `Accessible_Paths`) in order, by their
/// names. wasi-libc resolves a path only against the preopen whose name
/// prefixes it, so the lists' directory is looked for under each name.
#[cfg(target_os = "wasi")]
pub fn preopens() -> Vec<PathBuf> {
    let mut out = Vec::new();
    // Preopened descriptors are numbered from 3 on, without gaps.
    for fd in 3u32..64 {
        // SAFETY: plain WASI calls; the name buffer is as long as the host said.
        let Ok(stat) = (unsafe { wasi::fd_prestat_get(fd) }) else {
            break;
        };
        if stat.tag != wasi::PREOPENTYPE_DIR.raw() {
            continue;
        }
        let mut name = vec![0u8; unsafe { stat.u.dir.pr_name_len }];
        if unsafe { wasi::fd_prestat_dir_name(fd, name.as_mut_ptr(), name.len()) }.is_ok() {
            // Some hosts count a trailing NUL in the length.
            while name.last() == Some(&0) {
                name.pop();
            }
            out.push(PathBuf::from(String::from_utf8_lossy(&name).into_owned()));
        }
    }
    out
}

/// Natively (tests, benchmarks) the working directory stands for the preopens.
#[cfg(not(target_os = "wasi"))]
pub fn preopens() -> Vec<PathBuf> {
    vec![PathBuf::from(".")]
}

/// Loads the lists under the preopens and says what it found on stderr
/// (Fluent Bit's log), once.
pub fn startup() -> Loaded {
    let loaded = load_from(&preopens());
    for line in loaded.notes.iter().chain(&loaded.errors) {
        eprintln!("postfix-enrich: {line}");
    }
    loaded
}

/// Adds `"postfix_enrich_error": "<errors>"` to one output record (JSON
/// text of an object followed by a NUL, as the filter returns it), into
/// `out`. The message is escaped by the core's JSON string writer.
pub fn annotate(record: &[u8], errors: &[String], out: &mut Vec<u8>) {
    out.clear();
    let text = record.strip_suffix(b"\0").unwrap_or(record);
    let Some(close) = text.iter().rposition(|&b| b == b'}') else {
        out.extend_from_slice(record);
        return;
    };
    let body = &text[..close];
    out.extend_from_slice(body);
    // An empty object takes no comma before the new member.
    if body.iter().rev().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        out.push(b',');
    }
    out.extend_from_slice(b"\"");
    out.extend_from_slice(crate::filter::ERROR_KEY.as_bytes());
    out.extend_from_slice(b"\":");
    postfix_enrich_core::encode::write_json_str(out, &errors.join("; "));
    out.extend_from_slice(&text[close..]);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots_with(files: &[(&str, &str)]) -> (PathBuf, Vec<PathBuf>) {
        let base = std::env::temp_dir().join(format!(
            "pfe-bl-{}-{}",
            std::process::id(),
            files.len() + files.iter().map(|f| f.0.len()).sum::<usize>()
        ));
        let dir = base.join(DIR);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("list file");
        }
        (base.clone(), vec![PathBuf::from("/nonexistent-root"), base])
    }

    #[test]
    fn lists_are_named_by_file_stem_in_file_name_order() {
        let (base, roots) = roots_with(&[
            ("openbl.txt", "192.0.2.7\nnot an address\n"),
            ("drop.netset", "198.51.100.0/24 ; SBL1\n"),
            (".hidden.txt", "192.0.2.7\n"),
        ]);
        let loaded = load_from(&roots);
        let lists = loaded.lists.expect("lists");
        let ip = "192.0.2.7".parse().expect("ip");
        assert_eq!(lists.lookup(ip).collect::<Vec<_>>(), ["openbl"]);
        assert_eq!(loaded.notes.len(), 2);
        assert!(
            loaded.notes[0].starts_with("blocklist drop: 1 entries"),
            "{:?}",
            loaded.notes
        );
        assert!(loaded.notes[1].contains("1 line(s) skipped"), "{:?}", loaded.notes);
        assert!(loaded.errors.is_empty());
        let _ = std::fs::remove_dir_all(base);
    }

    #[test]
    fn no_directory_means_no_lists() {
        let loaded = load_from(&[PathBuf::from("/nonexistent-root")]);
        assert!(loaded.lists.is_none() && loaded.notes.is_empty() && loaded.errors.is_empty());
    }

    #[test]
    fn annotate_adds_the_error_member_to_any_object() {
        let mut out = Vec::new();
        annotate(b"{\"log\":\"x\"}\0", &["blocklist a: gone".to_owned()], &mut out);
        assert_eq!(out, b"{\"log\":\"x\",\"postfix_enrich_error\":\"blocklist a: gone\"}\0");
        annotate(b"{ }\0", &["q\"".to_owned()], &mut out);
        assert_eq!(out, b"{ \"postfix_enrich_error\":\"q\\\"\"}\0");
    }
}
