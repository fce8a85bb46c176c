#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Refuse C functions longer than a limit under src/ (docs/architecture.md).

Usage: check-function-size.py [ROOT] [--max N]   (default: this repo, 120)

A function definition starts at column 0 with a name and '(' and ends at
the next '}' in column 0 (the project's K&R style).  Language grammars, whose
one switch over the grammar is clearer whole, are listed in EXEMPT with the
reason; every other function over the limit is a violation.
"""
import os
import re
import sys

EXEMPT = {
    # the JMESPath evaluator: one case per AST node kind of the JMESPath grammar
    ('src/cli/output/jmespath.c', 'eval'),
    # the MAA policy language lexer: one case per token class of the grammar
    ('src/libconfpool/maa_policy_parse.c', 'next'),
}

DEF = re.compile(r'^[A-Za-z_][^=;]*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\(')


def functions(path):
    lines = open(path, errors='replace').read().split('\n')
    i = 0
    while i < len(lines):
        m = DEF.match(lines[i])
        if m and not lines[i].startswith(('typedef', 'struct', 'enum', 'union', 'static const', 'const')):
            j = i
            while j < len(lines) and j - i < 8 and not lines[j].rstrip().endswith(('{', ';')):
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith('{'):
                k = j + 1
                while k < len(lines) and not lines[k].startswith('}'):
                    k += 1
                yield m.group(1), i + 1, k - i + 1
                i = k
        i += 1


def main():
    args = sys.argv[1:]
    limit = 120
    if '--max' in args:
        n = args.index('--max')
        limit = int(args[n + 1])
        del args[n:n + 2]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), '..'))
    bad = []
    for dp, dn, fn in os.walk(os.path.join(root, 'src')):
        dn.sort()
        for f in sorted(fn):
            if not f.endswith('.c'):
                continue
            rel = os.path.relpath(os.path.join(dp, f), root)
            for name, line, n in functions(os.path.join(dp, f)):
                if n > limit and (rel, name) not in EXEMPT:
                    bad.append(f'{rel}:{line}: {name} is {n} lines (limit {limit})')
    for b in bad:
        print(b)
    if bad:
        print(f'check-function-size: {len(bad)} function(s) over {limit} lines')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
