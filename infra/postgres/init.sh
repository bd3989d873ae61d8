#!/bin/sh
# One Postgres role per service, each owning only its own database: a service's
# credentials cannot read or change another's data, and none is the superuser.
# Passwords come from the environment (docker-compose passes them from .env) and reach
# psql through \getenv (psql 15+), never on a command line.
set -eu
: "${CATALOG_DB_PASSWORD:?}" "${ORDER_DB_PASSWORD:?}" "${NOTIFIER_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv catalog_pw CATALOG_DB_PASSWORD
\getenv orders_pw ORDER_DB_PASSWORD
\getenv notifier_pw NOTIFIER_DB_PASSWORD
CREATE ROLE catalog LOGIN PASSWORD :'catalog_pw';
CREATE ROLE orders LOGIN PASSWORD :'orders_pw';
CREATE ROLE notifier LOGIN PASSWORD :'notifier_pw';
CREATE DATABASE catalog OWNER catalog;
CREATE DATABASE orders OWNER orders;
CREATE DATABASE notifier OWNER notifier;
REVOKE ALL ON DATABASE catalog, orders, notifier FROM PUBLIC;
GRANT CONNECT ON DATABASE catalog TO catalog;
GRANT CONNECT ON DATABASE orders TO orders;
GRANT CONNECT ON DATABASE notifier TO notifier;
SQL
