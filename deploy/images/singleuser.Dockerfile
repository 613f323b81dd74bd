# A student's server: JupyterLab 4 with nbgrader's Assignments panel talking to our exchange.
ARG DEPS
FROM ${DEPS}
ENV TF_FORCE_GPU_ALLOW_GROWTH=true \
    TF_CPP_MIN_LOG_LEVEL=2
RUN useradd --create-home --uid 1000 --shell /bin/bash jovyan
COPY src/ /opt/course/
# the project itself, editable at /opt/course (hatchling is fetched for it)
RUN SSL_CERT_FILE=/usr/local/share/course-build-ca.crt UV_NATIVE_TLS=true \
    uv sync --locked --no-dev --compile-bytecode --inexact --python /usr/bin/python3 \
    && rm -rf /root/.cache
USER jovyan
WORKDIR /home/jovyan
EXPOSE 8888
ENTRYPOINT ["tini", "--"]
CMD ["jupyterhub-singleuser"]
