// Access tokens: a new token's value is shown once; the list shows only masked values.
import { useState } from 'preact/hooks';
import { api, type CreatedToken } from '../api.js';
import { ErrorLine, OnceBox, Time, messageOf, usePoll } from '../ui.js';

export function Tokens() {
  const tokens = usePoll(() => api.listTokens(), 0);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedToken>();
  const [error, setError] = useState<string>();
  return (
    <section>
      <h2>Access tokens</h2>
      <p class="hint">Tokens authenticate the REST API and MCP: <code>Authorization: Bearer &lt;token&gt;</code>. Only a hash is stored.</p>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            setCreated(await api.createToken({ body: { name } }));
            setName('');
            setError(undefined);
            await tokens.reload();
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      >
        <input name="token-name" placeholder="token name, e.g. my-agent" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={64} required />
        <button type="submit">Create token</button>
      </form>
      <ErrorLine error={error ?? tokens.error} />
      {created && <OnceBox title={`Token “${created.name}”`} value={created.token} onClose={() => setCreated(undefined)} />}
      <table data-testid="tokens-table">
        <thead><tr><th>name</th><th>token</th><th>created</th><th></th></tr></thead>
        <tbody>
          {tokens.data?.items.map((t) => (
            <tr key={t.id} data-token-name={t.name}>
              <td>{t.name}</td>
              <td class="mono">{t.token_masked}</td>
              <td><Time iso={t.created_at} /></td>
              <td class="actions">
                <button type="button" class="danger small" onClick={async () => {
                  if (!confirm(`Delete token “${t.name}”? Clients using it get 401 from now on.`)) return;
                  try { await api.deleteToken({ id: t.id }); } catch (err) { setError(messageOf(err)); }
                  await tokens.reload();
                }}>delete</button>
              </td>
            </tr>
          ))}
          {tokens.data && tokens.data.items.length === 0 && <tr><td colSpan={4} class="muted">No tokens yet.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
