// The README is a front door and docs/ holds the rest: a link that points nowhere, an anchor whose
// heading was renamed, or a page nobody links would each leave a newcomer stranded. This keeps every
// relative link pointing at a file (and a heading) that exists, and every docs/ page within two clicks.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { repoRoot } from '../../config/paths.js';

interface Link { from: string; target: string; anchor?: string }

/** Every markdown page under docs/, as repo-relative posix paths. */
function docsPages(dir = 'docs'): string[] {
  return readdirSync(join(repoRoot, dir)).flatMap((name) => {
    const path = posix.join(dir, name);
    if (statSync(join(repoRoot, path)).isDirectory()) return docsPages(path);
    return path.endsWith('.md') ? [path] : [];
  });
}

/** The page's text outside fenced code blocks and inline code, where a `](…)` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Relative links of a page, resolved to repo-relative paths (external and mail links are not ours to check). */
function linksOf(page: string): Link[] {
  const text = prose(readFileSync(join(repoRoot, page), 'utf8'));
  const links: Link[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]*)(?:\s+"[^"]*")?\)/g)) {
    const raw = m[1];
    if (raw === '' || /^[a-z][a-z0-9+.-]*:/i.test(raw)) continue;
    const [path, anchor] = raw.split('#', 2);
    const target = path === '' ? page : posix.normalize(posix.join(posix.dirname(page), path));
    links.push({ from: page, target, anchor: anchor || undefined });
  }
  return links;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(page: string): Set<string> {
  const text = readFileSync(join(repoRoot, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1].replace(/`/g, ''))));
}

function isPage(target: string): boolean {
  return target.endsWith('.md') && existsSync(join(repoRoot, target));
}

describe('documentation links', () => {
  const pages = ['README.md', 'bench/README.md', ...docsPages()];

  it('finds the pages and their links (the checks below are not vacuous)', () => {
    assert.ok(pages.length > 20, `only ${pages.length} pages found`);
    assert.ok(linksOf('README.md').length > 30, 'the README links fewer than 30 pages');
  });

  it('every relative link points at a file or directory that exists', () => {
    const broken = pages.flatMap(linksOf).filter((l) => !existsSync(join(repoRoot, l.target)));
    assert.deepEqual(broken.map((l) => `${l.from} → ${l.target}`), []);
  });

  it('every #anchor names a heading of the page it points at', () => {
    const wrong = pages.flatMap(linksOf)
      .filter((l) => l.anchor !== undefined && isPage(l.target))
      .filter((l) => !anchorsOf(l.target).has(l.anchor as string));
    assert.deepEqual(wrong.map((l) => `${l.from} → ${l.target}#${l.anchor}`), []);
  });

  it('every docs/ page is linked from the README or from a page the README links', () => {
    const first = new Set(linksOf('README.md').map((l) => l.target).filter(isPage));
    const second = new Set([...first].flatMap(linksOf).map((l) => l.target).filter(isPage));
    const unreachable = docsPages().filter((p) => !first.has(p) && !second.has(p));
    assert.deepEqual(unreachable, []);
  });

  it('checks anchors the way GitHub writes them', () => {
    assert.equal(slug('Payload encryption and the Temporal UI'), 'payload-encryption-and-the-temporal-ui');
    assert.equal(slug('The code interpreter (runCode)'), 'the-code-interpreter-runcode');
    assert.equal(slug('Runbook: control plane'), 'runbook-control-plane');
  });
});
