#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Refuse a wrong-way #include and any include circle between files.

Usage: check-layers.py [ROOT]   (ROOT: the source tree, default: this repo)

Reads ROOT/src/LAYERS (module -> modules it may include) and checks every
file under ROOT/src and ROOT/include/confpool:
  - an #include "m/..." from module M names M itself or a module LAYERS
    allows M; "confpool/..." is the module "public";
  - a bare #include "x.h" names a file beside the includer;
  - public headers (include/confpool) include only public headers and the
    re-export of src/basic/error.h;
  - no include circle: with x.c, x.h and x-internal.h taken as one unit,
    no two units reach each other through #include (a circle between two
    modules can only be a wrong-way edge; one within a module is refused
    unless src/LAYERS lists it as a "known-circle" being taken apart, and a
    listed circle that is gone must be removed from the list).
Exit status 0 when clean, 1 with one line per violation otherwise.
"""
import os
import re
import sys

INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def load_layers(path):
    allowed, known = {}, set()
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if line and line[0] == 'known-circle':
                known.add(' -> '.join(sorted('src/' + u for u in line[1:])))
            elif line:
                allowed[line[0]] = set(line[1:])
    for m, deps in allowed.items():
        for d in deps:
            if d != 'public' and d not in allowed:
                raise SystemExit(f'{path}: {m} names unknown module {d}')
    return allowed, known


def files_under(root, top):
    for dp, dn, fn in os.walk(os.path.join(root, top)):
        dn.sort()
        for f in sorted(fn):
            if f.endswith(('.c', '.h')):
                yield os.path.relpath(os.path.join(dp, f), root)


def unit(path):
    """x.c, x.h and x-internal.h are one unit (a module's private header is its own)."""
    stem = path[:-2]
    return stem[:-len('-internal')] if stem.endswith('-internal') else stem


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), '..'))
    allowed, known = load_layers(os.path.join(root, 'src', 'LAYERS'))
    errors = []
    edges = {}
    srcs = list(files_under(root, 'src')) + list(files_under(root, 'include/confpool'))
    for rel in srcs:
        parts = rel.split(os.sep)
        module = 'public' if parts[0] == 'include' else parts[1]
        if module != 'public' and module not in allowed:
            errors.append(f'{rel}: module "{module}" is not in src/LAYERS')
            continue
        text = open(os.path.join(root, rel), errors='replace').read()
        for m in INC.finditer(text):
            name = m.group(1)
            line = text.count('\n', 0, m.start()) + 1
            where = f'{rel}:{line}'
            if '/' not in name:
                target = os.path.join(os.path.dirname(rel), name)
                if not os.path.exists(os.path.join(root, target)):
                    errors.append(f'{where}: "{name}" is not beside the file')
                    continue
            elif module == 'public' and name == '../../src/basic/error.h':
                continue
            else:
                top = name.split('/', 1)[0]
                tmod = 'public' if top == 'confpool' else top
                target = os.path.join('include', name) if top == 'confpool' else os.path.join('src', name)
                if module == 'public' and tmod != 'public':
                    errors.append(f'{where}: public header includes internal "{name}"')
                    continue
                if tmod != module and tmod not in allowed.get(module, ()):
                    errors.append(f'{where}: {module} may not include "{name}" '
                                  f'({tmod} is not below {module} in src/LAYERS)')
                    continue
                if not os.path.exists(os.path.join(root, target)):
                    errors.append(f'{where}: "{name}" does not exist')
                    continue
            edges.setdefault(unit(rel), set()).add(unit(os.path.normpath(target)))
    found = circles(edges)
    for c in found:
        if c not in known:
            errors.append('include circle: ' + c)
    for c in sorted(known - set(found)):
        errors.append('known-circle in src/LAYERS is gone (remove the line): ' + c)
    for e in errors:
        print(e)
    if errors:
        print(f'check-layers: {len(errors)} violation(s)')
        return 1
    return 0


def circles(edges):
    """Tarjan's strongly connected components; every one of more than one unit is a circle."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    nodes = set(edges) | {t for ts in edges.values() for t in ts}

    def visit(v):
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w == node:
                    continue
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(' -> '.join(sorted(comp)))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


if __name__ == '__main__':
    sys.exit(main())
