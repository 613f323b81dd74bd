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
# ms a worker may hold a job before RabbitMQ takes it back: above the longest grading job
# (course.time_limits.BROKER_CONSUMER_TIMEOUT, 6 h; tests/course/test_time_limits.py checks)
consumer_timeout = 21600000
CONF
export RABBITMQ_CONFIG_FILE=$conf  # node rabbit@<hostname>: what rabbitmqctl in this container expects
exec rabbitmq-server
