#!/usr/bin/env python3
"""Checks every relative Markdown link of the README, ARCHITECTURE.md and
docs/: the file must exist and an anchor must name a heading of it
(GitHub's slugs). Links to other sites are not checked (no network here).
Exits 1 and lists each broken link."""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..'))
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')


def pages():
    yield os.path.join(ROOT, 'README.md')
    yield os.path.join(ROOT, 'ARCHITECTURE.md')
    docs = os.path.join(ROOT, 'docs')
    yield from sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith('.md'))


def prose(path):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if line.lstrip().startswith('```'):
                fenced = not fenced
            elif not fenced:
                yield n, line


def slug(heading):
    return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def anchors(path):
    return {slug(m.group(1)) for _, line in prose(path) if (m := re.match(r'#{1,6}\s+(.*)', line))}


def main():
    checked, broken = 0, []
    for page in pages():
        rel = os.path.relpath(page, ROOT)
        for n, line in prose(page):
            for m in LINK.finditer(line):
                target = m.group(1)
                if re.match(r'[a-z]+:', target):
                    continue
                path, _, anchor = target.partition('#')
                full = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
                checked += 1
                if not os.path.exists(full):
                    broken.append(f'{rel}:{n}: no file {target}')
                elif anchor and (not full.endswith('.md') or anchor not in anchors(full)):
                    broken.append(f'{rel}:{n}: no heading #{anchor} in {path or rel}')
    print(f'links: {checked} relative links checked, {len(broken)} broken')
    print('\n'.join(broken))
    return 1 if broken else 0


if __name__ == '__main__':
    sys.exit(main())
