#!/usr/bin/env python3
"""Finds import cycles between the files of each crate: file A names something of file B
(`use crate::b::X`, `crate::b::f()`, `super::X`, `b::X` for a child module) and B, directly or
through others, names something of A. Module declarations (`mod b;`) and re-exports
(`pub use`) are structure, not imports. Exits non-zero, listing each cycle, if there is one.

    python3 .ci/import_cycles.py [crates-dir]
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_BLOCK = re.compile(r"\buse\s+(crate|super|self)::\{([^;]*)\};", re.S)


def module_of(src: Path, file: Path) -> tuple:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def code_only(text: str) -> str:
    """`text` with comments removed and string and character literals emptied, scanning
    left to right so that `//` in a string or a quote in a comment does not confuse it."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = len(re.match(r"r(#*)", text[i:]).group(1))
            close = '"' + "#" * hashes
            j = text.find(close, i + 2 + hashes)
            out.append('""')
            i = n if j < 0 else j + len(close)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^'\\])'", text[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip(text: str) -> str:
    """The code without its unit tests, comments, string literals and `mod`/`pub use`
    declarations (tests may name anything; they are not part of the structure)."""
    at = text.find("#[cfg(test)]")
    if at >= 0:
        text = text[:at]
    text = code_only(text)
    text = re.sub(r"^\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*;", "", text, flags=re.M)
    text = re.sub(r"^\s*pub(\([^)]*\))?\s+use\s+[^;]*;", "", text, flags=re.M | re.S)
    return text


def references(text: str, here: tuple, is_dir_module: bool):
    """Module paths (tuples) this file's code names."""
    base_for_self = here
    base_for_super = here[:-1]
    found = []

    def resolve(kind, rest):
        if kind == "crate":
            return tuple(rest)
        if kind == "self":
            return base_for_self + tuple(rest)
        return base_for_super + tuple(rest)

    for m in USE_BLOCK.finditer(text):
        kind, body = m.group(1), m.group(2)
        for item in re.findall(r"[A-Za-z_][A-Za-z0-9_:]*", body):
            found.append(resolve(kind, [p for p in item.split("::") if p]))
    for m in PATH.finditer(text):
        kind = m.group(1)
        rest = [p for p in m.group(2).split("::") if p]
        found.append(resolve(kind, rest))
    return found


def crate_graph(src: Path):
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    edges = {m: set() for m in files}
    for here, file in files.items():
        text = strip(file.read_text())
        is_dir = file.name == "mod.rs"
        for target in references(text, here, is_dir):
            # the longest module prefix that is a file of this crate
            for n in range(len(target), -1, -1):
                if target[:n] in files:
                    t = target[:n]
                    break
            else:
                continue
            if t != here and t != ():
                edges[here].add(t)
    return files, edges


def cycles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "crates")
    bad = 0
    for crate in sorted(p for p in root.iterdir() if (p / "src").is_dir()):
        files, edges = crate_graph(crate / "src")
        for comp in cycles(edges):
            bad += 1
            names = sorted(str(files[m].relative_to(crate)) for m in comp)
            print(f"{crate.name}: import cycle between {', '.join(names)}")
            for m in sorted(comp):
                inside = sorted(str(files[t].relative_to(crate)) for t in edges[m] if t in comp)
                print(f"    {files[m].relative_to(crate)} -> {', '.join(inside)}")
    if bad:
        sys.exit(1)
    print("no import cycles between files")


if __name__ == "__main__":
    main()
