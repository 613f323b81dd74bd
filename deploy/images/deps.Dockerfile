# The locked Python environment, shared by every image (built once per lock and TF flavour).
ARG BASE
FROM ${BASE}
ARG TF=cpu
ENV LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/course/.venv \
    PATH=/opt/course/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY uv /usr/local/bin/uv
# the build machine's CA bundle (a TLS-inspecting proxy's CA, where there is one): downloads only
COPY build-ca.crt /usr/local/share/course-build-ca.crt
WORKDIR /opt/course
COPY src/pyproject.toml src/uv.lock ./
# bytecode compiled here: sandboxes cannot write it, and graders' folders stay clean
RUN SSL_CERT_FILE=/usr/local/share/course-build-ca.crt UV_NATIVE_TLS=true \
    uv sync --locked --no-dev --no-install-project --compile-bytecode --python /usr/bin/python3 \
        $(if [ "$TF" != none ]; then echo --extra "$TF"; fi) \
    && rm -rf /root/.cache
