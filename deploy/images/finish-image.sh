# Run as root inside a freshly installed image (the debootstrap chroot or a Dockerfile RUN), by /bin/sh.
set -e
# Sandboxes run as uid 1000 ("sandbox") with /workspace and /tmp as tmpfs, so the image only needs the user.
groupadd -g 1000 sandbox
useradd -u 1000 -g 1000 -d /workspace -s /bin/bash sandbox
mkdir -p /workspace
chown 1000:1000 /workspace
# matplotlib's font cache, built once here: a sandbox's python kernel copies it to its writable config
# directory instead of scanning every font again (seconds) on its first plot.
if python3 -c 'import matplotlib' 2>/dev/null; then
  mkdir -p /opt/durabox/mplcache
  MPLCONFIGDIR=/opt/durabox/mplcache MPLBACKEND=agg python3 -c 'import matplotlib.font_manager, matplotlib.pyplot'
  chmod -R a+rX /opt/durabox
fi
# Lean: no documentation, translations, packaged test suites (~125 MB of pandas, sympy, numpy, matplotlib),
# apt lists or caches. Nothing imports a `tests` package at run time.
find /usr/lib/python3/dist-packages -depth -type d -name tests -exec rm -rf {} +
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
  /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/cache/debconf/*-old /var/log/*.log \
  /root/.cache /tmp/* /var/tmp/*
