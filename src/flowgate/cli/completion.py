"""`flowgate completion SHELL`: print typer's completion script for bash, zsh or fish.

kubectl's way (`source <(flowgate completion bash)`), beside typer's own
`flowgate --install-completion`, which writes the same script into the shell's start-up
files. Either way the script calls `flowgate` back with `_FLOWGATE_COMPLETE=complete_<shell>`
and typer answers with the verbs, options and targets that fit.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from flowgate.cli.options import output, verb_app

COMPLETE_VAR = "_FLOWGATE_COMPLETE"


class Shell(enum.StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


app = verb_app()


@app.command()
def completion(
    shell: Annotated[
        Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.", show_default=False)
    ],
) -> None:
    """Print the shell completion script (bash, zsh or fish) to source or install."""
    from typer._completion_shared import get_completion_script

    script = get_completion_script(
        prog_name="flowgate", complete_var=COMPLETE_VAR, shell=shell.value
    )
    output().data({"shell": shell.value, "script": script}, script)
