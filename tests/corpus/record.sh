#!/usr/bin/env bash
# Record a real Postfix corpus with ground-truth labels.
#
#   bash tests/corpus/record.sh [OUTDIR]      (default OUTDIR: tests/corpus/recording)
#
# Needs root on Debian 12 with apt access. Installs postfix, dovecot-core,
# ssl-cert, rsyslog, rbldnsd and faketime if missing, runs a throw-away Postfix
# lab on 127.0.0.1 and ::1, drives scripted SMTP sessions from 127.0.0.x (and
# ::1) source addresses and writes
#   OUTDIR/mail.log        Postfix's own maillog_file (postlogd), byte-exact
#   OUTDIR/syslog.log      the same records as rsyslog writes them (RFC 3339)
#   OUTDIR/syslog-3164.log the same records, RFC 3164 with an unpadded day
#   OUTDIR/labels.jsonl    one JSON object per client session (ground truth)
#   OUTDIR/messages.jsonl  one JSON object per message (ground truth)
# See tests/corpus/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUTDIR="${1:-$REPO/tests/corpus/recording}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"

LAB_RUN=/run/postfix-lab            # sockets, pids, generated rsyslog config
LAB_LOG=/var/log/postfix-lab        # maillog_file must live under /var
LAB_ETC=/etc/postfix-lab            # dovecot config and passwd-file
MAILLOG="$LAB_LOG/mail.log"
SYSLOG="$LAB_LOG/syslog.log"
SYSLOG3164="$LAB_LOG/syslog-3164.log"
SINK_PORT=2526                      # sink.test -> loopback SMTP sink
DEAD_PORT=2527                      # dead.test -> nothing listens here
# the sink's failure modes, one port each (see driver.py SINK_MODES)
SINK_PORTS="normal=$SINK_PORT,greetdrop=2528,silent=2529,refuse=2530,dropmail=2531,dropdata=2532"
SINK_PORTS="$SINK_PORTS,rcpt450=2533,pix=2534,starttls=2535,auth535=2536"
DNSBL_ADDR=127.0.1.53               # rbldnsd serves bl.lab.test here, port 53
QUEUE_LIFETIME=20                   # maximal_queue_lifetime, seconds
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
STARTED_AT=$(date +%s)

DRIVER="$HERE/driver.py"
PY=python3

