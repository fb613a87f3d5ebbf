// The browser tools (spec §3.4; docs/workbench/browser.md): navigate, screenshot, click, type, evaluate,
// get HTML, wait for an element, PDF, over the Chrome DevTools Protocol of the session's own Chromium.
// playwright-core is only the CDP client here: it downloads no browser, and its selectors, auto-waiting
// and error texts are what an agent already knows from Playwright. Each call connects, acts on the
// browser's first page (so the page's state lives on between calls, as the browser does) and disconnects:
// `Browser.close()` of a browser reached by connectOverCDP only drops the connection (and any context the
// connection made; these calls make none), never the session's Chromium.
import { chromium, type Browser, type Page } from 'playwright-core';
import type { z } from 'zod';
import { DuraboxError } from '../../contract/errors.js';
import {
  BROWSER_CAPTURE_MAX_BYTES, BROWSER_TEXT_MAX_CHARS, type BrowserClickBody, type BrowserEvaluateBody, type BrowserHtmlBody,
  type BrowserNavigateBody, type BrowserPdfBody, type BrowserScreenshotBody, type BrowserTypeBody, type BrowserWaitBody,
} from '../../contract/schemas.js';

/** A CDP WebSocket endpoint of a session's Chromium and the headers that open it (the API's tunnel). */
export interface CdpEndpoint { wsUrl: string; headers: Record<string, string> }

/** Finds the CDP endpoint of an account's session; refuses a session that is not the account's or has no browser. */
export type CdpEndpointOf = (accountId: string, sessionId: string) => Promise<CdpEndpoint>;

/** How long opening the CDP connection may take (the session agent starts Chromium on first use). */
const CONNECT_TIMEOUT_MS = 20_000;

export type PageInfo = { url: string; title: string };
export type Capture = PageInfo & { bytes: Buffer; mime: string };

type Body<S extends z.ZodType> = z.output<S>;

/** Loads a URL in the page; a load that fails (net::ERR_…) or outlasts timeout_ms is navigation_failed. */
export async function navigate(ep: CdpEndpoint, args: Body<typeof BrowserNavigateBody>): Promise<PageInfo & { status: number | null }> {
  return onPage(ep, async (page) => {
    const response = await page.goto(args.url, { waitUntil: args.wait_until, timeout: args.timeout_ms })
      .catch((e: unknown) => { throw navigationError(e, args.url, args.timeout_ms); });
    return { ...(await infoOf(page)), status: response?.status() ?? null };
  });
}

/** A PNG of the viewport, of the whole page (full_page), or of one element (selector). */
export async function screenshot(ep: CdpEndpoint, args: Body<typeof BrowserScreenshotBody>): Promise<Capture> {
  return onPage(ep, async (page) => {
    const bytes = args.selector !== undefined
      ? await page.locator(args.selector).first().screenshot({ type: 'png', timeout: args.timeout_ms }).catch(selectorError(args.selector, 'visible', args.timeout_ms))
      : await page.screenshot({ type: 'png', fullPage: args.full_page, timeout: args.timeout_ms }).catch(timeoutAs('capture', args.timeout_ms));
    return capped({ ...(await infoOf(page)), bytes, mime: 'image/png' }, 'screenshot', args.selector === undefined ? 'give a selector, or leave full_page off' : 'pick a smaller element');
  });
}

/** Clicks the first element the selector matches, once it is visible, stable and enabled. */
export async function click(ep: CdpEndpoint, args: Body<typeof BrowserClickBody>): Promise<PageInfo & { selector: string }> {
  return onPage(ep, async (page) => {
    await page.click(args.selector, { timeout: args.timeout_ms }).catch(selectorError(args.selector, 'visible', args.timeout_ms));
    return { ...(await infoOf(page)), selector: args.selector };
  });
}

/** Fills a field (input, textarea, contenteditable) with text, replacing its value; submit presses Enter in it. */
export async function type(ep: CdpEndpoint, args: Body<typeof BrowserTypeBody>): Promise<PageInfo & { selector: string }> {
  return onPage(ep, async (page) => {
    await page.fill(args.selector, args.text, { timeout: args.timeout_ms }).catch(selectorError(args.selector, 'visible', args.timeout_ms));
    if (args.submit) await page.press(args.selector, 'Enter', { timeout: args.timeout_ms }).catch(selectorError(args.selector, 'visible', args.timeout_ms));
    return { ...(await infoOf(page)), selector: args.selector };
  });
}

/**
 * Runs a JavaScript expression in the page and answers its value as JSON (cut at BROWSER_TEXT_MAX_CHARS).
 * At timeout_ms a page stuck in a loop that never yields is closed, so it does not hold the browser for
 * the calls after it.
 */
