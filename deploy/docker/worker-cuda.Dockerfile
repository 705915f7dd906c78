# syntax=docker/dockerfile:1
# Gander inference worker, CUDA build, on NVIDIA's CUDA runtime image. The
# binaries are built on Debian 12 (the project's toolchain and libraries)
# with NVIDIA's CUDA toolkit for Debian 12; their Debian shared libraries
# travel with them into /opt/gander/lib (the runtime base is Ubuntu, whose
# packages are other versions), found through the binaries' RPATH.
#
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t gander/worker-cuda:0.1.0 .
#   docker run --rm --gpus all -p 50051:50051 -v /srv/models:/models:ro \
#       gander/worker-cuda:0.1.0 serve --backend=cuda --model=/models/rwkv7-g1-0.1b.pth
#
# The build context is the repository root (deploy/README.md, "Images").
ARG DEBIAN_RELEASE=12.11
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:13.0.2-runtime-ubuntu24.04

# Build stage: the project's own offline Bazel setup plus nvcc.
FROM debian:${DEBIAN_RELEASE} AS build
# The toolkit release, as the runtime image's.
ARG CUDA_VERSION=13.0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# NVIDIA's apt repository for Debian 12 (its keyring package first).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates wget patchelf \
 && wget -q -O /tmp/cuda-keyring.deb \
      https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
 && dpkg -i /tmp/cuda-keyring.deb \
 && rm /tmp/cuda-keyring.deb \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      "cuda-nvcc-${CUDA_VERSION/./-}" "cuda-cudart-dev-${CUDA_VERSION/./-}" \
      "libcublas-dev-${CUDA_VERSION/./-}" \
 && rm -rf /var/lib/apt/lists/*
ENV CUDA_PATH=/usr/local/cuda-${CUDA_VERSION}
WORKDIR /src
COPY . .
# The binaries, then every shared library they load except glibc's, the C++
# runtime's and CUDA's (the runtime image provides those), with an RPATH
# pointing at where those libraries will be.
RUN tools/setup.sh \
 && bazel build --config=cuda //cli:gander //deploy/probe:gander-health-probe \
 && install -D -m 0755 bazel-bin/cli/gander /out/bin/gander \
 && install -D -m 0755 bazel-bin/deploy/probe/gander-health-probe /out/bin/gander-health-probe \
 && mkdir -p /out/lib \
 && ldd /out/bin/gander /out/bin/gander-health-probe \
    | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u \
    | grep -Ev '/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt)\.so' \
    | grep -v '/ld-linux' \
    | xargs -r cp -L -t /out/lib/ \
 && patchelf --force-rpath --set-rpath /opt/gander/lib /out/bin/gander /out/bin/gander-health-probe

# Runtime stage: NVIDIA's CUDA runtime (cudart, cuBLAS) and the binaries.
FROM ${CUDA_RUNTIME_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN groupadd --system --gid 10001 gander \
 && useradd --system --uid 10001 --gid gander --home-dir /var/lib/gander --create-home \
      --shell /usr/sbin/nologin gander
COPY --from=build /out/lib/ /opt/gander/lib/
COPY --from=build /out/bin/ /usr/local/bin/
# Fails the build if a shared library cannot be found.
RUN ! ldd /usr/local/bin/gander /usr/local/bin/gander-health-probe | grep "not found"
USER 10001:10001
WORKDIR /var/lib/gander
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
EXPOSE 50051 9464
# The address the HEALTHCHECK asks; set it when the server listens elsewhere.
ENV GANDER_HEALTH_ADDR=127.0.0.1:50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
  CMD ["/usr/local/bin/gander-health-probe"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gander"]
CMD ["serve", "--help"]
