# The browser runtime: durabox/terminal plus headless Chromium and fonts (browser.packages). Built FROM
# the local terminal image by both build paths of build.sh, so the two images share their layers and the
# browser image only adds Chromium (no registry is needed: the base is on this daemon already).
ARG BASE=durabox/terminal:6
FROM ${BASE}
USER root
COPY browser.packages /tmp/
# The sandbox user runs it with --no-sandbox (the container is the sandbox: no capabilities, no user
# namespaces for Chromium's own) and --disable-dev-shm-usage (the container's /dev/shm is 16 MiB). The font
# cache is built here, as root, so Chromium writes none at run time. The same lean clean-up as finish-image.sh.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(sed 's/#.*//' /tmp/browser.packages) \
 && apt-get clean \
 && fc-cache -f \
 && printf '%s\n' \
      '# durabox: Chromium keeps its profile, crash database and caches under /tmp, never in the session'"'"'s' \
      '# /workspace (HOME), which is the session'"'"'s durable state: checkpoints would carry them.' \
      'export XDG_CONFIG_HOME=/tmp/.durabox-browser-config XDG_CACHE_HOME=/tmp/.durabox-browser-cache' \
      >/etc/chromium.d/durabox \
 && chromium --version \
 && rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /var/lib/apt/lists/* /var/cache/apt/*.bin \
      /var/cache/apt/archives/*.deb /var/cache/debconf/*-old /var/log/*.log /root/.cache /tmp/* /var/tmp/*
ENV LANG=C.UTF-8
USER 1000:1000
WORKDIR /workspace