export async function evaluate(ep: CdpEndpoint, args: Body<typeof BrowserEvaluateBody>): Promise<PageInfo & { result: unknown; truncated: boolean }> {
  return onPage(ep, async (page) => {
    let closed = false;
    const value = await withTimeout(page.evaluate(args.expression), args.timeout_ms, async () => {
      // A promise still pending leaves the page as it is; a page that no longer answers at all (a loop that
      // never yields) is closed, so the calls after this one get a fresh page instead of a stuck one.
      if (await withTimeout(page.evaluate('1'), 1_000).then(() => true, () => false)) return;
      closed = true;
      await page.close({ runBeforeUnload: false });
    }).catch((e: unknown) => { throw scriptError(e, args.timeout_ms, closed); });
    const json = JSON.stringify(value ?? null, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
    const truncated = json.length > BROWSER_TEXT_MAX_CHARS;
    return { ...(await infoOf(page)), result: truncated ? json.slice(0, BROWSER_TEXT_MAX_CHARS) : JSON.parse(json), truncated };
  });
}

/** The outerHTML of the first element the selector matches (once attached), or of the whole document. */
export async function html(ep: CdpEndpoint, args: Body<typeof BrowserHtmlBody>): Promise<PageInfo & { html: string; chars: number; truncated: boolean }> {
  return onPage(ep, async (page) => {
    const whole = args.selector !== undefined
      ? await page.locator(args.selector).first().evaluate((el) => el.outerHTML, undefined, { timeout: args.timeout_ms }).catch(selectorError(args.selector, 'attached', args.timeout_ms))
      : await withTimeout(page.content(), args.timeout_ms).catch(timeoutAs('html', args.timeout_ms));
    const truncated = whole.length > BROWSER_TEXT_MAX_CHARS;
    return { ...(await infoOf(page)), html: truncated ? whole.slice(0, BROWSER_TEXT_MAX_CHARS) : whole, chars: whole.length, truncated };
  });
}

/** Waits until the selector's element is visible, attached or hidden; one that never gets there is selector_timeout. */
export async function waitFor(ep: CdpEndpoint, args: Body<typeof BrowserWaitBody>): Promise<PageInfo & { selector: string; state: typeof args.state }> {
  return onPage(ep, async (page) => {
    await page.waitForSelector(args.selector, { state: args.state, timeout: args.timeout_ms }).catch(selectorError(args.selector, args.state, args.timeout_ms));
    return { ...(await infoOf(page)), selector: args.selector, state: args.state };
  });
}

/** The page printed to PDF (Letter, backgrounds printed). */
export async function pdf(ep: CdpEndpoint, args: Body<typeof BrowserPdfBody>): Promise<Capture> {
  return onPage(ep, async (page) => {
    const bytes = await withTimeout(page.pdf({ printBackground: true }), args.timeout_ms).catch(timeoutAs('pdf', args.timeout_ms));
    return capped({ ...(await infoOf(page)), bytes, mime: 'application/pdf' }, 'PDF', 'print a shorter page');
  });
}

/** The page's URL and title. */
export async function info(ep: CdpEndpoint): Promise<PageInfo> {
  return onPage(ep, infoOf);
}

// ---- the connection ------------------------------------------------------------------------------

/**
 * Connects, hands the browser's first page to `act` (a new one in the default context when it has none)
 * and disconnects, whatever happened. Failures of playwright that no step explained become DuraboxErrors.
 */
async function onPage<T>(ep: CdpEndpoint, act: (page: Page) => Promise<T>): Promise<T> {
  let browser: Browser;
  try {
    browser = await chromium.connectOverCDP(ep.wsUrl, { headers: ep.headers, timeout: CONNECT_TIMEOUT_MS });
  } catch (e) {
    throw connectError(e);
  }
  try {
    // The default context is the browser's own (its pages outlive this connection); never a new one.
    const context = browser.contexts()[0];
    if (!context) throw new DuraboxError('browser_unavailable', 'the session\'s browser has no default context');
    const page = context.pages()[0] ?? (await context.newPage());
    return await act(page);
  } catch (e) {
    throw asDuraboxError(e);
  } finally {
    await browser.close().catch(() => undefined);
  }
}

async function infoOf(page: Page): Promise<PageInfo> {
  // A page busy in a script answers no title; its URL is still known.
  const title = await withTimeout(page.title(), 5_000).catch(() => '');
  return { url: page.url(), title };
}

function capped(c: Capture, what: string, hint: string): Capture {
  if (c.bytes.length > BROWSER_CAPTURE_MAX_BYTES) {
    throw new DuraboxError('capture_too_large', `the ${what} is ${c.bytes.length} bytes, more than ${BROWSER_CAPTURE_MAX_BYTES}: ${hint}`);
  }
  return c;
}

/** `work`, or a TimeoutError after `ms` (then `onTimeout` runs, e.g. to stop the page's script). */
async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout?: () => Promise<void>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new Error(`Timeout ${ms}ms exceeded.`);
      e.name = 'TimeoutError';
      // The clean-up finishes before the caller disconnects (a disconnect would cut it short), within bounds.
      const cleanUp = onTimeout ? withTimeout(onTimeout(), 5_000).catch(() => undefined) : Promise.resolve();
      void cleanUp.then(() => reject(e));
    }, ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- errors --------------------------------------------------------------------------------------

