//! Housekeeping lines with numbers in them: what an administrator did to the
//! queue with `postsuper` (per message, then a count per operation), and the
//! periodic cleanup report of Postfix's on-disk caches (`verify`'s address
//! cache, `postscreen`'s client cache), written by `util/dict_cache.c`.

use super::{fields, Message, Severity};

/// postsuper's per-message lines (postsuper.c `delete_one` ... `expire_one`)
/// and its closing counts (`Deleted: 3 messages`). `<qid>: removed` is left to
/// the queue parser: it ends a queue id's life whoever logs it.
pub(super) fn parse_postsuper(severity: Severity, body: &str) -> Option<Message<'_>> {
    if severity != Severity::Info {
        return None;
    }
    if let Some((Some(qid), rest)) = fields::queue_prefix(body) {
        let action = match rest {
            "requeued" => "requeued",
            "placed on hold" => "held",
            "released from hold" => "released",
            "expired" => "expired",
            _ => return None,
        };
        return Some(Message::QueueAdmin {
            queue_id: Some(qid),
            action,
            count: None,
        });
    }
    // "%s: %d message%s", one line per operation the command ran.
    let (label, rest) = body.split_once(": ")?;
    let action = match label {
        "Deleted" => "deleted",
        "Requeued" => "requeued",
        "Placed on hold" => "held",
        "Released from hold" => "released",
        "Force-expired" => "expired",
        "Renamed to match inode number" => "renamed",
        _ => return None,
    };
    let (n, unit) = rest.split_once(' ')?;
    if unit != "message" && unit != "messages" {
        return None;
    }
    Some(Message::QueueAdmin {
        queue_id: None,
        action,
        count: Some(fields::num(n)?),
    })
}

/// `cache <table> full|partial cleanup: retained=N dropped=N entries`.
pub(super) fn parse_cache_cleanup(body: &str) -> Option<Message<'_>> {
    let rest = body.strip_prefix("cache ")?;
    let (head, counts) = rest.split_once(" cleanup: ")?;
    let (table, scope) = head.rsplit_once(' ')?;
    let scope = match scope {
        "full" => "full",
        "partial" => "partial",
        _ => return None,
    };
    let counts = counts.strip_suffix(" entries")?;
    let (retained, dropped) = counts.split_once(' ')?;
    Some(Message::CacheCleanup {
        table,
        scope,
        retained: fields::num(retained.strip_prefix("retained=")?)?,
        dropped: fields::num(dropped.strip_prefix("dropped=")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(body: &str) -> Option<(Option<&str>, &'static str, Option<u32>)> {
        match parse_postsuper(Severity::Info, body)? {
            Message::QueueAdmin {
                queue_id,
                action,
                count,
            } => Some((queue_id, action, count)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn postsuper_per_message_lines() {
        assert_eq!(
            admin("4F9D12A3B4: requeued"),
            Some((Some("4F9D12A3B4"), "requeued", None))
        );
        assert_eq!(
            admin("4F9D12A3B4: placed on hold"),
            Some((Some("4F9D12A3B4"), "held", None))
        );
        assert_eq!(
            admin("4bQ8Zk3sJvz9tFq: released from hold"),
            Some((Some("4bQ8Zk3sJvz9tFq"), "released", None))
        );
        assert_eq!(
            admin("4F9D12A3B4: expired"),
            Some((Some("4F9D12A3B4"), "expired", None))
        );
        assert_eq!(admin("4F9D12A3B4: removed"), None, "left to the queue parser");
        assert_eq!(parse_postsuper(Severity::Warning, "4F9D12A3B4: requeued"), None);
    }

    #[test]
    fn postsuper_counts_singular_and_plural() {
        assert_eq!(admin("Deleted: 1 message"), Some((None, "deleted", Some(1))));
        assert_eq!(admin("Deleted: 12 messages"), Some((None, "deleted", Some(12))));
        assert_eq!(admin("Requeued: 0 messages"), Some((None, "requeued", Some(0))));
        assert_eq!(admin("Placed on hold: 3 messages"), Some((None, "held", Some(3))));
        assert_eq!(
            admin("Released from hold: 2 messages"),
            Some((None, "released", Some(2)))
        );
        assert_eq!(admin("Force-expired: 5 messages"), Some((None, "expired", Some(5))));
        assert_eq!(
            admin("Renamed to match inode number: 1 message"),
            Some((None, "renamed", Some(1)))
        );
        assert_eq!(admin("Deleted: many messages"), None);
        assert_eq!(admin("Deleted: 3 files"), None);
    }

    #[test]
    fn cache_cleanup_counts() {
        let m = parse_cache_cleanup(
            "cache btree:/var/lib/postfix/verify_cache full cleanup: retained=1520 dropped=37 entries",
        );
        assert_eq!(
            m,
            Some(Message::CacheCleanup {
                table: "btree:/var/lib/postfix/verify_cache",
                scope: "full",
                retained: 1520,
                dropped: 37
            })
        );
        let m = parse_cache_cleanup(
            "cache lmdb:/var/lib/postfix/postscreen_cache partial cleanup: retained=0 dropped=0 entries",
        );
        assert!(matches!(m, Some(Message::CacheCleanup { scope: "partial", .. })));
        assert_eq!(
            parse_cache_cleanup("cache btree:/x full cleanup: retained=x dropped=0 entries"),
            None
        );
        assert_eq!(
            parse_cache_cleanup("cache btree:/x cleanup: retained=1 dropped=0 entries"),
            None
        );
    }
}
