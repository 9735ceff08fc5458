# Multi-stage build: compile with the Rust toolchain, ship a slim runtime image.
FROM rust:1.95-bookworm AS build
WORKDIR /src

# Dependencies first, in a layer of their own: built against stub sources, so the layer is reused
# until Cargo.toml or Cargo.lock change, and editing src/ rebuilds only the service itself.
COPY Cargo.toml Cargo.lock build.rs rustfmt.toml ./
RUN mkdir -p src tests/api benches migrations \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs tests/api/main.rs \
    && echo 'fn main() {}' > benches/http.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/rehabit-* target/release/deps/rehabit-* \
        target/release/deps/librehabit-* target/release/rehabit*

# The service itself.
COPY src ./src
COPY migrations ./migrations
# The handout fonts, embedded with include_bytes!.
COPY assets ./assets
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 rehabit
COPY --from=build /src/target/release/rehabit /usr/local/bin/rehabit
USER rehabit
ENV BIND_ADDR=0.0.0.0:8080 LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["rehabit"]
CMD ["serve"]
