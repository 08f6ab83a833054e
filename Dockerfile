# klavi-mock as a container image: small, non-root, healthy when it answers.
#
#   docker build -t klavi-mock .
#   docker run --rm -p 8080:8080 -e KLAVI_MOCK_ADMIN_TOKEN=change-me klavi-mock
#
# Inside the container the mock listens on 0.0.0.0:8080, so the control API wants the admin
# token (KLAVI_MOCK_ADMIN_TOKEN; start-up refuses without one). Set KLAVI_MOCK_PUBLIC_URL to
# the address a browser reaches the mock at (e.g. http://localhost:8080) for the links it hands
# out (linkURL, bank pages). Every option of `klavi-mock serve` has its KLAVI_MOCK_* variable.
#
# BASE: any image with Python 3.10+ and its venv module (Debian's python3 + python3-venv works).
# Offline builds: put a wheelhouse (`pip wheel . -w wheelhouse`) in the build context and the
# build installs from it with --no-index; otherwise it installs the context from PyPI.
# EXTRAS: optional parts to install, e.g. `--build-arg EXTRAS=postgres` for --database-url
# (compose.postgres.yaml).
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
ARG EXTRAS=""
COPY . /src
RUN python3 -m venv /opt/klavi-mock \
 && if [ -d /src/wheelhouse ]; then \
      /opt/klavi-mock/bin/pip install --no-cache-dir --no-index --find-links /src/wheelhouse "klavi-mock${EXTRAS:+[$EXTRAS]}"; \
    else \
      /opt/klavi-mock/bin/pip install --no-cache-dir "/src${EXTRAS:+[$EXTRAS]}"; \
    fi \
 && /opt/klavi-mock/bin/klavi-mock --version \
 && /opt/klavi-mock/bin/python -m pip uninstall -q -y pip

FROM ${BASE}
COPY --from=build /opt/klavi-mock /opt/klavi-mock
# A non-root user, by number (no useradd needed in the base); /data for a --state-file.
RUN mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
ENV PATH=/opt/klavi-mock/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KLAVI_MOCK_HOST=0.0.0.0 \
    KLAVI_MOCK_PORT=8080
EXPOSE 8080
# `klavi-mock health` asks GET /__mock/health (no token needed) on 127.0.0.1:$KLAVI_MOCK_PORT.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["klavi-mock", "health"]
# klavi-mock is PID 1: SIGTERM (docker stop) ends it gracefully, exit code 0.
ENTRYPOINT ["klavi-mock"]
CMD ["serve"]
