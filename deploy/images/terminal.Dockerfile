# The terminal runtime: a shell with the tools agents reach for.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      bash python3 python3-pip python3-venv git curl ca-certificates jq ripgrep tree file zip unzip sqlite3 procps less \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd -g 1000 sandbox && useradd -u 1000 -g 1000 -d /workspace -s /bin/bash sandbox \
 && mkdir -p /workspace && chown 1000:1000 /workspace
ENV LANG=C.UTF-8
USER 1000:1000
WORKDIR /workspace
