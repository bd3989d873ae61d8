#!/bin/sh
# Render users.acl (and sentinel.conf) from the templates with passwords from the
# environment, then exec redis-server. Comment and blank lines are dropped: Redis' ACL
# file format has none. Passwords are never written to the image or the repository.
set -eu
render() {
  sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' \
      -e "s/\${CATALOG_REDIS_PASSWORD}/${CATALOG_REDIS_PASSWORD:?}/" \
      -e "s/\${ORDER_REDIS_PASSWORD}/${ORDER_REDIS_PASSWORD:?}/" \
      -e "s/\${NOTIFIER_REDIS_PASSWORD}/${NOTIFIER_REDIS_PASSWORD:?}/" \
      -e "s/\${DASHBOARD_REDIS_PASSWORD}/${DASHBOARD_REDIS_PASSWORD:?}/" \
      -e "s/\${REPLICA_REDIS_PASSWORD}/${REPLICA_REDIS_PASSWORD:?}/" \
      -e "s/\${SENTINEL_REDIS_PASSWORD}/${SENTINEL_REDIS_PASSWORD:?}/" \
      "$1" > "$2"
}
case "${1:-}" in
  sentinel)
    render /etc/storefront/sentinel.conf /data/sentinel.conf
    exec redis-server /data/sentinel.conf --sentinel ;;
  *)
    render /etc/storefront/users.acl /data/users.acl
    # The replication credentials go into a config file, not onto the command line (where
    # `ps` and `docker inspect` would show them). A primary needs them too: after a failover
    # Sentinel makes it a replica of the new primary.
    conf="$1"
    shift
    umask 077
    printf 'include %s\nmasteruser replica\nmasterauth %s\n' "$conf" "${REPLICA_REDIS_PASSWORD:?}" > /data/storefront.conf
    exec redis-server /data/storefront.conf "$@" ;;
esac
