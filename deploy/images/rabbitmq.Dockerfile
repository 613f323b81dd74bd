# RabbitMQ from Debian's packages: the grading queue's broker.
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install --yes --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/*
COPY src/deploy/images/rabbitmq-entrypoint.sh /usr/local/bin/rabbitmq-entrypoint
USER rabbitmq
EXPOSE 5672
ENTRYPOINT ["tini", "--", "rabbitmq-entrypoint"]
