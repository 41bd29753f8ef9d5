#!/usr/bin/env python3
"""Checks scripts/docs_examples.py on small made-up documents: a failing command is reported
with its document and line, `<TICKET_ID>` becomes the last ticket number printed, a console
block's shown output is compared, `no-run` needs a known reason, and `! cmd; case $?` style
mistakes fail where they are."""

import subprocess
import sys
import tempfile
from pathlib import Path

RUNNER = Path(__file__).resolve().parent / "docs_examples.py"


def run(files):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "docs").mkdir()
        (root / "work").mkdir()
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, str(RUNNER), "--root", str(root), "--workdir", str(root / "work")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.returncode, result.stdout + result.stderr


def expect(condition, message, output):
    if not condition:
        print(f"docs_examples selftest: {message}\n{output}", file=sys.stderr)
        sys.exit(1)


def main():
    code, output = run(
        {
            "README.md": "# t\n\n```sh\necho ok\n```\n",
            "docs/a.md": "# a\n\ntext\n\n```sh\necho one\nfalse\necho never\n```\n",
        }
    )
    expect(code == 1 and "docs/a.md:7: failed: false" in output, "a failing line is named", output)

    code, output = run(
        {
            "README.md": "# t\n",
            "docs/a.md": "```sh\necho 'ticket 261123-8SV3V-G0000F made'\n"
            "test <TICKET_ID> = 261123-8SV3V-G0000F\n```\n",
        }
    )
    expect(code == 0, "<TICKET_ID> is the last ticket number printed", output)

    code, output = run(
        {
            "README.md": "# t\n",
            "docs/a.md": "```console\n$ echo hello world\nhello world\n$ echo bye\nsomething else\n```\n",
        }
    )
    expect(code == 1 and "docs/a.md:4" in output and "something else" in output, "console output compared", output)

    code, output = run({"README.md": "```sh no-run=because\nrm -rf /\n```\n"})
    expect(code == 1 and "README.md:1: no-run needs a reason" in output, "no-run needs a known reason", output)

    code, output = run({"README.md": "```sh no-run=deploy\nexit 1\n```\n\n```bash\ntrue\n```\n"})
    expect(code == 0 and "1 blocks ran, 1 not run" in output, "no-run blocks are skipped", output)

    code, output = run(
        {
            "README.md": "# t\n",
            "docs/a.md": "```sh no-run=deploy\nif ! cloop tickets show x; then\n"
            "  case $? in 4) echo gone;; esac\nfi\n```\n",
        }
    )
    expect(code == 1 and "docs/a.md:2: `if ! cmd` then `$?`" in output, "if ! then $? is refused", output)

    print("docs_examples selftest: ok")


if __name__ == "__main__":
    main()
