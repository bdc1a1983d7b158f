# The Patronus twin node image (patronus/node:dev) for the containerlab provider: one image for every
# node kind — the edge agent (`patronus edge`), BIRD 2 and FRR for router nodes, nftables for NAT on wan
# nodes, iproute2/ping/iperf3 for hosts.
#
# UNTESTED HERE: the machine this was written on has no Docker engine. Build from the repository root:
#   npm run setup            # produces dist/patronus.js and dist/edge.js
#   docker build -f docker/node.Dockerfile -t patronus/node:dev .
FROM debian:12-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nodejs iproute2 nftables bird2 frr iputils-ping iperf3 ethtool procps ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# Plain-JavaScript bundles built by scripts/build.mjs; they carry their dependencies.
COPY dist/patronus.js dist/edge.js /opt/patronus/dist/
COPY package.json /opt/patronus/package.json
RUN printf '#!/bin/sh\nexec node /opt/patronus/dist/patronus.js "$@"\n' > /usr/local/bin/patronus \
 && chmod 755 /usr/local/bin/patronus \
 && mkdir -p /run/patronus /etc/patronus

# containerlab runs each node's exec list after wiring its links; the container itself only has to stay up.
CMD ["sleep", "infinity"]
