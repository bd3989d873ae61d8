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
    exec redis-server "$@" ;;
esac
