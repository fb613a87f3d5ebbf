// `npm run settings-table`: writes config/catalog.ts's table over the settings table of docs/settings.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { settingsTable } from '../config/catalog.js';
import { repoRoot } from '../config/paths.js';

const file = join(repoRoot, 'docs', 'settings.md');
const readme = readFileSync(file, 'utf8');
const start = readme.indexOf('| variable | default | used by | meaning |');
if (start < 0) throw new Error('docs/settings.md has no settings table (its header row is missing)');
const end = readme.indexOf('\n\n', start);
writeFileSync(file, readme.slice(0, start) + settingsTable() + readme.slice(end));
