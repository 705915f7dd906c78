# syntax=docker/dockerfile:1
# Gander state store: `gander store-server` (RocksDB) and the health probe
# on Debian 12's runtime libraries, as a non-root user.
#
#   docker build -f deploy/docker/store.Dockerfile -t gander/store:0.1.0 .
#   docker run --rm -p 50052:50052 -v gander-store:/var/lib/gander-store gander/store:0.1.0
#
# The build context is the repository root (deploy/README.md, "Images").
ARG DEBIAN_RELEASE=12.11

# Build stage: the project's own offline Bazel setup.
FROM debian:${DEBIAN_RELEASE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY . .
RUN tools/setup.sh \
 && bazel build //cli:gander //deploy/probe:gander-health-probe \
 && install -D -m 0755 bazel-bin/cli/gander /out/gander \
 && install -D -m 0755 bazel-bin/deploy/probe/gander-health-probe /out/gander-health-probe

# Runtime stage: the binaries and the Debian packages of their shared
# libraries (deploy/tools/runtime_packages_test.sh keeps this list complete).
FROM debian:${DEBIAN_RELEASE}-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 libbz2-1.0 libc-ares2 libcivetweb1 libgflags2.2 libgrpc++1.51 \
      libgrpc29 liblz4-1 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprotobuf32 \
      libre2-9 librocksdb7.8 libsnappy1v5 libssl3 libstdc++6 libxxhash0 libzstd1 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gander \
 && useradd --system --uid 10001 --gid gander --no-create-home --shell /usr/sbin/nologin gander \
 && install -d -o gander -g gander -m 0750 /var/lib/gander-store
COPY --from=build /out/gander /out/gander-health-probe /usr/local/bin/
# Fails the build if a shared library is missing from the list above.
RUN ! ldd /usr/local/bin/gander /usr/local/bin/gander-health-probe | grep "not found"
USER 10001:10001
VOLUME ["/var/lib/gander-store"]
EXPOSE 50052 9465
# The address the HEALTHCHECK asks; set it when the server listens elsewhere.
ENV GANDER_HEALTH_ADDR=127.0.0.1:50052
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/gander-health-probe"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gander"]
CMD ["store-server", "--data-dir=/var/lib/gander-store"]
