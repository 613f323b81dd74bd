# A grading worker: the engine behind bubblewrap. Runs as root so that each student process
# gets its own cgroup and drops to nobody; needs the flags in deploy/compose/compose.yml.
ARG DEPS
FROM ${DEPS}
COPY src/ /opt/course/
# the project itself, editable at /opt/course (hatchling is fetched for it)
RUN SSL_CERT_FILE=/usr/local/share/course-build-ca.crt UV_NATIVE_TLS=true \
    uv sync --locked --no-dev --compile-bytecode --inexact --python /usr/bin/python3 \
    && rm -rf /root/.cache
WORKDIR /srv/course
ENTRYPOINT ["tini", "--"]
CMD ["course", "doctor"]
