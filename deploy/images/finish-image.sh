# Run as root inside a freshly installed image (the debootstrap chroot or a Dockerfile RUN), by /bin/sh.
set -e
# Sandboxes run as uid 1000 ("sandbox") with /workspace and /tmp as tmpfs, so the image only needs the user.
groupadd -g 1000 sandbox
useradd -u 1000 -g 1000 -d /workspace -s /bin/bash sandbox
mkdir -p /workspace
chown 1000:1000 /workspace
# /home/user is the workspace too: the home peer SDKs (E2B) name by default (docs/peers/).
mkdir -p /home && ln -sfn /workspace /home/user
# The wheels of python.pip (scipy, scikit-learn) over the Debian packages, then one import of the whole
# stack, so an image that lacks a piece never gets built. PIP_CERT, when the build sets it, is the CA bundle
# of the machine building (build.sh: DURABOX_BUILD_CA_FILE).
if [ -f /tmp/python.pip ]; then
  python3 -m pip install -q --no-cache-dir --no-deps --break-system-packages --disable-pip-version-check \
    --root-user-action=ignore -r /tmp/python.pip
fi
python3 -c 'import numpy, pandas, matplotlib, scipy, sklearn, PIL, openpyxl, sympy, requests, IPython, dill'
# matplotlib's font cache, built once here: a sandbox's python kernel copies it to its writable config
# directory instead of scanning every font again (seconds) on its first plot.
if python3 -c 'import matplotlib' 2>/dev/null; then
  mkdir -p /opt/durabox/mplcache
  MPLCONFIGDIR=/opt/durabox/mplcache MPLBACKEND=agg python3 -c 'import matplotlib.font_manager, matplotlib.pyplot'
  chmod -R a+rX /opt/durabox
fi
# Lean: no documentation, translations, packaged test suites (~125 MB of pandas, sympy, numpy, matplotlib),
# apt lists or caches. Nothing imports a `tests` package at run time.
find /usr/lib/python3/dist-packages /usr/local/lib/python3*/dist-packages -depth -type d -name tests -exec rm -rf {} +
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
  /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/cache/debconf/*-old /var/log/*.log \
  /root/.cache /tmp/* /var/tmp/*
