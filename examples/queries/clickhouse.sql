-- ClickHouse: a table for postfix-enrich's NDJSON Events, how to load the
-- CLI's output into it, and the questions the project answers, each as a
-- named query. Every statement here is run by tests/queries/test_clickhouse.py
-- on an embedded ClickHouse (chdb) over the CLI's output for the recorded
-- corpus and for a day-sized log.
--
-- Placeholders: `{events}` is the path of the NDJSON file the CLI wrote
-- (`postfix-enrich /var/log/mail.log > events.ndjson`); `{session_id:String}`
-- and the like are ClickHouse query parameters (`clickhouse-client
-- --param_session_id=3f9a0c5e12b7d4a8`).
--
-- The fields people filter on are typed columns; the whole Event stays in
-- `doc` (JSON), so every other field is one `doc.a.b` away, and the message
-- record (`postfix.message`, on the line that removes a queue id) is kept as
-- its JSON text in `record` for the message queries.

-- name: create_events
CREATE TABLE IF NOT EXISTS postfix_events
(
    ts                DateTime64(6, 'UTC'),
    line              UInt64,
    host              LowCardinality(String),
    daemon            LowCardinality(String),
    event             LowCardinality(String),
    queue_id          String,
    session_id        String,
    client_ip         String,
    client_port       Nullable(UInt16),
    user_name         String,
    sender            String,
    recipient         String,
    delivery_status   LowCardinality(String),
    smtp_verb         LowCardinality(String),
    reject_class      LowCardinality(String),
    probe_class       LowCardinality(String),
    probe_suspicious  Nullable(Bool),
    message           String,
    record            String,
    doc               JSON
)
ENGINE = MergeTree
ORDER BY (host, ts, line);

-- name: load_events
-- One row per Event; `line` keeps the file order within a second (the
-- classic syslog stamp has no fraction).
INSERT INTO postfix_events
SELECT
    parseDateTime64BestEffortOrZero(JSONExtractString(json, '@timestamp'), 6, 'UTC') AS ts,
    rowNumberInAllBlocks() AS line,
    JSONExtractString(json, 'host', 'name') AS host,
    JSONExtractString(json, 'postfix', 'daemon') AS daemon,
    JSONExtractString(json, 'postfix', 'event') AS event,
    JSONExtractString(json, 'postfix', 'queue_id') AS queue_id,
    JSONExtractString(json, 'postfix', 'session_id') AS session_id,
    JSONExtractString(json, 'client', 'ip') AS client_ip,
    if(JSONHas(json, 'client', 'port'), toUInt16(JSONExtractUInt(json, 'client', 'port')), NULL) AS client_port,
    JSONExtractString(json, 'user', 'name') AS user_name,
    JSONExtractString(json, 'email', 'from', 'address') AS sender,
    JSONExtractString(json, 'email', 'to', 'address') AS recipient,
    JSONExtractString(json, 'postfix', 'delivery', 'status') AS delivery_status,
    JSONExtractString(json, 'smtp', 'verb') AS smtp_verb,
    JSONExtractString(json, 'smtp', 'reject', 'class') AS reject_class,
    JSONExtractString(json, 'probe', 'class') AS probe_class,
    if(JSONHas(json, 'probe'), JSONExtractBool(json, 'probe', 'suspicious'), NULL) AS probe_suspicious,
    JSONExtractString(json, 'message') AS message,
    JSONExtractRaw(json, 'postfix', 'message') AS record,
    json AS doc
FROM file('{events}', 'JSONAsString')
SETTINGS max_threads = 1, input_format_parallel_parsing = 0;

-- name: probers
-- Clients that only probe: every session of theirs got a suspicious verdict
-- (probes, scans, brute force, ...), none authenticated, and no message of
-- theirs reached the queue (a message record names them as its client).
SELECT
    client_ip,
    count() AS sessions,
    arraySort(groupUniqArray(probe_class)) AS classes,
    min(ts) AS first,
    max(ts) AS last
FROM postfix_events
WHERE probe_class != '' AND client_ip != ''
  AND client_ip NOT IN (
      SELECT JSONExtractString(record, 'client', 'ip') FROM postfix_events WHERE record != '')
GROUP BY client_ip
HAVING countIf(NOT probe_suspicious) = 0
   AND countIf(probe_class IN ('authenticated_submission', 'authenticated_idle')) = 0
ORDER BY sessions DESC, client_ip;

-- name: bruteforce_by_source
-- AUTH brute force per address: failed AUTH lines, user names tried, and
-- sessions the enricher classified as brute force.
SELECT
    client_ip,
    countIf(event = 'sasl_failure') AS failed_auth_lines,
    uniqExactIf(user_name, event = 'sasl_failure' AND user_name != '') AS users_tried,
    countIf(probe_class = 'auth_bruteforce') AS bruteforce_sessions,
    min(ts) AS first,
    max(ts) AS last
FROM postfix_events
WHERE client_ip != ''
GROUP BY client_ip
HAVING bruteforce_sessions > 0
ORDER BY bruteforce_sessions DESC, client_ip;

-- name: session_lines
-- Every line of one session, in log order: smtpd's lines and the lines of
-- the messages it queued (cleanup, qmgr, delivery), which carry its id too.
SELECT ts, daemon, event, queue_id, smtp_verb, delivery_status, probe_class, message
FROM postfix_events
WHERE session_id = {session_id:String}
ORDER BY host, ts, line;

-- name: message_status
-- One row per message, from the records on the lines that removed them:
-- who sent it from where (and that session's verdict), and what happened to
-- each recipient, in the order Postfix logged them.
SELECT
    queue_id,
    JSONExtractString(record, 'origin') AS origin,
    JSONExtractString(record, 'sender') AS sender,
    JSONExtractString(record, 'client', 'ip') AS client_ip,
    JSONExtractString(record, 'client', 'verdict') AS verdict,
    JSONExtractString(record, 'session_id') AS session_id,
    JSONExtractString(record, 'message_id') AS message_id,
    JSONExtractString(record, 'end') AS end,
    JSONExtractBool(record, 'expired') AS expired,
    arrayMap(r -> JSONExtractString(r, 'address'), JSONExtractArrayRaw(record, 'recipients')) AS recipients,
    arrayMap(r -> JSONExtractString(r, 'status'), JSONExtractArrayRaw(record, 'recipients')) AS statuses,
    arrayMap(r -> toUInt32(JSONExtractUInt(r, 'deferred')), JSONExtractArrayRaw(record, 'recipients')) AS deferrals,
    arrayMap(r -> toUInt16(JSONExtractUInt(r, 'reply', 'code')), JSONExtractArrayRaw(record, 'recipients')) AS reply_codes,
    JSONExtractString(record, 'bounce_queue_id') AS bounce_queue_id,
    parseDateTime64BestEffortOrZero(JSONExtractString(record, 'first_seen'), 6, 'UTC') AS first_seen,
    ts AS last_seen
FROM postfix_events
WHERE record != ''
ORDER BY host, ts, line;

-- name: verdicts_per_hour
-- Session verdicts per hour and class.
SELECT
    toStartOfHour(ts) AS hour,
    probe_class,
    count() AS sessions,
    countIf(probe_suspicious) AS suspicious
FROM postfix_events
WHERE probe_class != ''
GROUP BY hour, probe_class
ORDER BY hour, probe_class;
