"""The `flowgate` command: a typer application whose verbs load only when used.

Each verb is a typer command in its own module (`flowgate.cli.<verb>:app`); the group
below imports a verb's module only when that verb runs, adds the common options to it
(so they work after the verb too), and runs `flowgate-<name>` executables from PATH as
verbs. `main()` is the one place where errors become exit codes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from difflib import get_close_matches
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from flowgate.cli import output as out
from flowgate.cli.options import RAW_ARGS, common, common_params
from flowgate.errors import ExitCode, FlowgateError

VERBS = {
    "release": "flowgate.cli.release",
    "deploy": "flowgate.cli.deploy",
    "test": "flowgate.cli.test",
    "promote": "flowgate.cli.promote",
    "abort": "flowgate.cli.abort",
    "rollback": "flowgate.cli.rollback",
    "scale": "flowgate.cli.scale",
    "stop-old": "flowgate.cli.stop_old",
    "status": "flowgate.cli.status",
    "reconcile": "flowgate.cli.reconcile",
    "history": "flowgate.cli.history",
    "flow": "flowgate.cli.flow",
    "plugins": "flowgate.cli.plugins_cmd",
    "completion": "flowgate.cli.completion",
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
    "reconcile": "Rebuild the state from what runs.",
    "history": "Past releases, newest first.",
    "flow": "Docker Flow's steps and flags.",
    "plugins": "Loaded plugins, backends and PATH plugins.",
    "completion": "Shell completion script: bash, zsh or fish.",
}

HELP = """Test-gated blue-green releases of containerised services.

The new color starts beside the live one, your pytest suite runs against it, and only if
it passes does the proxy switch. Exit codes: 0 ok, 1 release failed (old color still
serving), 2 usage, 3 internal, 4 configuration, 5 backend unreachable, 6 rollback failed,
7 test gate failed, 8 locked, 130 interrupted.
"""


def verb_command(name: str) -> click.Command:
    """The click command typer builds from the verb module's `app`, with the common
    options added unless the verb takes its arguments raw (its context settings say so)."""
    module = __import__(VERBS[name], fromlist=["app"])
    command = typer.main.get_command(module.app)
    command.name = name
    if not command.context_settings.get("allow_extra_args"):
        command.params.extend(common_params())
    return command


class FlowgateGroup(TyperGroup):
    """Verbs are imported only when used; unknown verbs run `flowgate-<verb>` from PATH."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(VERBS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing verbs from this table keeps `flowgate --help` from importing every verb.
        with formatter.section("Commands"):
            formatter.write_dl(list(SUMMARIES.items()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in VERBS:
            return verb_command(name)
        from flowgate.plugins import path_plugins

        executable = path_plugins().get(name)
        return None if executable is None else _path_plugin_command(name, str(executable))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as err:
            matches = get_close_matches(args[0], list(VERBS)) if args else []
            if not matches or "Did you mean" in err.message:
                raise
            message = f"{err.message.rstrip('.')}. Did you mean {matches[0]!r}?"
            raise click.UsageError(message, ctx=err.ctx) from None

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Verb names from the tables (importing no verb), PATH plugins, then options."""
        from click.shell_completion import CompletionItem

        from flowgate.plugins import path_plugins

        items = [
            CompletionItem(n, help=h) for n, h in SUMMARIES.items() if n.startswith(incomplete)
        ]
        items += [
            CompletionItem(name, help=f"plugin: {path}")
            for name, path in path_plugins().items()
            if name.startswith(incomplete) and name not in VERBS
        ]
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # typer would turn it into a silent exit 130; flowgate says so on stderr.
            raise click.Abort() from None


def _path_plugin_command(name: str, executable: str) -> click.Command:
    plugin = typer.Typer(add_completion=False, rich_markup_mode=None)

    @plugin.command(name=name, context_settings=RAW_ARGS, add_help_option=False)
    def run(ctx: typer.Context) -> None:
        sys.exit(subprocess.call([executable, *ctx.args]))

    return typer.main.get_command(plugin)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"flowgate, version {version('flowgate')}")
        raise typer.Exit()


def _version_option(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            expose_value=False,
            callback=_show_version,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Only here so typer builds the --version option."""


app = typer.Typer(
    cls=FlowgateGroup,
    name="flowgate",
    help=HELP,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.callback()(common)


def build() -> click.Command:
    """The root click command: common options, --version, then typer's completion
    options (--install-completion, --show-completion)."""
    command = typer.main.get_command(app)
    version_app = typer.Typer(add_completion=False, rich_markup_mode=None)
    version_app.command()(_version_option)
    command.params[:0] = typer.main.get_command(version_app).params
    return command


def _debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("FLOWGATE_DEBUG", "") not in ("", "0")


def _usage_message(err: click.UsageError) -> str:
    """The usage error's message, pointing at the --help of the command it concerns."""
    if isinstance(err, click.exceptions.NoArgsIsHelpError):
        message = "missing verb"
    else:
        message = err.format_message()
    path = err.ctx.command_path if err.ctx is not None else "flowgate"
    return f"{message} (see `{path} --help`)"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and turn every outcome into one of the public exit codes."""
    argv = sys.argv[1:] if argv is None else argv
    out.route_warnings()
    code: Any
    try:
        code = build().main(args=argv, prog_name="flowgate", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        code = exit_.exit_code
    except click.UsageError as err:
        out.error(_usage_message(err))
        code = ExitCode.USAGE
    except click.ClickException as err:
        out.error(err.format_message())
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
