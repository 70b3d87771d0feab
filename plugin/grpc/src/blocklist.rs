//! Blocklist files for every native host: the `NAME=PATH` argument, the one
//! loader that reads the files into the core's [`Blocklists`] (the CLI's
//! NDJSON, `explain`, `what-if` and `serve` all use it), and, for the
//! sidecar, the current list set shared by every call and stream, reread on
//! SIGHUP. A reread replaces the whole set at once or not at all: when any
//! file fails, the old lists stay and the error is logged.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use postfix_enrich_core::blocklist::LoadReport;
use postfix_enrich_core::{Blocklists, Enricher};

use crate::metrics::METRICS;

/// One `--blocklist NAME=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistSpec {
    /// The list's name, as events carry it (`threat.enrichments[].indicator.provider`).
    pub name: String,
    /// The file it is read from.
    pub path: PathBuf,
}

/// Parses `NAME=PATH` (clap's value parser for `--blocklist`).
pub fn parse_arg(s: &str) -> Result<BlocklistSpec, String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(BlocklistSpec {
            name: name.to_owned(),
            path: PathBuf::from(path),
        }),
        _ => Err(format!(
            "expected NAME=PATH (e.g. openbl=/etc/postfix/openbl.txt), got {s:?}"
        )),
    }
}

/// Reads every file of `specs` into one list set, with what each load found
/// (entries, lines skipped as not an address). A missing or unreadable file
/// is an error naming the list and the path.
pub fn load(specs: &[BlocklistSpec]) -> anyhow::Result<(Blocklists, Vec<LoadReport>)> {
    let mut lists = Blocklists::new();
    let mut reports = Vec::with_capacity(specs.len());
    for spec in specs {
        let bytes =
            std::fs::read(&spec.path).with_context(|| format!("blocklist {}: {}", spec.name, spec.path.display()))?;
        reports.push(lists.add(&spec.name, &String::from_utf8_lossy(&bytes)));
    }
    Ok((lists, reports))
}

/// Says what a load found: the entries at `info`, skipped lines at `warn`
/// (once per file and load, with the first such line).
fn log_reports(reports: &[LoadReport]) {
    for r in reports {
        if r.bad_lines > 0 {
            tracing::warn!("{r}");
        } else {
            tracing::info!("{r}");
        }
    }
}

/// The sidecar's current list set: read by every call (once per batch),
/// replaced by a reread. Each enricher keeps its session state across a
/// swap; only the lists change, from its next batch on.
#[derive(Debug, Default)]
pub struct SharedBlocklists {
    specs: Vec<BlocklistSpec>,
    // A lock read once per batch costs nothing next to the batch; arc-swap
    // would save that read but adds a crate for no measurable gain.
    current: RwLock<Option<Arc<Blocklists>>>,
}

impl SharedBlocklists {
    /// Loads `specs` (an error when a file cannot be read: the sidecar must
    /// not start without the lists it was given). With no specs, `fallback`
    /// (lists an in-process caller put in its `Config`) is the set.
    pub fn load(specs: Vec<BlocklistSpec>, fallback: Option<Arc<Blocklists>>) -> anyhow::Result<Self> {
        let current = if specs.is_empty() {
            fallback
        } else {
            let (lists, reports) = load(&specs)?;
            log_reports(&reports);
            Some(Arc::new(lists))
        };
        Ok(SharedBlocklists {
            specs,
            current: RwLock::new(current),
        })
    }

    /// The lists now in force.
    pub fn current(&self) -> Option<Arc<Blocklists>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Gives `enricher` the lists now in force, if it has other ones.
    pub fn refresh(&self, enricher: &mut Enricher) {
        let now = self.current();
        let same = match (&now, &enricher.config().blocklists) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            enricher.set_blocklists(now);
        }
    }

    /// Rereads every file; on success the new set replaces the old one, on
    /// failure the old one stays. Counted in
    /// `postfix_enrich_blocklist_reloads_total{result}` either way.
    pub fn reload(&self) -> anyhow::Result<()> {
        if self.specs.is_empty() {
            tracing::info!("SIGHUP: no --blocklist to reread");
            return Ok(());
        }
        match load(&self.specs) {
            Ok((lists, reports)) => {
                log_reports(&reports);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(lists));
                METRICS.observe_blocklist_reload(true);
                tracing::info!(lists = self.specs.len(), "blocklists reread");
                Ok(())
            }
            Err(e) => {
                METRICS.observe_blocklist_reload(false);
                tracing::error!("rereading the blocklists failed, keeping the old ones: {e:#}");
                Err(e)
            }
        }
    }

    /// Rereads the lists on every SIGHUP until the task is dropped. Installed
    /// before serving, so that a SIGHUP never ends the process (its default).
    #[cfg(unix)]
    pub fn reload_on_sighup(self: Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        Ok(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                // Reading a big list takes a while: off the async workers.
                let lists = self.clone();
                let _ = tokio::task::spawn_blocking(move || lists.reload()).await;
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postfix_enrich_core::Config;

    fn spec(name: &str, path: &std::path::Path) -> BlocklistSpec {
        BlocklistSpec {
            name: name.into(),
            path: path.into(),
        }
    }

    #[test]
    fn name_and_path_are_both_required() {
        assert_eq!(parse_arg("openbl=/tmp/x").unwrap(), spec("openbl", "/tmp/x".as_ref()));
        assert!(parse_arg("openbl").is_err());
        assert!(parse_arg("=/tmp/x").is_err());
        assert!(parse_arg("openbl=").is_err());
    }

    #[test]
    fn a_missing_file_names_the_list_and_path() {
        let err = load(&[spec("openbl", "/nonexistent/openbl.txt".as_ref())]).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("openbl") && text.contains("/nonexistent/openbl.txt"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_reload_keeps_the_old_lists_and_a_good_one_swaps_them() {
        let dir = std::env::temp_dir().join(format!("pe-blocklist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("list.txt");
        std::fs::write(&file, "192.0.2.7\nnot an address\n").unwrap();
        let shared = SharedBlocklists::load(vec![spec("local", &file)], None).unwrap();
        let listed = |s: &SharedBlocklists, ip: &str| s.current().unwrap().lookup(ip.parse().unwrap()).count() > 0;
        assert!(listed(&shared, "192.0.2.7"));

        let mut enricher = Enricher::new(Config::default());
        shared.refresh(&mut enricher);
        let before = enricher.config().blocklists.clone().unwrap();

        std::fs::remove_file(&file).unwrap();
        assert!(shared.reload().is_err());
        assert!(listed(&shared, "192.0.2.7"), "the old list stays");
        shared.refresh(&mut enricher);
        assert!(Arc::ptr_eq(enricher.config().blocklists.as_ref().unwrap(), &before));

        std::fs::write(&file, "198.51.100.0/24\n").unwrap();
        shared.reload().unwrap();
        assert!(!listed(&shared, "192.0.2.7") && listed(&shared, "198.51.100.9"));
        shared.refresh(&mut enricher);
        assert!(!Arc::ptr_eq(enricher.config().blocklists.as_ref().unwrap(), &before));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
