#!/usr/bin/env python3
"""Runs every shell example of README.md and docs/*.md against a started demo, in order.

Called by scripts/docs-examples-check.sh, which starts the demo first; `--list` only prints the
blocks it found (no demo needed). A block is a fenced code block whose info string starts with
`sh`, `bash`, `shell` or `console`:

- ```sh (or bash, shell): the block runs as one bash script (errexit, pipefail) in a scratch
  directory; any command that exits non-zero fails the check, naming the document and line.
  A command whose failure is part of the example says so in shell (`|| status=$?`).
- ```console: lines starting with `$ ` are commands (continued by a trailing `\\`); the lines
  after one, up to the next command, are its output as the document shows it. Each shown line
  without digits (ids, times and counts change from run to run) must appear in what the
  command printed.
- ```sh no-run=REASON: not run. REASON is one of NO_RUN_REASONS; anything else fails the check,
  so every block that is left out says why.

`<TICKET_ID>` in an example stands for "the ticket number you got": it is replaced by the last
ticket number an earlier command of the same document printed (in the same block or before).
"""

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

LANGUAGES = ("sh", "bash", "shell", "console")

# Why a block may be left out. Each needs a machine or a process the demo is not.
NO_RUN_REASONS = {
    "long-running": "runs until stopped: make run itself, a service with production flags, a "
    "live view",
    "deploy": "changes the machine or needs a deployment: /etc, systemd, docker, kubectl, a "
    "cluster, TLS certificates installed, PostgreSQL in production",
    "build": "a release build of its own (minutes); the check uses the binaries of make build",
}

FENCE = re.compile(r"^(\s*)```(\S*)\s*(.*)$")
TICKET_ID = re.compile(r"\b[0-9]{6}-[0-9A-Z]{5}-[0-9A-Z]{6}\b")
PLACEHOLDER = "<TICKET_ID>"


class Block:
    def __init__(self, path, line, language, options, lines):
        self.path = path
        self.line = line  # the line of the opening fence, from 1
        self.language = language
        self.options = options
        self.lines = lines

    def where(self, offset=0):
        """The document and line of the block's `offset`-th line (0 is the first)."""
        return f"{self.path}:{self.line + 1 + offset}"

    def no_run_reason(self):
        for option in self.options:
            if option.startswith("no-run"):
                return option.partition("=")[2] or "(none given)"
        return None


def documents(root):
    paths = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    return [path for path in paths if path.is_file()]


def blocks_of(root, path):
    """The shell blocks of one document, each with the line of its opening fence."""
    found = []
    lines = path.read_text(encoding="utf-8").split("\n")
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match:
            end = index + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            if match.group(2) in LANGUAGES:
                indent = len(match.group(1))
                body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[index + 1 : end]]
                options = match.group(3).split()
                found.append(Block(path.relative_to(root), index + 1, match.group(2), options, body))
            index = end
        index += 1
    return found


NEGATED_IF = re.compile(r"^\s*if\s+!\s")


def shell_mistakes(block):
    """Mistakes a run cannot show: `if ! cmd; then ... $? ...` tests the status of `!` (0 or
    1), never the command's own exit code, so a `case $?` there never reaches its branches."""
    found = []
    for index, line in enumerate(block.lines):
        if not NEGATED_IF.match(line):
            continue
        for later in block.lines[index:]:
            if "$?" in later:
                found.append(
                    f"{block.where(index)}: `if ! cmd` then `$?` sees the status of `!`, not of "
                    "cmd; keep the status first (`cmd || status=$?`), then branch on it"
                )
                break
            if later.strip() in ("fi", "fi;"):
                break
    return found


def last_ticket(text, previous):
    found = TICKET_ID.findall(text)
    return found[-1] if found else previous


WRAPPER = r"""
set -eE -o pipefail
trap 'echo "$LINENO" > "$DOCS_FAILED_LINE"' ERR
docs_last_ticket() {
    local found
    found=$(grep -oE '[0-9]{6}-[0-9A-Z]{5}-[0-9A-Z]{6}' "$DOCS_OUT" | tail -n 1) || true
    echo "${found:-$DOCS_LAST_TICKET}"
}
exec >"$DOCS_OUT" 2>&1
source "$DOCS_BLOCK"
"""


