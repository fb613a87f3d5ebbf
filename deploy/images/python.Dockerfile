# The python runtime: CPython 3 with the code interpreter's stack (IPython, matplotlib, pandas with numpy),
# Node.js and bash, as a non-root user. The same Debian packages as build.sh's rootfs path.
FROM debian:bookworm-slim
COPY finish-image.sh /tmp/finish-image.sh
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 python3-ipython python3-matplotlib python3-matplotlib-inline python3-pandas nodejs bash \
 && sh /tmp/finish-image.sh \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc/* /usr/share/man/* /usr/share/info/*
ENV LANG=C.UTF-8
USER 1000:1000
WORKDIR /workspace
