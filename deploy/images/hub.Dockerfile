# JupyterHub with configurable-http-proxy, the exchange (a managed service) and `course` itself.
ARG DEPS
FROM ${DEPS}
# node for the proxy; its node_modules come from the build machine's `npm ci` against
# deploy/node/package-lock.json (make images does it), so npm itself stays out of the image
RUN apt-get update && apt-get install --yes --no-install-recommends nodejs \
    && rm -rf /var/lib/apt/lists/*
COPY node_modules /opt/course/deploy/node/node_modules
ENV PATH=/opt/course/deploy/node/node_modules/.bin:$PATH
COPY src/ /opt/course/
# the project itself, editable at /opt/course (hatchling is fetched for it)
RUN SSL_CERT_FILE=/usr/local/share/course-build-ca.crt UV_NATIVE_TLS=true \
    uv sync --locked --no-dev --compile-bytecode --inexact --python /usr/bin/python3 \
    && rm -rf /root/.cache
WORKDIR /srv/jupyterhub
EXPOSE 8000
ENTRYPOINT ["tini", "--"]
CMD ["jupyterhub", "-f", "/opt/course/deploy/compose/jupyterhub_config.py"]