def run_script(block, script, workdir, env, ticket):
    """Runs `script` (the block's text, line for line); returns (ok, output, failed line)."""
    block_file = workdir / ".docs-block.sh"
    failed_file = workdir / ".docs-failed-line"
    out_file = workdir / ".docs-out"
    block_file.write_text(script + "\n", encoding="utf-8")
    if failed_file.exists():
        failed_file.unlink()
    run_env = dict(
        env,
        DOCS_BLOCK=str(block_file),
        DOCS_FAILED_LINE=str(failed_file),
        DOCS_OUT=str(out_file),
        DOCS_LAST_TICKET=ticket or "",
    )
    result = subprocess.run(
        ["bash", "-c", WRAPPER],
        cwd=workdir,
        env=run_env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    result.stdout = out_file.read_text(encoding="utf-8", errors="replace") if out_file.exists() else ""
    failed_line = None
    if result.returncode != 0:
        if failed_file.exists():
            text = failed_file.read_text().strip()
            failed_line = int(text) - 1 if text.isdigit() else None
    return result.returncode == 0, result.stdout, failed_line


def refresh(block, workdir, sources):
    """Fresh copies of the demo's files the block names (`--refresh NAME=SOURCE`): a SQLite
    file through SQLite's online backup, consistent while the service writes."""
    text = "\n".join(block.lines)
    for name, source in sources:
        if name not in text:
            continue
        target = workdir / name
        if target.exists():
            target.unlink()
        if not Path(source).exists():
            continue
        if name.endswith(".db"):
            with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as live, sqlite3.connect(target) as copy:
                live.backup(copy)
        else:
            shutil.copyfile(source, target)


# (default address, this run's address) pairs of `--address`.
ADDRESSES = []


def substitute(text):
    """`<TICKET_ID>` becomes the last ticket number printed so far, and each default address of
    `--address` the demo's own (same line count)."""
    for default, actual in ADDRESSES:
        text = text.replace(default, actual)
    return text.replace(PLACEHOLDER, '"$(docs_last_ticket)"')


def run_sh(block, workdir, env, ticket):
    script = substitute("\n".join(block.lines))
    ok, output, failed_line = run_script(block, script, workdir, env, ticket)
    if not ok:
        where = block.where(failed_line) if failed_line is not None else block.where()
        shown = block.lines[failed_line].strip() if failed_line is not None and failed_line < len(block.lines) else ""
        return False, f"{where}: failed: {shown}\n{output}", ticket
    return True, output, last_ticket(output, ticket)


def console_commands(block):
    """The commands of a console block: (line offset, command text, shown output lines)."""
    commands = []
    index = 0
    while index < len(block.lines):
        line = block.lines[index]
        if line.startswith("$ "):
            start = index
            text = line[2:]
            while text.endswith("\\") and index + 1 < len(block.lines):
                index += 1
                text = text[:-1] + " " + block.lines[index].strip()
            shown = []
            while index + 1 < len(block.lines) and not block.lines[index + 1].startswith("$ "):
                index += 1
                shown.append(block.lines[index])
            commands.append((start, text, shown))
        index += 1
    return commands


def run_console(block, workdir, env, ticket):
    outputs = []
    for offset, command, shown in console_commands(block):
        script = substitute(command)
        ok, output, _ = run_script(block, script, workdir, env, ticket)
        if not ok:
            return False, f"{block.where(offset)}: failed: {command}\n{output}", ticket
        for expected in shown:
            line = expected.strip()
            if line and not re.search(r"[0-9]", line) and line not in output:
                return (
                    False,
                    f"{block.where(offset)}: {command}\n  the document shows: {line}\n  the command printed:\n{output}",
                    ticket,
                )
        ticket = last_ticket(output, ticket)
        outputs.append(output)
    return True, "".join(outputs), ticket


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--workdir", type=Path, help="the scratch directory the examples run in")
    parser.add_argument("--list", action="store_true", help="list the blocks, run nothing")
    parser.add_argument(
        "--refresh",
        action="append",
        default=[],
        metavar="NAME=SOURCE",
        help="before a block that names NAME, copy SOURCE to NAME in the scratch directory",
    )
    parser.add_argument(
        "--address",
        action="append",
        default=[],
        metavar="DEFAULT=ACTUAL",
        help="run each block with the address DEFAULT (as the docs write it) replaced by ACTUAL",
    )
    parser.add_argument("--verbose", action="store_true", help="print every block's output")
    arguments = parser.parse_args()
    for item in arguments.address:
        default, separator, actual = item.partition("=")
        if not separator or not default or not actual:
            parser.error(f"--address {item}: expected DEFAULT=ACTUAL")
        ADDRESSES.append((default, actual))
    root = arguments.root.resolve()

    blocks = [block for path in documents(root) for block in blocks_of(root, path)]
    problems = []
    for block in blocks:
        problems.extend(shell_mistakes(block))
        reason = block.no_run_reason()
        if reason is not None and reason not in NO_RUN_REASONS:
            problems.append(f"{block.where(-1)}: no-run needs a reason, one of {', '.join(NO_RUN_REASONS)}; got {reason}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if arguments.list:
        for block in blocks:
            reason = block.no_run_reason()
            print(f"{block.where(-1)}: {block.language}" + (f" (not run: {reason})" if reason else ""))
        return 0
    if arguments.workdir is None:
        parser.error("--workdir is needed to run the examples")

    env = dict(os.environ)
    ran = skipped = 0
    tickets = {}
    for block in blocks:
        if block.no_run_reason() is not None:
            skipped += 1
            continue
        ticket = tickets.get(block.path)
        refresh(block, arguments.workdir, [item.split("=", 1) for item in arguments.refresh])
        try:
            if block.language == "console":
                ok, output, ticket = run_console(block, arguments.workdir, env, ticket)
            else:
                ok, output, ticket = run_sh(block, arguments.workdir, env, ticket)
        except subprocess.TimeoutExpired as error:
            ok, output = False, f"{block.where(-1)}: {error}"
        tickets[block.path] = ticket
        ran += 1
        if not ok:
            print(f"docs examples: {output}", file=sys.stderr)
            return 1
        if arguments.verbose:
            print(f"--- {block.where(-1)}\n{output}")
        else:
            print(f"docs examples: ok   {block.where(-1)}")
    print(f"docs examples: {ran} blocks ran, {skipped} not run (marked no-run with a reason)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
