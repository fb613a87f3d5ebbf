// Accounts (admin): register non-admin accounts when registration is enabled, list, delete.
import { useState } from 'preact/hooks';
import { api, type Session } from '../api.js';
import { ErrorLine, Time, messageOf, usePoll } from '../ui.js';

export function Accounts({ session }: { session: Session }) {
  const accounts = usePoll(() => api.listAccounts({ query: { page_size: 100 } }), 0);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  return (
    <section>
      <h2>Accounts</h2>
      <p class="hint">Each account has its own tokens, tasks and sessions and sees no one else's.</p>
      {session.registration_enabled ? (
        <form
          class="row"
          onSubmit={async (e) => {
            e.preventDefault();
            try {
              const r = await api.register({ body: { username, password } });
              setNotice(`Account ${r.account.username} created.`);
              setUsername('');
              setPassword('');
              setError(undefined);
              await accounts.reload();
            } catch (err) {
              setError(messageOf(err));
            }
          }}
        >
          <input name="new-username" placeholder="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} maxLength={64} required />
          <input name="new-password" type="password" autocomplete="new-password" placeholder="password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
          <button type="submit">Create account</button>
        </form>
      ) : (
        <p class="muted">Registration is off: start the API with <code>DURABOX_ENABLE_REGISTRATION=true</code> to create accounts.</p>
      )}
      {notice && <p class="notice">{notice}</p>}
      <ErrorLine error={error ?? accounts.error} />
      <table data-testid="accounts-table">
        <thead><tr><th>username</th><th>role</th><th>id</th><th>created</th><th></th></tr></thead>
        <tbody>
          {accounts.data?.items.map((a) => (
            <tr key={a.account_id}>
              <td>{a.username}</td>
              <td>{a.is_admin ? 'admin' : 'user'}</td>
              <td class="mono muted">{a.account_id}</td>
              <td><Time iso={a.created_at} /></td>
              <td class="actions">
                {!a.is_admin && a.account_id !== session.account.account_id && (
                  <button type="button" class="danger small" onClick={async () => {
                    if (!confirm(`Delete account ${a.username} with its tokens?`)) return;
                    try { await api.deleteAccount({ id: a.account_id }); } catch (err) { setError(messageOf(err)); }
                    await accounts.reload();
                  }}>delete</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
