# The terminal runtime: a shell with the tools agents reach for (terminal.packages) plus the code
# interpreter's stack (python.packages: IPython, matplotlib, pandas with numpy, Node.js). The same Debian
# packages and the same finishing step (finish-image.sh) as build.sh's rootfs path.
FROM debian:bookworm-slim
COPY python.packages python.pip terminal.packages finish-image.sh /tmp/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(sed 's/#.*//' /tmp/python.packages /tmp/terminal.packages) \
 && apt-get clean && sh /tmp/finish-image.sh
ENV LANG=C.UTF-8
USER 1000:1000
WORKDIR /workspace
