//! Core [`Event`] → typed protobuf [`pb::Event`], field by field (the proto
//! mirrors the JSON form; see proto/postfix_enrich/v1/enricher.proto), plus
//! the request-side overrides of a `LogLine`.

use postfix_enrich_core::event::{Endpoint, MessageRecord, Stats, Threat};
use postfix_enrich_core::{Event, Timestamp};

use crate::pb::v1 as pb;

/// A core timestamp as a protobuf one (UTC instant).
pub fn timestamp(t: &Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_seconds(),
        nanos: t.nanos as i32,
    }
}

fn s(c: &str) -> String {
    c.to_owned()
}

fn os<T: AsRef<str>>(c: &Option<T>) -> Option<String> {
    c.as_ref().map(|c| c.as_ref().to_owned())
}

fn endpoint(e: &Endpoint<'_>) -> pb::Endpoint {
    pb::Endpoint {
        ip: os(&e.ip),
        domain: os(&e.domain),
        port: e.port.map(u32::from),
        address: os(&e.address),
    }
}

fn counts(st: &Stats) -> Vec<pb::CommandCount> {
    st.0.iter()
        .map(|&(verb, ok, total)| pb::CommandCount {
            verb: verb.to_owned(),
            ok,
            total,
        })
        .collect()
}

/// The protobuf form of `ev`.
pub fn event(ev: &Event<'_>) -> pb::Event {
    let p = &ev.postfix;
    pb::Event {
        timestamp: ev.timestamp.as_ref().map(timestamp),
        timestamp_offset_minutes: ev.timestamp.as_ref().map_or(0, |t| i32::from(t.offset_minutes)),
        message: s(&ev.message),
        host: ev.host.as_ref().map(|h| pb::Host { name: s(&h.name) }),
        process: ev.process.as_ref().map(|p| pb::Process {
            name: s(&p.name),
            pid: p.pid,
        }),
        log: Some(pb::Log {
            level: ev.log.level.map(s),
            syslog: ev.log.syslog.as_ref().map(|sl| pb::Syslog {
                appname: s(&sl.appname),
            }),
            format: s(ev.log.format),
        }),
        event: Some(pb::EventInfo {
            category: s(ev.event.category),
            action: s(ev.event.action),
            outcome: ev.event.outcome.map(s),
            dataset: s(ev.event.dataset),
        }),
        client: ev.client.as_ref().map(endpoint),
        server: ev.server.as_ref().map(endpoint),
        user: ev.user.as_ref().map(|u| pb::User { name: s(&u.name) }),
        email: ev.email.as_ref().map(|e| pb::Email {
            from: e.from.as_ref().map(|a| pb::Address { address: s(&a.address) }),
            to: e.to.as_ref().map(|a| pb::Address { address: s(&a.address) }),
            message_id: os(&e.message_id),
            direction: e.direction.map(s),
        }),
        tls: ev.tls.as_ref().map(|t| pb::Tls {
            version: os(&t.version),
            version_protocol: t.version_protocol.map(s),
            cipher: os(&t.cipher),
            established: t.established,
            resumed: t.resumed,
            trust: os(&t.trust),
            server_name: os(&t.server_name),
            action: s(t.action),
            detail: os(&t.detail),
        }),
        smtp: ev.smtp.as_ref().map(|m| pb::Smtp {
            verb: m.verb.map(s),
            direction: m.direction.map(s),
            arguments: os(&m.arguments),
            reply: m.reply.as_ref().map(|r| pb::SmtpReply {
                code: u32::from(r.code),
                enhanced: os(&r.enhanced),
                text: s(&r.text),
                last: r.last,
            }),
            helo: os(&m.helo),
            helo_fqdn: m.helo_fqdn,
            stage: os(&m.stage),
            proto: os(&m.proto),
            reject: m.reject.as_ref().map(|r| pb::Reject {
                action: s(&r.action),
                reason: s(&r.reason),
                class: s(r.class),
            }),
        }),
        postfix: Some(pb::Postfix {
            event: s(p.event.as_str()),
            instance: os(&p.instance),
            daemon: os(&p.daemon),
            queue_id: os(&p.queue_id),
            session_id: p.session_id.map(|id| id.to_string()),
            related_queue_id: os(&p.related_queue_id),
            disconnect_stats: p.disconnect_stats.as_ref().map(counts).unwrap_or_default(),
            disconnect_notes: p.disconnect_notes.map(s),
            bytes: p.bytes,
            size: p.size,
            nrcpt: p.nrcpt,
            delivery: p.delivery.as_ref().map(|d| pb::Delivery {
                status: s(&d.status),
                relay: os(&d.relay),
                dsn: os(&d.dsn),
                delay: d.delay,
                delays: d.delays.map(|x| pb::Delays {
                    before_queue_manager: x.before_queue_manager,
                    in_queue_manager: x.in_queue_manager,
                    connection_setup: x.connection_setup,
                    transmission: x.transmission,
                }),
                conn_use: d.conn_use,
                tls: os(&d.tls),
                orig_to: os(&d.orig_to),
                text: os(&d.text),
            }),
            sasl: p.sasl.as_ref().map(|x| pb::Sasl {
                method: os(&x.method),
                reason: os(&x.reason),
                aborted: x.aborted,
            }),
            postscreen: p.postscreen.as_ref().map(|x| pb::Postscreen {
                action: s(x.action),
                stage: os(&x.stage),
                detail: os(&x.detail),
                count: x.count,
                seconds: x.seconds,
            }),
            dnsbl: p.dnsbl.as_ref().map(|x| pb::Dnsbl {
                domain: s(&x.domain),
                result: s(&x.result),
            }),
            anvil: p.anvil.as_ref().map(|x| pb::Anvil {
                metric: s(&x.metric),
                value: x.value,
                ident: os(&x.ident),
                service: os(&x.service),
            }),
            invalid_utf8: p.invalid_utf8,
            redacted: p.redacted,
            delivery_failure: p.delivery_failure.map(s),
            detail: os(&p.detail),
            limit: p.limit.as_ref().map(|x| pb::Limit {
                kind: s(x.kind),
                count: x.count,
                service: s(&x.service),
            }),
            message_id_trailing: os(&p.message_id_trailing),
            queue_admin: p.queue_admin.as_ref().map(|x| pb::QueueAdmin {
                action: s(x.action),
                count: x.count,
            }),
            cache: p.cache.as_ref().map(|x| pb::CacheCleanup {
                table: s(&x.table),
                scope: s(x.scope),
                retained: x.retained,
                dropped: x.dropped,
            }),
            message: p.message.as_deref().map(message_record),
        }),
        probe: ev.probe.as_ref().map(|pr| pb::Probe {
            class: s(pr.class.as_str()),
            suspicious: pr.suspicious,
            reasons: pr.reasons.iter().map(|r| r.to_string()).collect(),
            confidence: s(pr.confidence.as_str()),
            evidence: s(pr.evidence.as_str()),
            flags: pr.flags.iter().map(|f| s(f)).collect(),
            commands: pr.commands.as_ref().map(counts).unwrap_or_default(),
            duration: pr.duration,
        }),
        threat: ev.threat.as_deref().map(threat),
    }
}

