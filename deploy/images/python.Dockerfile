# The python runtime: the interpreter and nothing else, as a non-root user.
FROM python:3.11-slim
RUN groupadd -g 1000 sandbox && useradd -u 1000 -g 1000 -d /workspace -s /bin/bash sandbox \
 && mkdir -p /workspace && chown 1000:1000 /workspace
ENV LANG=C.UTF-8
USER 1000:1000
WORKDIR /workspace
