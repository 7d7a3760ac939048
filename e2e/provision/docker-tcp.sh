#!/usr/bin/env bash
# Let flowgate on another VM drive this machine's Docker engine: dockerd also listens on
# tcp://ADDR:2375 (the walkthrough's private network only: no TLS, never on a public
# address). The proxy VM needs it for `proxy_docker_host`.
set -euo pipefail
addr=${1:?usage: docker-tcp.sh ADDR}

mkdir -p /etc/systemd/system/docker.service.d
cat >/etc/systemd/system/docker.service.d/flowgate-tcp.conf <<UNIT
[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd -H fd:// -H unix:///var/run/docker.sock -H tcp://$addr:2375
UNIT
systemctl daemon-reload
systemctl restart docker
