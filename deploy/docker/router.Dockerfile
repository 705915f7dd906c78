# syntax=docker/dockerfile:1
# Gander's router: Debian's nginx with the stream-affine configuration
# (deploy/k8s/base/router), as a non-root user. Kubernetes mounts the same
# files from a ConfigMap over /etc/gander/router.
#
#   docker build -f deploy/docker/router.Dockerfile -t gander/router:0.1.0 .
#   docker run --rm -p 50051:50051 -e GANDER_ROUTER_TLS=off \
#       -e GANDER_WORKERS_HOST=worker.example gander/router:0.1.0
#
# The build context is the repository root (deploy/README.md, "Images").
ARG DEBIAN_RELEASE=12.11

FROM debian:${DEBIAN_RELEASE}-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gander \
 && useradd --system --uid 10001 --gid gander --no-create-home --shell /usr/sbin/nologin gander
COPY deploy/k8s/base/router/nginx.conf.template deploy/k8s/base/router/router.sh /etc/gander/router/
USER 10001:10001
ENV GANDER_ROUTER_RUNTIME_DIR=/tmp/nginx
EXPOSE 50051 8081
# GET /healthz on the port of GANDER_ROUTER_HEALTH_LISTEN (bash's /dev/tcp:
# the image has no HTTP client).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/bash", "-c", "a=${GANDER_ROUTER_HEALTH_LISTEN:-0.0.0.0:8081}; exec 3<>/dev/tcp/127.0.0.1/${a##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '^ok' <&3"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "/etc/gander/router/router.sh"]
CMD ["run"]
