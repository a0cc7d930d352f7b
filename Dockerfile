# Needs BuildKit (for the cache mounts below): the default builder of Docker 23 and later (with the
# buildx component, as Docker's own packages ship it), or `DOCKER_BUILDKIT=1 docker build` on Docker
# 20.10 (Debian 12's docker.io). There is no `# syntax=` line on purpose: the builder's own Dockerfile
# frontend is used, so nothing is pulled but the two base images below.

# Build stage: compiles the `switchyard` binary. The cargo registry and the target directory are
# BuildKit cache mounts, kept by the builder between builds (not image layers): a rebuild after a
# source change downloads nothing and recompiles only what changed. The allocator is jemalloc, set up
# in .cargo/config.toml to give freed memory back within seconds (glibc's malloc kept ~400 MB after a
# 100,000-item run: BENCHMARKS.md, memory per item).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --features switchyard/jemalloc --bin switchyard \
 && cp target/release/switchyard /usr/local/bin/switchyard

# Run stage: Debian slim with Debian's CA certificates (the platform trust store outbound HTTPS
# uses), the binary, and an unprivileged user 10001:10001 owning /data.
FROM debian:12.15-slim
RUN apt-get update -o Acquire::Retries=3 \
 && apt-get install -y --no-install-recommends -o Acquire::Retries=3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 switchyard \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /data --shell /usr/sbin/nologin switchyard \
 && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /usr/local/bin/switchyard /usr/local/bin/switchyard
COPY scripts/docker-healthcheck.sh /usr/local/bin/switchyard-healthcheck
USER 10001:10001
# Relative paths given to commands run with `docker exec` (an export file, say) land in the volume.
WORKDIR /data
ENV SWITCHYARD_DATA_DIR=/data \
    SWITCHYARD_LISTEN=0.0.0.0:5678
VOLUME ["/data"]
EXPOSE 5678
# GET /readyz (the database answers and holds this build's schema) on the port
# SWITCHYARD_LISTEN names, with bash alone (the image has no curl).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["switchyard-healthcheck"]
# SIGTERM (Docker's default stop signal) starts a drain of up to 30 s for running executions: give
# `docker stop` more than that (`docker run --stop-timeout 45`, compose `stop_grace_period: 45s`).
ENTRYPOINT ["switchyard"]
CMD ["start"]
