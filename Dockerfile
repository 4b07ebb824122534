# syntax=docker/dockerfile:1
#
# The switchyard server: built with the `dist` profile (stripped, thin LTO), run as a non-root
# user with its data in the /data volume.
#
#   docker build -t switchyard .
#   docker run -p 127.0.0.1:7400:7400 -v switchyard-data:/data switchyard
#
# The admin token is printed on the first start (docker logs) and saved to /data/admin.token.
# Any `serve` flag can be appended (`docker run … switchyard serve --durability batch:10`) or
# set through its SWITCHYARD_* variable.

# The toolchain the dist profile was measured with; the workspace needs 1.89 or newer.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches persist between builds on the same machine; the binary is
# copied out because the cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --locked --profile dist -p switchyard --bin switchyard \
    && install -m 0755 target/dist/switchyard /usr/local/bin/switchyard

# Same Debian release as the builder, so the binary finds the glibc it was linked against.
# Nothing else is needed at run time: SQLite is compiled in and outgoing TLS (functions' HTTP)
# carries its own root certificates.
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 switchyard \
    && useradd --system --uid 10001 --gid switchyard --home-dir /data --shell /usr/sbin/nologin switchyard \
    && install -d -o switchyard -g switchyard -m 0700 /data
COPY --from=build /usr/local/bin/switchyard /usr/local/bin/switchyard
ENV SWITCHYARD_DATA_DIR=/data \
    SWITCHYARD_LISTEN=0.0.0.0:7400
VOLUME /data
EXPOSE 7400
USER switchyard
# /readyz answers 200 while the node serves (503 once a disk failure stopped its writes). The
# image has no curl: bash's /dev/tcp sends the request, to the port SWITCHYARD_LISTEN names.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${SWITCHYARD_LISTEN##*:} && printf 'GET /readyz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# The server stops within --shutdown-grace (8 s) of SIGTERM, inside Docker's 10 s.
ENTRYPOINT ["switchyard"]
CMD ["serve"]
