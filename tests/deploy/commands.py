"""The commands deploy/ documents, read from its files, so that the tests run what the docs say."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from corrupter.cli.main import build_parser
from corrupter.config import ReleaseConfig, load_config
from tests.processes import REPO

DEPLOY = REPO / "deploy"
DEPLOY_README = DEPLOY / "README.md"
# The placeholders of the documented submit command, which a test replaces with its own head and
# output directory (and nothing else)
HEAD_URL = "http://HEAD:8265"
BUCKET = "s3://my-bucket/releases"


def shell_blocks(markdown: str) -> list[str]:
    """The ```sh blocks of a Markdown text, in order."""
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.DOTALL | re.MULTILINE)


def shell_commands(block: str) -> list[list[str]]:
    """The commands of a shell block as argv lists: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", block)
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def submit_commands(markdown: str) -> list[list[str]]:
    """Every `ray job submit` command of the Markdown text."""
    return [argv for block in shell_blocks(markdown) for argv in shell_commands(block)
            if argv[:3] == ["ray", "job", "submit"]]


@dataclass(frozen=True)
class SubmitRecipe:
    """The first block of deploy/README.md's "Submitting a job": its exports and its command."""

    exports: dict[str, str]
    argv: list[str]


def submit_recipe(markdown: str | None = None) -> SubmitRecipe:
    """Read the recipe; fails (AssertionError) if its shape changed, so that the test is updated
    with it rather than silently running something else."""
    markdown = DEPLOY_README.read_text() if markdown is None else markdown
    section = markdown.split("## Submitting a job", 1)[1]
    block = shell_blocks(section)[0]
    exports: dict[str, str] = {}
    submits = []
    for argv in shell_commands(block):
        if argv[0] == "export":
            exports.update(item.split("=", 1) for item in argv[1:])
        elif argv[:3] == ["ray", "job", "submit"]:
            submits.append(argv)
        else:
            raise AssertionError(f"deploy/README.md: unexpected command in the submit recipe: {argv}")
    assert len(submits) == 1, "deploy/README.md: the submit recipe must hold exactly one `ray job submit`"
    return SubmitRecipe(exports, submits[0])


def split_submit(argv: list[str]) -> tuple[list[str], list[str]]:
    """(`ray job submit` options, the entrypoint after `--`)."""
    cut = argv.index("--")
    return argv[3:cut], argv[cut + 1:]


def token_file_of_fetch_command(markdown: str | None = None) -> str:
    """Where deploy/README.md's `ray get-auth-token > FILE` puts the cluster's token."""
    markdown = DEPLOY_README.read_text() if markdown is None else markdown
    match = re.search(r"ray get-auth-token > (\S+?)\)", markdown)
    assert match, "deploy/README.md no longer says how to fetch the cluster's token"
    return match.group(1)


def entrypoint_config(entrypoint: list[str], root: Path = REPO,
                      image_root: str | None = None) -> ReleaseConfig:
    """The config a `corrupter run` entrypoint (`corrupter ...` or `python -m corrupter ...`) would
    build, loaded with corrupter's own parser and config checks; a config path under ``image_root``
    (the image's copy of the checkout) is read from ``root``."""
    if entrypoint[:3] == ["python", "-m", "corrupter"]:
        args = entrypoint[3:]
    elif entrypoint[:1] == ["corrupter"]:
        args = entrypoint[1:]
    else:
        raise AssertionError(f"not a corrupter command: {entrypoint}")
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run", entrypoint
    config = parsed.config
    if image_root and config.startswith(image_root.rstrip("/") + "/"):
        config = config[len(image_root.rstrip("/")) + 1:]
    assert not Path(config).is_absolute(), f"{config} is not in the checkout"
    return load_config(root / config, parsed.set)