const isTimeout = (e: unknown): boolean => e instanceof Error && e.name === 'TimeoutError';
const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/^\w+\.\w+: /, '');
/** playwright's words for a selector it cannot parse. */
const BAD_SELECTOR = /while parsing (?:css )?selector|Unknown engine|is not a valid selector|Unexpected token|Unexpected end of|Malformed selector|Invalid selector/i;
const CLOSED = /Target (?:page, context or browser )?(?:has been )?closed|Browser has been closed|Target crashed|WebSocket (?:error|closed)/i;

/**
 * A refused CDP connection. The platform's endpoint refuses the WebSocket upgrade with the status of its
 * code (api/streams.ts): 404 is a session the account does not have, 503 a host that does not answer;
 * anything else means the session's browser cannot be reached.
 */
function connectError(e: unknown): DuraboxError {
  const line = firstLine(e);
  const status = /\b(\d{3}) [A-Za-z ]+$/.exec(line)?.[1];
  if (status === '404') return new DuraboxError('session_not_found', 'no session with this id');
  if (status === '503') return new DuraboxError('host_unreachable', `the host holding the session cannot be reached (${line})`);
  return new DuraboxError('browser_unavailable', `the session's browser did not answer over CDP: ${line}`);
}

function asDuraboxError(e: unknown): DuraboxError {
  if (e instanceof DuraboxError) return e;
  if (CLOSED.test(String((e as Error)?.message))) return new DuraboxError('browser_unavailable', `the session's browser went away during the call: ${firstLine(e)}`);
  return new DuraboxError('execution_failed', `browser: ${firstLine(e)}`);
}

/** A selector step's failure: bad syntax names the field; never reaching `state` is selector_timeout. */
function selectorError(selector: string, state: string, timeoutMs: number): (e: unknown) => never {
  return (e) => {
    const message = String((e as Error)?.message);
    if (BAD_SELECTOR.test(message) && !isTimeout(e)) throw new DuraboxError('invalid_input', `selector: ${JSON.stringify(selector)} is not a valid selector: ${firstLine(e)}`);
    if (isTimeout(e)) {
      throw new DuraboxError('selector_timeout', `selector: no element matching ${JSON.stringify(selector)} was ${state} within ${timeoutMs} ms`, { selector, state });
    }
    if (/not an <input>|not an <input>, <textarea>|Element is not/i.test(message)) {
      throw new DuraboxError('invalid_input', `selector: ${JSON.stringify(selector)} matched an element that cannot take this action: ${firstLine(e)}`);
    }
    throw asDuraboxError(e);
  };
}

function navigationError(e: unknown, url: string, timeoutMs: number): DuraboxError {
  if (isTimeout(e)) return new DuraboxError('navigation_failed', `url: ${url} did not load within ${timeoutMs} ms`, { url });
  const net = /net::ERR_[A-Z_]+/.exec(String((e as Error)?.message));
  if (net) return new DuraboxError('navigation_failed', `url: ${url} could not be loaded: ${net[0]}`, { url, reason: net[0] });
  if (CLOSED.test(String((e as Error)?.message))) return asDuraboxError(e);
  return new DuraboxError('navigation_failed', `url: ${url}: ${firstLine(e)}`, { url });
}

function scriptError(e: unknown, timeoutMs: number, pageClosed: boolean): DuraboxError {
  if (isTimeout(e)) {
    return new DuraboxError('script_error', `expression: did not settle within ${timeoutMs} ms${pageClosed ? '; the page no longer answered and was closed (the next call starts on about:blank)' : ''}`);
  }
  if (e instanceof DuraboxError || CLOSED.test(String((e as Error)?.message))) return asDuraboxError(e);
  return new DuraboxError('script_error', `expression: ${firstLine(e)}`);
}

function timeoutAs(what: string, timeoutMs: number): (e: unknown) => never {
  return (e) => {
    if (isTimeout(e)) throw new DuraboxError('timeout', `${what}: the page did not answer within ${timeoutMs} ms`);
    throw asDuraboxError(e);
  };
}