log() { printf '[record %3ss] %s\n' "$(( $(date +%s) - STARTED_AT ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------------------------------------------------------------- install
OUR_POLICY_RC=0
install_packages() {
    local missing=()
    # libsasl2-modules: the PLAIN mechanism for the smtp client's SASL (smtpauth)
    for p in postfix dovecot-core ssl-cert rsyslog rbldnsd faketime libsasl2-modules; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # the driver needs a full python3 (asyncio, ssl); minimal images may lack it
    [ -x /usr/bin/python3 ] || command -v python3 >/dev/null 2>&1 || missing+=(python3)
    [ ${#missing[@]} -eq 0 ] && { log "packages already installed"; return; }
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string mail.lab.test" | debconf-set-selections
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        OUR_POLICY_RC=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" </dev/null >/dev/null
    if [ "$OUR_POLICY_RC" = 1 ]; then rm -f /usr/sbin/policy-rc.d; OUR_POLICY_RC=0; fi
}

# ---------------------------------------------------------------- stop/cleanup
SINK_PID=""; RELAY_PID=""; RSYSLOG_PID=""; RSYSLOG3164_PID=""; RBLDNSD_PID=""
# Postfix's master pid, if it runs (no "postfix status": that writes log lines)
master_pid() {
    local f pid
    f="$(postconf -h queue_directory 2>/dev/null || echo /var/spool/postfix)/pid/master.pid"
    [ -f "$f" ] || return 1
    pid=$(tr -dc '0-9' < "$f")
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = master ] && echo "$pid"
}
stop_postfix() {
    local pid
    pid=$(master_pid) || return 0
    postfix stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
}
stop_dovecot() {
    if [ -f "$LAB_ETC/dovecot.conf" ] && [ -f "$LAB_RUN/dovecot/master.pid" ]; then
        doveadm -c "$LAB_ETC/dovecot.conf" stop >/dev/null 2>&1 || \
            kill "$(cat "$LAB_RUN/dovecot/master.pid")" 2>/dev/null || true
        for _ in $(seq 50); do [ -f "$LAB_RUN/dovecot/master.pid" ] || break; sleep 0.1; done
    fi
}
kill_pid() {  # kill one process we started, by pid, and wait for it
    local pid="$1"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_postfix
    stop_dovecot
    kill_pid "$SINK_PID"; SINK_PID=""
    kill_pid "$RELAY_PID"; RELAY_PID=""
    kill_pid "$RSYSLOG_PID"; RSYSLOG_PID=""
    kill_pid "$RSYSLOG3164_PID"; RSYSLOG3164_PID=""
    kill_pid "$RBLDNSD_PID"; RBLDNSD_PID=""
    # the chroot's resolver config as Debian's own start script would write it
    [ -d /var/spool/postfix/etc ] && cp /etc/resolv.conf /var/spool/postfix/etc/resolv.conf 2>/dev/null
    if [ "$OUR_POLICY_RC" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    # leave no deferred test mail behind for the next run
    postsuper -d ALL >/dev/null 2>&1 || true
    [ $rc -ne 0 ] && log "failed (exit $rc); lab logs are in $LAB_LOG"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- configure
configure() {
    # stale state from an earlier (possibly failed) run
    stop_postfix
    stop_dovecot
    mkdir -p "$LAB_RUN" "$LAB_LOG" "$LAB_ETC"
    rm -rf "$LAB_RUN"/* "$LAB_LOG"/*

    [ -f /etc/ssl/certs/ssl-cert-snakeoil.pem ] && [ -f /etc/ssl/private/ssl-cert-snakeoil.key ] \
        || make-ssl-cert generate-default-snakeoil --force-overwrite

    # local mailbox user; alice is only a SASL account, her mail goes to bob
    id bob >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin bob

    cat > /etc/postfix/main.cf <<CF
# Written by tests/corpus/record.sh -- overwritten on every run.
compatibility_level = 3.6
myhostname = mail.lab.test
mydomain = lab.test
myorigin = \$mydomain
mydestination = \$myhostname, \$mydomain, localhost
inet_interfaces = 127.0.0.1, [::1]
inet_protocols = all
# only the server itself: every scripted client (127.0.0.2+) is a stranger;
# ::1 is in mynetworks, which no restriction of this lab consults
mynetworks = 127.0.0.1/32, [::1]/128
relayhost =
relay_domains =
biff = no
append_dot_mydomain = no
readme_directory = no

maillog_file = $MAILLOG
smtpd_banner = \$myhostname ESMTP Postfix

alias_maps = hash:/etc/postfix/lab-aliases
alias_database = hash:/etc/postfix/lab-aliases
local_recipient_maps = proxy:unix:passwd.byname \$alias_maps

# no DNS anywhere: numeric next hops, everything else fails at once
transport_maps = hash:/etc/postfix/lab-transport
default_transport = error:5.7.1 this lab delivers only to lab.test, sink.test and dead.test
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
# the sink's silent port: give up on a missing greeting or reply quickly
smtp_connect_timeout = 3s
smtp_helo_timeout = 3s
smtp_mail_timeout = 3s
smtp_rcpt_timeout = 3s
smtp_data_init_timeout = 3s
smtp_data_xfer_timeout = 3s
smtp_data_done_timeout = 3s
# deferred mail expires after this (status=expired); only the message the
# driver retries late is ever tried again, so nothing else expires
maximal_queue_lifetime = ${QUEUE_LIFETIME}s
bounce_queue_lifetime = ${QUEUE_LIFETIME}s

smtpd_peername_lookup = no
smtpd_client_port_logging = yes
smtpd_timeout = 3s
smtpd_hard_error_limit = 5
disable_vrfy_command = no
# anvil limits, for three IPv4 clients and ::1 only (everyone else is exempt)
anvil_status_update_time = 10s
smtpd_client_connection_rate_limit = 5
smtpd_client_connection_count_limit = 2
smtpd_client_auth_rate_limit = 2
smtpd_client_message_rate_limit = 2
smtpd_client_recipient_rate_limit = 3
smtpd_client_event_limit_exceptions = !127.0.0.41, !127.0.0.43, !127.0.0.44, 127.0.0.0/8
# SMTP smuggling defence (3.7.10+; "yes" only normalizes), for the bare-LF client only
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions = !127.0.0.36, 127.0.0.0/8, [::1]/128
debug_peer_list = 127.0.0.9
debug_peer_level = 2

smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1

smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_tls_auth_only = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
# bl.lab.test is rbldnsd on $DNSBL_ADDR; the chrooted smtpd/postscreen/dnsblog
# find it through /var/spool/postfix/etc/resolv.conf
smtpd_recipient_restrictions = permit_sasl_authenticated, reject_rbl_client bl.lab.test

postscreen_access_list = permit_mynetworks
postscreen_dnsbl_sites = bl.lab.test*2
postscreen_dnsbl_threshold = 2
postscreen_dnsbl_action = enforce
postscreen_greet_wait = 2s
postscreen_greet_action = enforce
postscreen_pipelining_enable = yes
postscreen_pipelining_action = enforce
postscreen_non_smtp_command_enable = yes
postscreen_non_smtp_command_action = enforce
postscreen_bare_newline_enable = yes
postscreen_bare_newline_action = enforce
CF

    cat > /etc/postfix/master.cf <<'CF'
# Written by tests/corpus/record.sh -- overwritten on every run.
# service type  private unpriv  chroot  wakeup  maxproc command + args
# chrooted: these read /var/spool/postfix/etc/resolv.conf (the lab's DNSBL)
smtp      inet  n       -       y       -       -       smtpd
2525      inet  n       -       y       -       1       postscreen
smtpd     pass  -       -       y       -       -       smtpd
dnsblog   unix  -       -       y       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# smtp clients for single failure modes (lab-transport). A fallback relay
# makes the first next hop non-final, so smtp logs its 4xx reply (or the
# failed AUTH) on a line of its own and then delivers to the normal sink
smtpfb    unix  -       -       n       -       -       smtp
  -o smtp_fallback_relay=[127.0.0.1]:2526
smtpauth  unix  -       -       n       -       -       smtp
  -o smtp_fallback_relay=[127.0.0.1]:2526
  -o smtp_sasl_auth_enable=yes
  -o smtp_sasl_password_maps=static:alice:Wrong-pw
  -o smtp_sasl_security_options=noanonymous
smtptls   unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=may
  -o smtp_tls_loglevel=1
CF

    cat > /etc/postfix/lab-aliases <<'CF'
# Written by tests/corpus/record.sh
postmaster: bob
root: bob
info: bob
abuse: bob
alice: bob
MAILER-DAEMON: bob
CF
    cat > /etc/postfix/lab-transport <<CF
sink.test   smtp:[127.0.0.1]:$SINK_PORT
dead.test   smtp:[127.0.0.1]:$DEAD_PORT
greetdrop.test smtp:[127.0.0.1]:2528
silent.test    smtp:[127.0.0.1]:2529
refuse.test    smtp:[127.0.0.1]:2530
dropmail.test  smtp:[127.0.0.1]:2531
dropdata.test  smtp:[127.0.0.1]:2532
fallback.test  smtpfb:[127.0.0.1]:2533
pix.test       smtp:[127.0.0.1]:2534
tls.test       smtptls:[127.0.0.1]:2535
authfail.test  smtpauth:[127.0.0.1]:2536
CF
    postalias /etc/postfix/lab-aliases
    postmap /etc/postfix/lab-transport

    # the chroot (smtpd, postscreen, dnsblog) with a resolver that asks rbldnsd
    mkdir -p /var/spool/postfix/etc
    for f in services hosts host.conf nsswitch.conf localtime; do
        [ -e "/etc/$f" ] && cp -L "/etc/$f" "/var/spool/postfix/etc/$f"
    done
    printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$DNSBL_ADDR" \
        > /var/spool/postfix/etc/resolv.conf

    # ---- rbldnsd: bl.lab.test lists the two DNSBL clients
    mkdir -p "$LAB_RUN/rbldnsd"
    cat > "$LAB_RUN/rbldnsd/bl.lab.test" <<'CF'
:127.0.0.2:Listed in the lab blocklist, see http://bl.lab.test/?ip=$
127.0.0.50
127.0.0.51
CF
    chmod 755 "$LAB_RUN/rbldnsd"; chmod 644 "$LAB_RUN/rbldnsd/bl.lab.test"

    # a fresh postscreen cache: every run sees new clients (PASS NEW)
    rm -f /var/lib/postfix/postscreen_cache.db /var/lib/postfix/postscreen_cache
    # an empty queue, so deferred mail of an earlier run does not reappear
    postsuper -d ALL >/dev/null 2>&1 || true

    # ---- dovecot: SASL only, no mail protocols, no auth delays
    cat > "$LAB_ETC/users" <<'CF'
alice:{PLAIN}Lab-s3cret-pw
CF
    chmod 640 "$LAB_ETC/users"; chgrp dovecot "$LAB_ETC/users"
    cat > "$LAB_ETC/dovecot.conf" <<CF
# Written by tests/corpus/record.sh -- overwritten on every run.
protocols =
base_dir = $LAB_RUN/dovecot
state_dir = $LAB_RUN/dovecot-state
log_path = $LAB_LOG/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# answer failed logins at once (default 2 s)
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = username_format=%n $LAB_ETC/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
# no growing per-address penalty on failed logins (up to 15 s otherwise)
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CF

    # ---- rsyslog: a private instance on a private socket, mail facility only
    mkdir -p "$LAB_RUN/rsyslog"
    cat > "$LAB_RUN/rsyslog.conf" <<CF
global(workDirectory="$LAB_RUN/rsyslog" localHostname="mail")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$LAB_RUN/log" RateLimit.Interval="0")
mail.* action(type="omfile" file="$SYSLOG" template="RSYSLOG_FileFormat")
CF
    # a second rsyslog for the RFC 3164 form with an unpadded day ("Mar 7"):
    # it runs under libfaketime on the 7th of this month, so the one-digit day
    # shows whatever the date of the recording
    mkdir -p "$LAB_RUN/rsyslog-3164"
    cat > "$LAB_RUN/rsyslog-3164.conf" <<CF
global(workDirectory="$LAB_RUN/rsyslog-3164" localHostname="mail")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$LAB_RUN/log-3164" RateLimit.Interval="0" UseSysTimeStamp="off")
template(name="Rfc3164UnpaddedDay" type="string" string="%timegenerated:1:3:date-rfc3164% %timegenerated:R,ERE,1,FIELD:^[A-Za-z]+ +([0-9]+) --end:date-rfc3164% %timegenerated:8:15:date-rfc3164% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
mail.* action(type="omfile" file="$SYSLOG3164" template="Rfc3164UnpaddedDay")
CF
}

# ---------------------------------------------------------------- start
# check listening sockets without connecting (a probe would be a logged session)
wait_port() { "$PY" "$DRIVER" wait-listen --timeout "${@: -1}" "${@:1:$#-1}"; }
start_lab() {
    : > "$MAILLOG"; chmod 640 "$MAILLOG"
    if rsyslogd -v >/dev/null 2>&1; then
        rsyslogd -n -f "$LAB_RUN/rsyslog.conf" -i "$LAB_RUN/rsyslogd.pid" \
            >"$LAB_LOG/rsyslogd.out" 2>&1 &
        RSYSLOG_PID=$!
        if [ -e "$FAKETIME_LIB" ]; then
            FAKETIME="@$(date -u +%Y-%m)-07 $(date -u +%H:%M:%S)" LD_PRELOAD="$FAKETIME_LIB" \
                rsyslogd -n -f "$LAB_RUN/rsyslog-3164.conf" -i "$LAB_RUN/rsyslogd-3164.pid" \
                >"$LAB_LOG/rsyslogd-3164.out" 2>&1 &
            RSYSLOG3164_PID=$!
        else
            log "libfaketime missing: no syslog-3164.log"
        fi
        for _ in $(seq 50); do [ -S "$LAB_RUN/log" ] && break; sleep 0.1; done
        local socks=(--socket "$LAB_RUN/log")
        if [ -n "$RSYSLOG3164_PID" ]; then
            for _ in $(seq 50); do [ -S "$LAB_RUN/log-3164" ] && break; sleep 0.1; done
            if [ -S "$LAB_RUN/log-3164" ]; then
                socks+=(--socket "$LAB_RUN/log-3164")
            else
                log "the faketime rsyslog did not come up: no syslog-3164.log"
                kill_pid "$RSYSLOG3164_PID"; RSYSLOG3164_PID=""
            fi
        fi
        if [ -S "$LAB_RUN/log" ]; then
            "$PY" "$DRIVER" syslog-relay --maillog "$MAILLOG" "${socks[@]}" \
                --done-file "$LAB_RUN/relay.done" >"$LAB_LOG/relay.out" 2>&1 &
            RELAY_PID=$!
        else
            log "rsyslog did not come up (see $LAB_LOG/rsyslogd.out): no syslog.log"
            kill_pid "$RSYSLOG_PID"; RSYSLOG_PID=""
        fi
    else
        log "rsyslogd not runnable: no syslog.log"
    fi

    "$PY" "$DRIVER" sink --ports "$SINK_PORTS" >"$LAB_LOG/sink.log" 2>&1 &
    SINK_PID=$!

    rbldnsd -n -q -b "$DNSBL_ADDR/53" -r "$LAB_RUN/rbldnsd" -p "$LAB_RUN/rbldnsd.pid" \
        bl.lab.test:ip4set:bl.lab.test >"$LAB_LOG/rbldnsd.out" 2>&1 &
    RBLDNSD_PID=$!

    dovecot -c "$LAB_ETC/dovecot.conf" || die "dovecot failed to start (see $LAB_LOG/dovecot.log)"
    for _ in $(seq 50); do [ -S /var/spool/postfix/private/auth ] && break; sleep 0.1; done
    [ -S /var/spool/postfix/private/auth ] || die "dovecot auth socket missing"

    # (postfix start runs postfix check itself)
    postfix start >/dev/null
    # one call: each python start costs seconds on a busy machine
    wait_port --ipv6 25 --closed "$DEAD_PORT" 25 2525 "$SINK_PORT" 2528 2529 2530 2531 2532 2533 2534 2535 2536 10 \
        || die "smtpd (127.0.0.1 and ::1 port 25), postscreen (2525) or the sink is not listening, or port $DEAD_PORT is not closed"
    kill -0 "$RBLDNSD_PID" 2>/dev/null || die "rbldnsd failed (see $LAB_LOG/rbldnsd.out)"
    log "lab is up: postfix $(postconf -h mail_version), smtpd :25, postscreen :2525, sink :$SINK_PORT"
}

# ---------------------------------------------------------------- main
install_packages
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi
configure
log "configured"
start_lab

log "driving scenarios"
"$PY" "$DRIVER" run --maillog "$MAILLOG" --labels "$LAB_LOG/labels.jsonl" \
    --messages "$LAB_LOG/messages.jsonl" --queue-lifetime "$QUEUE_LIFETIME"

log "stopping postfix"
stop_postfix
stop_dovecot
log "postfix stopped"
cp "$MAILLOG" "$OUTDIR/mail.log"
cp "$LAB_LOG/labels.jsonl" "$OUTDIR/labels.jsonl"
cp "$LAB_LOG/messages.jsonl" "$OUTDIR/messages.jsonl"
chmod 644 "$OUTDIR/mail.log" "$OUTDIR/labels.jsonl" "$OUTDIR/messages.jsonl"

rm -f "$OUTDIR/syslog.log" "$OUTDIR/syslog-3164.log"
if [ -n "$RELAY_PID" ]; then
    # let the relay forward the last records, then stop rsyslog to flush
    touch "$LAB_RUN/relay.done"
    for _ in $(seq 100); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
    kill_pid "$RELAY_PID"; RELAY_PID=""
    sleep 0.3
    kill_pid "$RSYSLOG_PID"; RSYSLOG_PID=""
    kill_pid "$RSYSLOG3164_PID"; RSYSLOG3164_PID=""
    cp "$SYSLOG" "$OUTDIR/syslog.log"; chmod 644 "$OUTDIR/syslog.log"
    if [ -f "$SYSLOG3164" ]; then
        cp "$SYSLOG3164" "$OUTDIR/syslog-3164.log"; chmod 644 "$OUTDIR/syslog-3164.log"
    fi
fi

"$PY" "$DRIVER" summary --outdir "$OUTDIR"
log "done in $(( $(date +%s) - STARTED_AT ))s; output in $OUTDIR"
