#!/bin/sh
# The broker's one user from the env file; no guest account.
set -eu
: "${RABBITMQ_PASSWORD:?set RABBITMQ_PASSWORD (course env writes it)}"
conf=/var/lib/rabbitmq/rabbitmq.conf
cat > "$conf" <<CONF
default_user = course
default_pass = $RABBITMQ_PASSWORD
loopback_users = none
listeners.tcp.default = 5672
CONF
export RABBITMQ_CONFIG_FILE=$conf  # node rabbit@<hostname>: what rabbitmqctl in this container expects
exec rabbitmq-server
