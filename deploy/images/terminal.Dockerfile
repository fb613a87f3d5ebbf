# The terminal runtime: a shell with the tools agents reach for, plus the code interpreter's stack
# (IPython, matplotlib, pandas with numpy, Node.js). The same Debian packages as build.sh's rootfs path.
FROM debian:bookworm-slim
COPY finish-image.sh /tmp/finish-image.sh
RUN apt-get update && apt-get install -y --no-install-recommends \
      bash python3 python3-pip python3-venv git curl ca-certificates jq ripgrep tree file zip unzip sqlite3 procps less \
      python3-ipython python3-matplotlib python3-matplotlib-inline python3-pandas nodejs \
 && sh /tmp/finish-image.sh \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc/* /usr/share/man/* /usr/share/info/*
ENV LANG=C.UTF-8
USER 1000:1000
WORKDIR /workspace
