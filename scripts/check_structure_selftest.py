#!/usr/bin/env python3
"""Proves each rule of check_structure.py on a small crate it writes: a long function, a
marked table, braces inside strings and comments, a module cycle and a one-way graph."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_structure as cs  # noqa: E402


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def body(n):
    return "".join(f"    let x{i} = \"}} {{\"; // }}\n" for i in range(n))


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        long_fn = write(tmp, "src/a.rs", "pub fn long() {\n" + body(119) + "}\n")
        if [f[0] for f in cs.long_functions(long_fn)] != ["long"]:
            failures.append("a 121-line function with braces in strings is not found")
        ok_fn = write(tmp, "src/b.rs", "fn short() {\n" + body(118) + "}\n")
        if cs.long_functions(ok_fn):
            failures.append("a 120-line function is reported")
        table = write(tmp, "src/c.rs", "// structure: table\nfn table() {\n" + body(200) + "}\n")
        if cs.long_functions(table):
            failures.append("a marked table is reported")
        raw = write(tmp, "src/d.rs", 'fn raw() {\n    let s = r#"{ { {"#;\n}\nfn after() {\n' + body(130) + "}\n")
        if [f[0] for f in cs.long_functions(raw)] != ["after"]:
            failures.append("a raw string's braces hide the next function")
        write(tmp, "src/lib.rs", "mod a;\nmod b;\n")
        write(tmp, "src/a.rs", "use crate::b::B;\nuse crate::c;\n")
        write(tmp, "src/b.rs", "use crate::{a::A, c};\n")
        write(tmp, "src/c.rs", "#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n")
        write(tmp, "src/d.rs", "")
        got = cs.cycles(cs.module_graph(src))
        if got != [["a", "b"]]:
            failures.append(f"the cycle a <-> b is reported as {got}")
        write(tmp, "src/b.rs", "use crate::c;\n")
        got = cs.cycles(cs.module_graph(src))
        if got:
            failures.append(f"a one-way graph is reported as a cycle: {got}")
    for f in failures:
        print("check_structure selftest:", f)
    if failures:
        return 1
    print("check_structure selftest: every rule proved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
