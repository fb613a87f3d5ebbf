# The durabox platform image: the installed package, one image for every process it runs
# (`durabox api`, `durabox gateway`, `durabox worker`; `api` by default). Its build context is made by
# deploy/build-platform-image.sh: the packed package installed, production dependencies only, into app/.
#
# The API and the gateway run as an unprivileged user. A worker drives the host's Docker through its
# socket (-v /var/run/docker.sock:/var/run/docker.sock, and --user root or --group-add <the socket's
# group>): whoever holds that socket is root on the host, so the worker container is as trusted as
# the host itself. Run it only on execution hosts. Its sessions' relay directories (the workbench's ports,
# browser and terminals) are bind-mounted into their containers by the host's Docker, so they must be the
# same path inside the worker's container and on the host: -v /var/lib/durabox-relay:/var/lib/durabox-relay
# with DURABOX_RELAY_DIR=/var/lib/durabox-relay (without it, sessions work but have no workbench streams).
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
COPY app/ /opt/durabox/
ENV PATH=/opt/durabox/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    DURABOX_DATA_DIR=/var/lib/durabox
USER root
RUN mkdir -p /var/lib/durabox && chown 1000:1000 /var/lib/durabox
USER 1000:1000
WORKDIR /var/lib/durabox
EXPOSE 8089 7243
ENTRYPOINT ["durabox"]
CMD ["api"]
