#!/usr/bin/env python3
"""The structure rules of crates/*/src (docs/architecture.md, "Structure"):

- no source file over 1,000 lines;
- no function over 120 lines, unless the line before it says `// structure: table`
  (a flat match or a data table, read down not across);
- no cycle between the modules of one crate: module A uses module B when A's files name
  `crate::B` (or `super::B` from a top-level file), and the modules of a crate with their
  uses must form a graph without cycles. A module's own submodules are part of it.

Prints every breach and exits 1 when there is one; `--report` prints the figures too.
It reads the files as text: comments and strings are stripped before braces are counted.
"""

import os
import re
import sys

MAX_FILE_LINES = 1000
MAX_FN_LINES = 120
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FN_RE = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def strip_code(line, state):
    """The line without comments, strings and char literals; state carries block comments
    and raw/ordinary strings across lines."""
    out = []
    i = 0
    n = len(line)
    while i < n:
        if state["block"]:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out)
            state["block"] -= 1
            i = end + 2
            continue
        if state["raw"] is not None:
            end = line.find('"' + "#" * state["raw"], i)
            if end < 0:
                return "".join(out)
            i = end + 1 + state["raw"]
            state["raw"] = None
            continue
        if state["str"]:
            while i < n:
                if line[i] == "\\":
                    i += 2
                    continue
                if line[i] == '"':
                    state["str"] = False
                    i += 1
                    break
                i += 1
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] += 1
            i += 2
            continue
        m = re.match(r'b?r(#*)"', line[i:])
        if m and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
            state["raw"] = len(m.group(1))
            i += m.end()
            continue
        if c == '"':
            state["str"] = True
            i += 1
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", line[i:])
            if m:
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def rust_files(src):
    for dirpath, _, files in os.walk(src):
        for name in files:
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def long_functions(path):
    """(name, first line, length) of each function longer than the limit."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    state = {"block": 0, "raw": None, "str": False}
    code = [strip_code(line, state) for line in lines]
    found = []
    for idx, text in enumerate(code):
        m = FN_RE.match(text)
        if not m:
            continue
        prev = lines[idx - 1].strip() if idx else ""
        exempt = "structure: table" in prev
        depth = 0
        opened = False
        end = None
        for j in range(idx, len(code)):
            for ch in code[j]:
                if ch == "{":
                    depth += 1
                    opened = True
                elif ch == "}":
                    depth -= 1
                elif ch == ";" and not opened and depth == 0:
                    end = j
                    break
                if opened and depth == 0:
                    end = j
                    break
            if end is not None:
                break
        if end is None or not opened:
            continue
        length = end - idx + 1
        if length > MAX_FN_LINES and not exempt:
            found.append((m.group(7), idx + 1, length))
    return found


def top_module(src, path):
    rel = os.path.relpath(path, src)
    parts = rel.split(os.sep)
    if len(parts) == 1:
        stem = parts[0][:-3]
        return None if stem in ("lib", "main") else stem
    if parts[0] == "bin":
        return None
    return parts[0]


USE_RE = re.compile(r"\bcrate::(\w+)")
USE_GROUP_RE = re.compile(r"\bcrate::\{([^}]*)\}", re.S)
SUPER_RE = re.compile(r"\bsuper::(\w+)")


def module_graph(src):
    edges = {}
    for path in rust_files(src):
        mod = top_module(src, path)
        if mod is None:
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        state = {"block": 0, "raw": None, "str": False}
        text = "\n".join(strip_code(line, state) for line in text.split("\n"))
        # #[cfg(test)] modules may reach anywhere: leave test code out of the graph.
        cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
        if cut:
            text = text[: cut.start()]
        if os.path.basename(path) == "tests.rs":
            continue
        targets = set(USE_RE.findall(text))
        for group in USE_GROUP_RE.findall(text):
            for item in group.split(","):
                item = item.strip().split("::")[0].strip()
                if item:
                    targets.add(item)
        depth_one = os.path.dirname(os.path.relpath(path, src)) == ""
        if depth_one:
            targets |= set(SUPER_RE.findall(text))
        for t in targets:
            if t != mod and t not in ("self", "super", "crate"):
                edges.setdefault(mod, set()).add(t)
    modules = {top_module(src, p) for p in rust_files(src)} - {None}
    return {m: {t for t in edges.get(m, ()) if t in modules} for m in modules}


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index = {}
    low = {}
    stack = []
    on = set()
    out = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    report = "--report" in sys.argv
    crates_dir = os.path.join(ROOT, "crates")
    breaches = []
    largest = (0, "")
    longest = (0, "")
    for crate in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, crate, "src")
        if not os.path.isdir(src):
            continue
        for path in sorted(rust_files(src)):
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding="utf-8") as f:
                count = f.read().count("\n")
            largest = max(largest, (count, rel))
            if count > MAX_FILE_LINES:
                breaches.append(f"{rel}: {count} lines (at most {MAX_FILE_LINES})")
            for name, line, length in long_functions(path):
                longest = max(longest, (length, f"{rel}:{line} {name}"))
                breaches.append(
                    f"{rel}:{line}: fn {name} is {length} lines (at most {MAX_FN_LINES}; "
                    "a flat match or table may say `// structure: table` above it)"
                )
        for comp in cycles(module_graph(src)):
            breaches.append(f"crates/{crate}: modules in a cycle: {' -> '.join(comp)}")
    for b in breaches:
        print(b)
    if report:
        print(f"largest file: {largest[1]} ({largest[0]} lines)")
        if longest[0]:
            print(f"longest function over the limit: {longest[1]} ({longest[0]} lines)")
    if breaches:
        print(f"{len(breaches)} structure breach(es)", file=sys.stderr)
        return 1
    print("structure: files, functions and module graphs within bounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
