# PostgreSQL from Debian's packages for the gradebook and JupyterHub's database.
ARG BASE
FROM ${BASE}
# a fixed uid, so that Kubernetes can run it as that user (fsGroup)
RUN groupadd --system --gid 999 postgres \
    && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql postgres \
    && apt-get update && apt-get install --yes --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
COPY src/deploy/images/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER postgres
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
EXPOSE 5432
ENTRYPOINT ["tini", "--", "postgres-entrypoint"]
