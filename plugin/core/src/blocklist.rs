//! Blocklists the admin already has (OpenBL, FireHOL netsets, Spamhaus
//! DROP/EDROP, fail2ban exports): parsed from their text (the adapters read
//! the files) into one prefix trie per list, and looked up for each event's
//! client address. A line that is not an address is counted, with the
//! first one kept for the message, never fatal.

use std::net::IpAddr;

use ipnet::IpNet;
use prefix_trie::joint::set::JointPrefixSet;

use crate::event::{Threat, ThreatEnrichment, ThreatIndicator, ThreatMatched};

/// One named list.
struct List {
    name: String,
    set: JointPrefixSet<IpNet>,
}

/// What loading one list found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// List name.
    pub name: String,
    /// Addresses and networks loaded.
    pub entries: usize,
    /// Lines that were neither an address, a network, a comment nor blank.
    pub bad_lines: usize,
    /// The first such line: its 1-based number and text (cut to 80 bytes).
    pub first_bad: Option<(usize, String)>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "blocklist {}: {} entries", self.name, self.entries)?;
        if let Some((n, text)) = &self.first_bad {
            write!(
                f,
                ", {} line(s) skipped as not an address (first: line {n}: {text:?})",
                self.bad_lines
            )?;
        }
        Ok(())
    }
}

/// Named address lists, looked up by client address.
#[derive(Default)]
pub struct Blocklists {
    lists: Vec<List>,
}

impl std::fmt::Debug for Blocklists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.lists.iter().map(|l| (&l.name, l.set.len())))
            .finish()
    }
}

/// The address or network a list line names, if any: the first word after
/// comments (`#`, `;`) are cut, so `1.2.3.0/24 ; SBL123` and
/// `192.0.2.7 # 2026-06-19 sshd` both read. Host bits of a network are
/// dropped (`192.0.2.7/24` is `192.0.2.0/24`).
pub fn parse_entry(line: &str) -> Result<Option<IpNet>, NotAnAddress> {
    let line = line.split(['#', ';']).next().unwrap_or("");
    let Some(word) = line.split_whitespace().next() else {
        return Ok(None);
    };
    let word = word.trim_end_matches(',');
    if let Ok(net) = word.parse::<IpNet>() {
        return Ok(Some(net.trunc()));
    }
    word.parse::<IpAddr>()
        .map(|a| Some(IpNet::from(a)))
        .map_err(|_| NotAnAddress)
}

/// A list line whose first word is neither an address nor a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnAddress;

impl Blocklists {
    /// No lists.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no list is loaded.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Adds a list from its text (one address or CIDR network per line).
    pub fn add(&mut self, name: &str, text: &str) -> LoadReport {
        let mut set = JointPrefixSet::new();
        let mut report = LoadReport {
            name: name.to_owned(),
            ..LoadReport::default()
        };
        for (i, line) in text.lines().enumerate() {
            match parse_entry(line) {
                Ok(Some(net)) => {
                    set.insert(net);
                    report.entries += 1;
                }
                Ok(None) => {}
                Err(NotAnAddress) => {
                    report.bad_lines += 1;
                    if report.first_bad.is_none() {
                        let mut cut = line.trim().to_owned();
                        if cut.len() > 80 {
                            let mut end = 80;
                            while !cut.is_char_boundary(end) {
                                end -= 1;
                            }
                            cut.truncate(end);
                        }
                        report.first_bad = Some((i + 1, cut));
                    }
                }
            }
        }
        self.lists.push(List {
            name: name.to_owned(),
            set,
        });
        report
    }

    /// Names of the lists that cover `ip`, in the order they were added.
    pub fn lookup(&self, ip: IpAddr) -> impl Iterator<Item = &str> + '_ {
        self.matches(ip).map(|(name, _)| name)
    }

    /// The lists that cover `ip`, each with its widest entry that does.
    pub fn matches(&self, ip: IpAddr) -> impl Iterator<Item = (&str, IpNet)> + '_ {
        let host = IpNet::from(ip);
        self.lists
            .iter()
            .filter_map(move |l| l.set.get_spm(&host).map(|net| (l.name.as_str(), net)))
    }

    /// The ECS `threat` of a client address, when a list covers it.
    pub fn threat(&self, ip: &str) -> Option<Box<Threat>> {
        if self.lists.is_empty() {
            return None;
        }
        let addr: IpAddr = ip.parse().ok()?;
        let kind = if addr.is_ipv4() { "ipv4-addr" } else { "ipv6-addr" };
        let enrichments: Vec<ThreatEnrichment> = self
            .matches(addr)
            .map(|(name, net)| ThreatEnrichment {
                indicator: ThreatIndicator {
                    ip: ip.to_owned(),
                    provider: name.to_owned(),
                    kind,
                    description: net.to_string(),
                },
                matched: ThreatMatched {
                    atomic: ip.to_owned(),
                    field: "client.ip",
                    kind: "indicator_match_rule",
                },
            })
            .collect();
        (!enrichments.is_empty()).then(|| Box::new(Threat { enrichments }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_formats_read() {
        let mut b = Blocklists::new();
        // Spamhaus DROP, FireHOL netset, OpenBL/fail2ban one address per line, IPv6.
        let text = "; Spamhaus DROP List 2026/06/19\n\
                    1.10.16.0/20 ; SBL256894\n\
                    # FireHOL netset\n\
                    72.38.252.2\n\
                    \n\
                    203.0.113.9 # banned by sshd\n\
                    2001:db8:10::/48 ; SBL9\n\
                    192.0.2.77/24\n\
                    <html>not a list</html>\n\
                    999.1.1.1\n";
        let r = b.add("drop", text);
        assert_eq!(r.entries, 5);
        assert_eq!(r.bad_lines, 2);
        assert_eq!(r.first_bad, Some((9, "<html>not a list</html>".to_owned())));
        let hit = |ip: &str| b.lookup(ip.parse().unwrap()).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(hit("1.10.31.255"), ["drop"]);
        assert!(hit("1.10.32.0").is_empty());
        assert_eq!(hit("72.38.252.2"), ["drop"]);
        assert!(hit("72.38.252.3").is_empty());
        assert_eq!(hit("2001:db8:10:ffff::1"), ["drop"]);
        assert!(hit("2001:db8:11::1").is_empty());
        assert_eq!(hit("192.0.2.1"), ["drop"], "host bits of a network are dropped");
    }

    #[test]
    fn several_lists_name_each_match() {
        let mut b = Blocklists::new();
        b.add("openbl", "72.38.252.2\n");
        b.add("firehol", "72.38.0.0/16\n10.0.0.0/8\n");
        let names: Vec<&str> = b.lookup("72.38.252.2".parse().unwrap()).collect();
        assert_eq!(names, ["openbl", "firehol"]);
        let names: Vec<&str> = b.lookup("10.1.2.3".parse().unwrap()).collect();
        assert_eq!(names, ["firehol"]);
    }
}
