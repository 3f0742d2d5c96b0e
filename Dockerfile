# ifmon images (Debian 12). Not built on the development machines, which
# have no Docker engine; docker-compose.yml is validated by the test suite.
#
#   docker build -t ifmon .              # both daemons and the web page
#   docker build -t ifmon-sim --target sim .   # simulated sites (snmpsimd)

FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        gcc make pkg-config libsnmp-dev libhiredis-dev libyaml-dev libjansson-dev \
        libuv1-dev libwebsockets-dev liburing-dev nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# make builds the daemons and the page's chart library (uPlot, from npm,
# pinned by package-lock.json).
RUN make all && make install DESTDIR=/out PREFIX=/usr

FROM debian:12 AS ifmon
RUN apt-get update && apt-get install -y --no-install-recommends \
        libsnmp40 libhiredis0.14 libyaml-0-2 libjansson4 libuv1 libwebsockets17 liburing2 \
        libwebsockets-evlib-uv \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin ifmon
COPY --from=build /out/ /
COPY config/docker/ifmon.yml /etc/ifmon/ifmon.yml
USER ifmon
WORKDIR /usr/share/ifmon
CMD ["ifmon-collector", "--config", "/etc/ifmon/ifmon.yml"]

FROM debian:12 AS sim
RUN apt-get update && apt-get install -y --no-install-recommends snmpsim python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin snmpsim
COPY tests/sim/sites.py /usr/local/lib/ifmon/sites.py
RUN mkdir -p /var/lib/snmpsim/data /var/cache/snmpsim \
    && python3 /usr/local/lib/ifmon/sites.py --data-dir /var/lib/snmpsim/data --port 1161 \
        --config /dev/null \
    && chown -R snmpsim /var/lib/snmpsim /var/cache/snmpsim
USER snmpsim
EXPOSE 1161/udp
CMD ["snmpsimd", "--data-dir=/var/lib/snmpsim/data", "--cache-dir=/var/cache/snmpsim", \
     "--agent-udpv4-endpoint=0.0.0.0:1161", "--logging-method=stderr"]
