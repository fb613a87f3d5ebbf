// A session's interactive terminal: xterm.js over the session's PTY WebSocket (GET /sessions/:id/pty).
// The protocol: binary messages are terminal bytes both ways; text messages are JSON: the page sends
// {"type":"resize",cols,rows} whenever the terminal is fitted to its box, the server sends {"type":"exit"}
// when the shell ends or {"type":"error"} before it closes. The login cookie authenticates the upgrade:
// the browser sends it, with the dashboard's own Origin.
// xterm.js is loaded with the page that shows it, a chunk of its own: the other pages do not carry it.
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'preact/hooks';

type State = 'connecting' | 'open' | 'exited' | 'closed' | 'error';

export interface TerminalStatus { state: State; text: string }

const encoder = new TextEncoder();

export function ptyUrl(sessionId: string, cols: number, rows: number): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/pty?cols=${cols}&rows=${rows}`;
}

export function SessionTerminal({ sessionId }: { sessionId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<TerminalStatus>({ state: 'connecting', text: 'connecting…' });
  // Bumped by the reconnect button: a new socket to the same terminal (its scrollback comes first).
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let stop: (() => void) | undefined;
    let gone = false;
    setStatus({ state: 'connecting', text: 'connecting…' });
    Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]).then(([{ Terminal }, { FitAddon }]) => {
      if (!gone) stop = connect(box.current!, sessionId, setStatus, Terminal, FitAddon);
    }, (e: unknown) => setStatus({ state: 'error', text: `could not load the terminal: ${String(e)}` }));
    return () => {
      gone = true;
      stop?.();
    };
  }, [sessionId, attempt]);

  return (
    <div class="terminal-panel">
      <div class="row">
        <span class={`term-status term-${status.state}`} data-testid="terminal-status" data-state={status.state}>{status.text}</span>
        <button type="button" class="secondary small" onClick={() => setAttempt((n) => n + 1)}>reconnect</button>
      </div>
      <div class="terminal" ref={box} data-testid="terminal" />
    </div>
  );
}

type Xterm = typeof import('@xterm/xterm');
type Fit = typeof import('@xterm/addon-fit');

/** Opens the terminal in `el` and its socket; answers how to close both. */
function connect(el: HTMLElement, sessionId: string, setStatus: (f: TerminalStatus | ((s: TerminalStatus) => TerminalStatus)) => void, XTerm: Xterm['Terminal'], FitAddon: Fit['FitAddon']): () => void {
  const term = new XTerm({ convertEol: false, cursorBlink: true, fontSize: 13, scrollback: 5000, fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  const ws = new WebSocket(ptyUrl(sessionId, term.cols, term.rows));
  ws.binaryType = 'arraybuffer';
  const send = (data: string | Uint8Array<ArrayBuffer>) => { if (ws.readyState === WebSocket.OPEN) ws.send(data); };
  // The size the PTY is told, also on the element (what a viewer and a test can read).
  const sendResize = () => {
    el.dataset.cols = String(term.cols);
    el.dataset.rows = String(term.rows);
    send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
  };

  ws.onopen = () => {
    setStatus({ state: 'open', text: 'connected' });
    sendResize();
    term.focus();
  };
  ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
    if (typeof ev.data !== 'string') {
      term.write(new Uint8Array(ev.data));
      return;
    }
    const msg = parse(ev.data);
    if (msg?.type === 'exit') setStatus({ state: 'exited', text: `the shell ended (exit code ${String(msg.code ?? '?')})` });
    else if (msg?.type === 'error') setStatus({ state: 'error', text: `${String(msg.error ?? 'error')}: ${String(msg.message ?? '')}` });
  };
  ws.onclose = (ev) => setStatus((s) => (s.state === 'exited' || s.state === 'error' ? s : { state: 'closed', text: `disconnected (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})` }));
  ws.onerror = () => setStatus((s) => (s.state === 'open' || s.state === 'connecting' ? { state: 'closed', text: 'could not connect' } : s));

  // Keystrokes go as bytes; a resize of the terminal (its box changed) is told to the PTY.
  const input = term.onData((d) => send(encoder.encode(d)));
  const binary = term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
  const resized = term.onResize(() => sendResize());
  const observer = new ResizeObserver(() => { try { fit.fit(); } catch { /* not laid out */ } });
  observer.observe(el);

  return () => {
    observer.disconnect();
    input.dispose();
    binary.dispose();
    resized.dispose();
    ws.onclose = null;
    ws.close(1000);
    term.dispose();
  };
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
