"""`flowgate plugins`: loaded plugins, their hooks and backends, and PATH plugins."""

from __future__ import annotations

from flowgate.cli.options import output, verb_app
from flowgate.cli.output import render_table
from flowgate.plugins import BackendCatalog, make_plugin_manager, path_plugins

app = verb_app()


@app.command()
def plugins() -> None:
    """List plugins, the hooks each implements, backends, and flowgate-* executables."""
    pm = make_plugin_manager()
    catalog = BackendCatalog.collect(pm)
    loaded = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        loaded.append({"name": name, "hooks": hooks})
    backends = [
        {"kind": kind, "name": name, "class": f"{cls.__module__}.{cls.__qualname__}"}
        for kind, by_name in catalog.classes.items()
        for name, cls in sorted(by_name.items())
    ]
    executables = [{"verb": verb, "path": str(path)} for verb, path in path_plugins().items()]
    table = render_table(["plugin", "hooks"], [[p["name"], ", ".join(p["hooks"])] for p in loaded])
    table += "\n" + render_table(
        ["kind", "backend", "class"], [[b["kind"], b["name"], b["class"]] for b in backends]
    )
    if executables:
        table += "\n" + render_table(
            ["verb", "executable"], [[e["verb"], e["path"]] for e in executables]
        )
    output().data({"plugins": loaded, "backends": backends, "path_plugins": executables}, table)
