// TypeScript types of the objects postfix-enrich returns, inserted into the
// generated .d.ts by wasm-bindgen (typescript_custom_section). They mirror
// plugin/core/src/event.rs, explain.rs and report/; the JSON Schemas in
// schemas/ (event, report) are the authority, these cover the fields a JS
// consumer reads most.

/** Per-verb command counts: `{"ehlo": {"ok": 1, "total": 1}, ...}`. */
export type Stats = Record<string, { ok: number; total: number }>;

/** ECS `client` / `server`. */
export interface Endpoint { ip?: string; domain?: string; port?: number; address?: string }

/** A session verdict (on the line that ends a session). */
export interface Probe {
  class: VerdictClass;
  suspicious: boolean;
  reasons: string[];
  confidence: "high" | "medium" | "low";
  evidence: "trace" | "statistics" | "lines";
  flags?: string[];
  commands?: Stats;
  duration?: number;
}

export type VerdictClass =
  | "non_smtp" | "auth_bruteforce" | "auth_failure" | "authenticated_submission"
  | "relay_probe" | "recipient_enumeration" | "mail_accepted" | "policy_rejected"
  | "protocol_violation" | "starttls_probe" | "ehlo_quit_probe" | "helo_quit_probe"
  | "authenticated_idle" | "connect_only" | "timeout" | "aborted" | "postscreen_pass"
  | "unknown";

/** One enriched log line (see schemas/ for every field). */
export interface Event {
  "@timestamp"?: string;
  /** The line, secrets replaced by `[redacted]`. */
  message: string;
  host?: { name: string };
  process?: { name: string; pid?: number };
  log: { level?: string; syslog?: { appname: string }; format: string };
  event: { category: string; action: string; outcome?: string; dataset: string };
  client?: Endpoint;
  server?: Endpoint;
  user?: { name: string };
  email?: {
    from?: { address: string };
    to?: { address: string };
    message_id?: string;
    direction?: "inbound" | "outbound";
  };
  tls?: { action: string; version?: string; cipher?: string; [k: string]: unknown };
  smtp?: {
    verb?: string;
    direction?: "client_to_server" | "server_to_client";
    arguments?: string;
    reply?: { code: number; enhanced?: string; text: string; last: boolean };
    helo?: string;
    helo_fqdn?: boolean;
    stage?: string;
    proto?: string;
    reject?: { action: string; reason: string; class: string };
  };
  postfix: {
    event: string;
    instance?: string;
    daemon?: string;
    queue_id?: string;
    session_id?: string;
    disconnect_stats?: Stats;
    redacted?: boolean;
    invalid_utf8?: boolean;
    [k: string]: unknown;
  };
  probe?: Probe;
}

/** One line of a session timeline. */
export interface Step { time?: string; kind: string; arrow: "<" | ">" | ""; text: string }

/** One session of a client. */
export interface SessionReport {
  session_id: string;
  daemon?: string;
  pid?: number;
  start?: string;
  steps: Step[];
  steps_omitted: number;
  verdict?: Probe;
  queue_ids: string[];
}

/** All sessions of one client address, as `postfix-enrich explain --sessions --json` prints. */
export interface SessionsReport {
  address: string;
  names: string[];
  suspicious: boolean;
  /** `[class, count]`, most frequent first. */
  classes: [string, number][];
  sessions: SessionReport[];
}

/** Options of `new Enricher(options)` and `explain(text, options)`. */
export interface EnricherOptions {
  /** Milliseconds since the epoch that date year-less stamps (default now). */
  referenceTime?: number;
  /** Blocklists as text, by name (`--blocklist NAME=PATH`): one address or CIDR per line, `#`/`;` comments. */
  blocklists?: Record<string, string>;
  /** Only these clients in the report: addresses or CIDR networks (`--client`). */
  client?: string | string[];
  /** Only suspicious sessions (`--suspicious`). */
  suspicious?: boolean;
  /** Only sessions with this verdict (`--class`). */
  class?: VerdictClass;
  /** Only sessions that started at or after this time: `2026-06-19 08:00`, RFC 3339, or ms since the epoch (`--since`). */
  since?: string | number | Date;
  /** Only sessions that started before this time (`--until`). */
  until?: string | number | Date;
  /** Keep every session's timeline for `sessions()` (grows with the input). */
  sessions?: boolean;
}

/** Options of `explain(text, options)`. */
export interface ExplainOptions extends EnricherOptions {
  /** Called once per blocklist that had lines that are not addresses. */
  onWarning?: (message: string) => void;
}

/** What loading one blocklist found. */
export interface BlocklistLoad {
  name: string;
  entries: number;
  bad_lines: number;
  first_bad?: { line: number; text: string };
  /** The line the CLI prints on stderr for this list. */
  message: string;
}

/** The report (`postfix-enrich explain --json`; schemas/report.schema.json). */
export interface Report {
  report_version: string;
  lines: number;
  first_seen?: string;
  last_seen?: string;
  span_seconds?: number;
  sessions: number;
  suspicious_sessions: number;
  unfinished_sessions: number;
  client_count: number;
  clients_not_kept: number;
  sessions_not_kept: number;
  /** Ranked: suspicious first (worst first), then the rest by volume. */
  clients: ClientReport[];
  overview: Overview;
}

/** How one screen presents the clients (the CLI's text and the page follow it). */
export interface Overview {
  /** Every client's detail fits one screen: show those instead. */
  details: boolean;
  /** The first `listed` clients are shown one by one. */
  listed: number;
  more_suspicious?: ClientGroup;
  legitimate?: ClientGroup;
  other?: ClientGroup;
}

export interface ClientGroup {
  clients: number;
  sessions: number;
  classes: ClassCount[];
  messages_accepted: number;
  auth_successes: number;
}

export interface ClassCount { class: VerdictClass; count: number }

export type Rhythm =
  | { kind: "regular"; period_seconds: number; jitter_seconds: number; in_rhythm: number }
  | { kind: "bursts"; bursts: number; within_seconds: number; apart_seconds: number };

/** One client address and everything its sessions did. */
export interface ClientReport {
  address: string;
  names: string[];
  blocklists: string[];
  sessions: number;
  suspicious_sessions: number;
  unfinished_sessions: number;
  suspicious: boolean;
  severity: number;
  classes: ClassCount[];
  first_seen?: string;
  last_seen?: string;
  cadence?: Rhythm;
  tried: {
    auth_attempts: number; user_names: string[]; user_names_more: boolean;
    mail: number; rcpt: number; rcpt_rejected: number; relay_targets: string[];
  };
  got: { messages_accepted: number; auth_successes: number };
  helo_names: string[];
  /** Sessions grouped by shape, most frequent first, one example each (absent when the report's example budget went to more frequent patterns). */
  patterns: { count: number; pattern: string; example?: SessionReport }[];
  other_pattern_sessions: number;
  verdicts: { count: number; verdict: Probe }[];
  conclusion: string;
}
