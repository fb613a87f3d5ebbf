# The python runtime: CPython 3 with the code interpreter's stack (IPython, numpy, pandas, matplotlib, scipy,
# scikit-learn, pillow, openpyxl, sympy, requests),
# Node.js and bash, as a non-root user. The same Debian packages (python.packages) and the same finishing
# step (finish-image.sh) as build.sh's rootfs path.
FROM debian:bookworm-slim
COPY python.packages python.pip finish-image.sh /tmp/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(sed 's/#.*//' /tmp/python.packages) \
 && apt-get clean && sh /tmp/finish-image.sh
ENV LANG=C.UTF-8
USER 1000:1000
WORKDIR /workspace
