// TypeScript types of the objects postfix-enrich returns, inserted into the
// generated .d.ts by wasm-bindgen (typescript_custom_section). They mirror
// plugin/core/src/event.rs and explain.rs; the JSON Schema in schemas/ is
// the authority, these cover the fields a JS consumer reads most.

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

/** All sessions of one client address, as `postfix-enrich explain --json` prints. */
export interface ClientReport {
  address: string;
  names: string[];
  suspicious: boolean;
  /** `[class, count]`, most frequent first. */
  classes: [string, number][];
  sessions: SessionReport[];
}
