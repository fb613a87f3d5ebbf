// The dashboard: a login form, then one page per resource. Pages are real paths (/tokens, /workers, …):
// the API answers index.html for them, so a reload stays on the page.
import { render, type JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setOnUnauthorized, type Session } from './api.js';
import { Login } from './pages/Login.js';
import { Overview } from './pages/Overview.js';
import { Tasks } from './pages/Tasks.js';
import { Templates } from './pages/Templates.js';
import { Tokens } from './pages/Tokens.js';
import { Workers } from './pages/Workers.js';
import { Accounts } from './pages/Accounts.js';
import { SessionPage } from './pages/SessionPage.js';
import './style.css';

interface PageDef { path: string; title: string; admin?: boolean; view: (s: Session) => JSX.Element }

const PAGES: PageDef[] = [
  { path: '/', title: 'Overview', view: (s) => <Overview session={s} /> },
  { path: '/tasks', title: 'Tasks', view: (s) => <Tasks session={s} /> },
  { path: '/templates', title: 'Templates', view: () => <Templates /> },
  { path: '/tokens', title: 'Tokens', view: () => <Tokens /> },
  { path: '/workers', title: 'Workers', admin: true, view: () => <Workers /> },
  { path: '/accounts', title: 'Accounts', admin: true, view: (s) => <Accounts session={s} /> },
];

function usePath(): [string, (p: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  return [path, (p) => { history.pushState(null, '', p); setPath(p); }];
}

/** A page reached from another (a session's, from the sessions list): its view, and the nav entry it belongs to. */
function subPage(path: string, pages: PageDef[]): { title: string; parent: PageDef | undefined; view: (s: Session) => JSX.Element } | undefined {
  const m = /^\/sessions\/([^/]+)\/?$/.exec(path);
  if (!m) return undefined;
  const id = decodeURIComponent(m[1]);
  return { title: `Session ${id}`, parent: pages.find((p) => p.path === '/tasks'), view: (s) => <SessionPage key={id} session={s} id={id} /> };
}

function App() {
  const [session, setSession] = useState<Session | null>();
  const [path, go] = usePath();
  useEffect(() => {
    setOnUnauthorized(() => setSession(null));
    api.consoleSession().then(setSession, () => setSession(null));
  }, []);
  if (session === undefined) return <p class="muted center">loading…</p>;
  if (session === null) return <Login onLogin={setSession} />;
  const pages = PAGES.filter((p) => !p.admin || session.account.is_admin);
  const sub = subPage(path, pages);
  const page = sub?.parent ?? pages.find((p) => p.path === path) ?? pages[0];
  document.title = `${sub?.title ?? page.title} · durabox`;
  return (
    <>
      <header>
        <a class="brand" href="/" onClick={(e) => { e.preventDefault(); go('/'); }}><span class="logo">▣</span> durabox</a>
        <nav>
          {pages.map((p) => (
            <a href={p.path} class={p === page ? 'active' : ''} onClick={(e) => { e.preventDefault(); go(p.path); }}>{p.title}</a>
          ))}
          <a href={session.temporal_ui_url} target="_blank" rel="noopener noreferrer">Temporal UI ↗</a>
        </nav>
        <div class="who">
          <span>{session.account.username}{session.account.is_admin ? ' (admin)' : ''}</span>
          <button type="button" class="secondary small" onClick={async () => {
            await api.logout().catch(() => undefined);
            setSession(null);
            go('/');
          }}>Sign out</button>
        </div>
      </header>
      <main>{(sub ?? page).view(session)}</main>
      <footer class="muted">durabox {session.console_version}</footer>
    </>
  );
}

render(<App />, document.getElementById('app')!);
