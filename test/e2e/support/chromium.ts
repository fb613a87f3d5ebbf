// Debian's Chromium, headless, for the suites that drive the dashboard or attack it from a browser.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.DURABOX_CHROMIUM ?? '/usr/bin/chromium';

/** Flags that keep a test browser quiet: no network of its own, no first-run pages, no QUIC. */
export const QUIET_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A fresh profile's browser; `close()` ends it and removes the profile. */
export async function launchChromium(opts: { viewport?: { width: number; height: number }; acceptDownloads?: boolean } = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'durabox-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: QUIET_ARGS,
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    ...(opts.acceptDownloads ? { acceptDownloads: true } : {}),
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
