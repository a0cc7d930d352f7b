# syntax=docker/dockerfile:1
# Build: the whole workspace in release mode, dependencies cached in their own layer.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin switchyard \
 && cp target/release/switchyard /usr/local/bin/switchyard

# Run: a small Debian image with CA certificates, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin switchyard \
 && mkdir -p /data && chown switchyard:switchyard /data
COPY --from=build /usr/local/bin/switchyard /usr/local/bin/switchyard
USER switchyard
ENV SWITCHYARD_DATA_DIR=/data \
    SWITCHYARD_LISTEN=0.0.0.0:5678
VOLUME ["/data"]
EXPOSE 5678
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchyard"]
CMD ["start"]
