import { useState } from 'preact/hooks';
import { api, type Session } from '../api.js';
import { ErrorLine, messageOf } from '../ui.js';

export function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <form
        class="panel"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            onLogin(await api.login({ body: { username, password } }));
          } catch (err) {
            setError(messageOf(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1><span class="logo">▣</span> durabox</h1>
        <p class="hint">Durable code-execution sandboxes. Sign in to manage tokens, workers and tasks.</p>
        <label>Username<input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required /></label>
        <label>Password<input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required /></label>
        <ErrorLine error={error} />
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
