#!/bin/sh
# Start a coordination/cache Redis node or a Sentinel from the repository's templates
# (mounted read-only at $STOREFRONT_TEMPLATES, default /etc/storefront), with passwords
# from the environment and every file Redis or Sentinel rewrites kept in the writable
# volume ($STOREFRONT_DATA, default /data), so a role change survives a restart.
# Passwords are never written to the image, the repository or a command line.
#
#   entrypoint.sh <path of redis.conf> [redis-server options]   a data node
#   entrypoint.sh sentinel [options]                               a Sentinel
#
# Environment: the *_REDIS_PASSWORD variables users.acl names; ANNOUNCE_HOSTNAME (the
# name others reach this node by: announced to Sentinel, so every node is known by one
# name and never twice, by name and by IP) and ANNOUNCE_PORT (default 6379); REPLICA_OF ("host port", a data node's role
# on its very first start); SENTINELS ("host:port ..."; a data node asks them for the
# current primary at every start, so an old primary comes back as a replica).
# REDIS_TLS=on: TLS only (no plaintext port), on the same port, with ca.crt, redis.crt and
# redis.key from $STOREFRONT_TLS (default /etc/storefront/tls); replication and Sentinel's
# links run over TLS too (docker-compose.tls.yml; docs/operations.md, TLS).
set -eu
templates=${STOREFRONT_TEMPLATES:-/etc/storefront}
data=${STOREFRONT_DATA:-/data}
tls_dir=${STOREFRONT_TLS:-/etc/storefront/tls}
umask 077

# redis-cli's TLS options when REDIS_TLS=on.
cli_tls() {
  if [ "${REDIS_TLS:-off}" = on ]; then printf -- '--tls --cacert %s' "$tls_dir/ca.crt"; fi
}

# The TLS lines of a node's or Sentinel's config (port $1) when REDIS_TLS=on.
tls_lines() {
  if [ "${REDIS_TLS:-off}" = on ]; then
    for f in ca.crt redis.crt redis.key; do
      [ -r "$tls_dir/$f" ] || { echo "entrypoint.sh: REDIS_TLS=on but $tls_dir/$f is missing (pnpm tls:certs makes them)" >&2; exit 1; }
    done
    printf 'port 0\ntls-port %s\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients optional\ntls-replication yes\n' \
      "$1" "$tls_dir/redis.crt" "$tls_dir/redis.key" "$tls_dir/ca.crt"
  fi
}

# Copy template $1 to $2 with every ${NAME} replaced by that variable's value, literally
# (a password may contain / & \ or anything else sed would read as syntax), dropping
# comment and blank lines (Redis' ACL file format has none). An unset or empty variable
# is an error, so no user ever gets an empty or literal password.
render() {
  awk '
    /^[[:space:]]*#/ || /^[[:space:]]*$/ { next }
    {
      line = $0; out = ""
      while (match(line, /\$\{[A-Z0-9_]+\}/)) {
        name = substr(line, RSTART + 2, RLENGTH - 3)
        if (ENVIRON[name] == "") { print "entrypoint.sh: " name " is not set" > "/dev/stderr"; exit 1 }
        out = out substr(line, 1, RSTART - 1) ENVIRON[name]
        line = substr(line, RSTART + RLENGTH)
      }
      print out line
    }' "$1" > "$2.new"
  mv "$2.new" "$2"
}

# The primary the Sentinels name now ("host port"), or nothing if none answers.
current_primary() {
  for sentinel in ${SENTINELS:-}; do
    # shellcheck disable=SC2046 # cli_tls prints separate options
    answer=$(redis-cli $(cli_tls) -h "${sentinel%:*}" -p "${sentinel##*:}" --raw SENTINEL get-master-addr-by-name storefront 2>/dev/null | tr '\n' ' ') || continue
    set -- $answer
    if [ $# -eq 2 ]; then
      echo "$1 $2"
      return
    fi
  done
}

case "${1:-}" in
  sentinel)
    conf="$data/sentinel.conf"
    # Sentinel writes what it learns (the current primary, its replicas, the other
    # Sentinels) into its config file: the template is used on the first start only.
    # The password is renewed on every start, so a rotated one takes effect.
    if [ ! -s "$conf" ]; then
      render "$templates/sentinel.conf" "$conf"
      if [ -n "${ANNOUNCE_HOSTNAME:-}" ]; then
        printf 'sentinel announce-ip %s\n' "$ANNOUNCE_HOSTNAME" >> "$conf"
      fi
      if [ -n "${ANNOUNCE_PORT:-}" ]; then
        printf 'sentinel announce-port %s\n' "$ANNOUNCE_PORT" >> "$conf"
      fi
    else
      grep -v '^sentinel auth-pass ' "$conf" > "$conf.new" || true
      printf 'sentinel auth-pass storefront %s\n' "${SENTINEL_REDIS_PASSWORD:?}" >> "$conf.new"
      mv "$conf.new" "$conf"
    fi
    # Plaintext or TLS as REDIS_TLS says on this start (a switch takes effect on restart).
    grep -vE '^(port|tls-[a-z-]+) ' "$conf" > "$conf.new" || true
    if [ "${REDIS_TLS:-off}" = on ]; then tls_lines 26379 >> "$conf.new"; else printf 'port 26379\n' >> "$conf.new"; fi
    mv "$conf.new" "$conf"
    shift
    exec redis-server "$conf" --sentinel "$@" ;;
  *)
    template="${1:?usage: entrypoint.sh <redis.conf> [options] | sentinel}"
    shift
    render "$templates/users.acl" "$data/users.acl"
    # Replication credentials in a file of their own, rewritten on every start; a primary
    # needs them too (after a failover Sentinel makes it a replica of the new primary).
    printf 'masteruser replica\nmasterauth %s\n' "${REPLICA_REDIS_PASSWORD:?}" > "$data/credentials.conf"
    # The node's role: what the Sentinels say now; else what Sentinel last wrote into this
    # node's config (CONFIG REWRITE on every role change); else, on the first start, REPLICA_OF.
    conf="$data/storefront.conf"
    primary=$(current_primary)
    role=""
    if [ -n "$primary" ]; then
      if [ "$primary" != "${ANNOUNCE_HOSTNAME:-} ${ANNOUNCE_PORT:-6379}" ]; then role="replicaof $primary"; fi
    elif [ -s "$conf" ]; then
      role=$(grep -E '^(replicaof|slaveof) ' "$conf" | tail -n 1 || true)
    elif [ -n "${REPLICA_OF:-}" ]; then
      role="replicaof $REPLICA_OF"
    fi
    {
      printf 'include %s\ninclude %s\n' "$template" "$data/credentials.conf"
      if [ -n "${ANNOUNCE_HOSTNAME:-}" ]; then printf 'replica-announce-ip %s\n' "$ANNOUNCE_HOSTNAME"; fi
      if [ -n "${ANNOUNCE_PORT:-}" ]; then printf 'replica-announce-port %s\n' "$ANNOUNCE_PORT"; fi
      if [ -n "$role" ]; then echo "$role"; fi
      tls_lines 6379
    } > "$conf.new"
    mv "$conf.new" "$conf"
    echo "entrypoint.sh: starting as ${role:-a primary}" >&2
    exec redis-server "$conf" "$@" ;;
esac
