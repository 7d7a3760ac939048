"""Docker Flow compatibility: `flowgate flow` reads Docker Flow's flags, `FLOW_*` variables
and `docker-flow.yml` with Docker Flow's own rules (`options`), maps them onto flowgate's
settings and backends (`bridge`), reads and writes its Consul keys (`state`) and runs its
steps in its order with its semantics (`steps`).

Written from Docker Flow's behaviour (vfarcic/docker-flow: opts.go, main.go, flow.go,
consul.go, ha_proxy.go and their tests); no code is copied.
"""
