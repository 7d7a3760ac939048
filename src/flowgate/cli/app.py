"""The `flowgate` command: verbs, PATH plugins, and the one place errors become exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from typing import Any

import click

from flowgate.cli import output as out
from flowgate.cli.options import common_options
from flowgate.errors import ExitCode, FlowgateError

VERBS = {
    "release": "flowgate.cli.release:release",
    "deploy": "flowgate.cli.deploy:deploy",
    "test": "flowgate.cli.test:test",
    "promote": "flowgate.cli.promote:promote",
    "abort": "flowgate.cli.abort:abort",
    "rollback": "flowgate.cli.rollback:rollback",
    "scale": "flowgate.cli.scale:scale",
    "stop-old": "flowgate.cli.stop_old:stop_old",
    "status": "flowgate.cli.status:status",
    "history": "flowgate.cli.history:history",
    "flow": "flowgate.cli.flow:flow",
    "plugins": "flowgate.cli.plugins_cmd:plugins",
}


SUMMARIES = {
    "release": "Deploy, test, promote and stop the old color.",
    "deploy": "Deploy the new color beside the live one.",
    "test": "Run the test gate against the new color.",
    "promote": "Switch the proxy to the new color, stop the old one.",
    "abort": "Remove the unpromoted new color.",
    "rollback": "Bring the previous color back and switch to it.",
    "scale": "Scale the live color: N, +N or -N.",
    "stop-old": "Stop the color that is not live.",
    "status": "Live color, instances and the current release.",
    "history": "Past releases, newest first.",
    "flow": "Docker Flow's steps and flags.",
    "plugins": "Loaded plugins, backends and PATH plugins.",
}


class FlowgateGroup(click.Group):
    """Verbs are imported only when used; unknown verbs run `flowgate-<verb>` from PATH."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(VERBS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing verbs from this table keeps `flowgate --help` from importing every verb.
        with formatter.section("Commands"):
            formatter.write_dl(list(SUMMARIES.items()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in VERBS:
            module_name, attr = VERBS[name].split(":")
            module = __import__(module_name, fromlist=[attr])
            command: click.Command = getattr(module, attr)
            return command
        from flowgate.plugins import path_plugins

        executable = path_plugins().get(name)
        if executable is None:
            return None
        return _path_plugin_command(name, str(executable))


def _path_plugin_command(name: str, executable: str) -> click.Command:
    @click.command(
        name=name,
        context_settings={
            "ignore_unknown_options": True,
            "allow_extra_args": True,
            "help_option_names": [],
        },
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run(args: tuple[str, ...]) -> None:
        sys.exit(subprocess.call([executable, *args]))

    return run


@click.group(cls=FlowgateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowgate")
@common_options
def cli() -> None:
    """Test-gated blue-green releases of containerised services.

    The new color starts beside the live one, your pytest suite runs against it, and
    only if it passes does the proxy switch. Exit codes: 0 ok, 1 release failed (old
    color still serving), 2 usage, 3 internal, 4 configuration, 5 backend unreachable,
    6 rollback failed, 7 test gate failed, 8 locked, 130 interrupted.
    """


def _debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("FLOWGATE_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and turn every outcome into one of the public exit codes."""
    argv = sys.argv[1:] if argv is None else argv
    out.route_warnings()
    code: Any
    try:
        code = cli.main(args=argv, prog_name="flowgate", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        code = exit_.exit_code
    except click.ClickException as err:
        out.error(f"{err.format_message()} (see `flowgate --help`)")
        code = ExitCode.USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        out.error("interrupted")
        code = ExitCode.INTERRUPTED
    except FlowgateError as err:
        if _debug(argv):
            traceback.print_exc()
        out.error(str(err))
        code = err.exit_code
    except Exception as err:  # the last resort: an unexpected bug, reported as such
        if _debug(argv):
            traceback.print_exc()
        out.error(f"internal error: {type(err).__name__}: {err} (rerun with --debug)")
        code = ExitCode.INTERNAL
    return int(code or 0)


def entry() -> None:
    sys.exit(main())