fn threat(t: &Threat) -> pb::Threat {
    pb::Threat {
        enrichments: t
            .enrichments
            .iter()
            .map(|e| pb::ThreatEnrichment {
                indicator: Some(pb::ThreatIndicator {
                    ip: s(&e.indicator.ip),
                    provider: s(&e.indicator.provider),
                    r#type: s(e.indicator.kind),
                    description: s(&e.indicator.description),
                }),
                matched: Some(pb::ThreatMatched {
                    atomic: s(&e.matched.atomic),
                    field: s(e.matched.field),
                    r#type: s(e.matched.kind),
                }),
            })
            .collect(),
    }
}

fn message_record(m: &MessageRecord<'_>) -> pb::MessageRecord {
    pb::MessageRecord {
        queue_id: s(&m.queue_id),
        session_id: m.session_id.map(|id| id.to_string()),
        origin: s(m.origin),
        client: m.client.as_ref().map(|c| pb::MessageClient {
            ip: os(&c.ip),
            domain: os(&c.domain),
            port: c.port.map(u32::from),
            verdict: c.verdict.map(|v| s(v.as_str())),
            suspicious: c.suspicious,
        }),
        user: os(&m.user),
        sasl_method: os(&m.sasl_method),
        sender: os(&m.sender),
        size: m.size,
        nrcpt: m.nrcpt,
        message_id: os(&m.message_id),
        first_seen: m.first_seen.as_ref().map(timestamp),
        last_seen: m.last_seen.as_ref().map(timestamp),
        delay: m.delay,
        end: s(m.end),
        expired: m.expired,
        recipients: m
            .recipients
            .iter()
            .map(|r| pb::RecipientRecord {
                address: s(&r.address),
                orig_address: os(&r.orig_address),
                status: s(&r.status),
                deferred: r.deferred,
                dsn: os(&r.dsn),
                relay: os(&r.relay),
                delay: r.delay,
                reply: r.reply.as_ref().map(|x| pb::RemoteReply {
                    code: u32::from(x.code),
                    enhanced: os(&x.enhanced),
                    text: s(&x.text),
                    in_reply_to: os(&x.in_reply_to),
                }),
                detail: os(&r.detail),
            })
            .collect(),
        recipients_omitted: m.recipients_omitted,
        bounce_queue_id: os(&m.bounce_queue_id),
        notice_of: os(&m.notice_of),
        gaps: m.gaps.iter().map(|g| s(g)).collect(),
    }
}

/// Applies a `LogLine`'s defaults: its host when the line named none, its
/// received time when the line had no stamp.
pub fn apply_line_defaults(line: &pb::LogLine, ev: &mut pb::Event) {
    if ev.host.is_none() {
        if let Some(h) = &line.host {
            ev.host = Some(pb::Host { name: h.clone() });
        }
    }
    if ev.timestamp.is_none() {
        if let Some(t) = line.received_time {
            ev.timestamp = Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_of_a_calendar_stamp() {
        let t = Timestamp {
            year: 2024,
            month: 6,
            day: 19,
            hour: 16,
            minute: 27,
            second: 21,
            nanos: 5,
            frac_digits: 6,
            offset_minutes: 120,
        };
        // 2024-06-19T14:27:21Z
        assert_eq!(timestamp(&t).seconds, 1_718_807_241);
        assert_eq!(timestamp(&t).nanos, 5);
    }
}
