#!/usr/bin/env bash
# A single Consul server agent on this machine, bound to ADDR, its HTTP API on port 8500
# of every address (flowgate's `consul_address: ADDR:8500`). Installed from HashiCorp's
# Debian repository, so it needs the internet (a VM has it; the build machines do not,
# which is why the local tests use flowgate.testing.consul_server instead).
set -euo pipefail
addr=${1:?usage: consul.sh BIND_ADDR}

if ! command -v consul >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q gpg curl lsb-release
    curl -fsSL https://apt.releases.hashicorp.com/gpg \
        | gpg --dearmor -o /usr/share/keyrings/hashicorp.gpg
    echo "deb [signed-by=/usr/share/keyrings/hashicorp.gpg] https://apt.releases.hashicorp.com $(lsb_release -cs) main" \
        >/etc/apt/sources.list.d/hashicorp.list
    apt-get update -q
    apt-get install -y -q consul
fi

cat >/etc/consul.d/flowgate.hcl <<HCL
server           = true
bootstrap_expect = 1
bind_addr        = "$addr"
client_addr      = "0.0.0.0"
data_dir         = "/opt/consul"
ui_config { enabled = true }
HCL
systemctl enable --now consul
for _ in $(seq 60); do
    curl -fs "http://$addr:8500/v1/status/leader" | grep -q : && exit 0
    sleep 1
done
echo "consul.sh: Consul at $addr:8500 elected no leader within 60 s" >&2
exit 1
