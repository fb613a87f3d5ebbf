// Templates: the built-in ones and the account's own, each one's build per host with the end of its log
// (polled while it builds), a form to create one and, for the account's own, delete.
import type { JSX, TargetedEvent } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, fieldProblems, type TemplateCreate, type TemplateItem, type TemplateOffer } from '../api.js';
import { Badge, ErrorLine, Time, messageOf, usePoll } from '../ui.js';

const BUILDING_POLL_MS = 2000;

/**
 * What the form offers comes from the contract itself (bases, network policies), imported when the form
 * opens: the module brings its validators (zod) along, so it is a chunk of its own, not in every page's
 * load. Of the contract's policies, only those this platform offers (the list's `offered`) are shown.
 */
interface Choices { bases: readonly string[]; policies: readonly string[] }
const loadChoices = (offered: TemplateOffer): Promise<Choices> =>
  import('../../../../contract/templates.js').then((c) => ({ bases: c.TEMPLATE_BASES, policies: c.NETWORK_POLICIES.filter((p) => offered.networks.includes(p)) }));

/** A list as typed: separated by spaces or commas (a comma inside extras, `pkg[a,b]`, stays). */
function splitList(text: string): string[] {
  return text.match(/(?:[^\s,[]+|\[[^\]]*\]?)+/g) ?? [];
}

export function Templates() {
  const [selected, setSelected] = useState<string>();
  const [anyBuilding, setAnyBuilding] = useState(false);
  const list = usePoll(() => api.consoleTemplates(), anyBuilding ? BUILDING_POLL_MS : 0, [anyBuilding]);
  const [error, setError] = useState<string>();
  useEffect(() => setAnyBuilding(!!list.data?.items.some((t) => t.status === 'building')), [list.data]);

  const remove = async (t: TemplateItem) => {
    if (!confirm(`Delete template “${t.name}”? New calls naming it are refused; work already running on it finishes.`)) return;
    try {
      await api.consoleDeleteTemplate({ name: t.name });
      setError(undefined);
      if (selected === t.name) setSelected(undefined);
    } catch (err) {
      setError(messageOf(err));
    }
    await list.reload();
  };

  return (
    <section>
      <h2>Templates</h2>
      <p class="hint">
        A template is a sandbox image with its limits and network policy: name it as <code>template</code> in pythonExec,
        runCode or a terminalExec that creates a session. <code>python</code> and <code>terminal</code> are built in; the account's own are built on every host serving their base.
      </p>
      <ErrorLine error={error ?? list.error} />
      <table data-testid="templates-table">
        <thead><tr><th>name</th><th>base</th><th>status</th><th>packages</th><th>network</th><th>memory_mb</th><th>cpus</th><th></th></tr></thead>
        <tbody>
          {list.data?.items.map((t) => (
            <tr key={t.name} data-template-name={t.name} class={t.name === selected ? 'selected' : ''}>
              <td>
                <button type="button" class="link" aria-pressed={t.name === selected} onClick={() => setSelected(t.name === selected ? undefined : t.name)}>{t.name}</button>
                {t.builtin && <span class="chip">built-in</span>}
              </td>
              <td>{t.base}</td>
              <td><Badge value={t.status} /></td>
              <td><Packages t={t} /></td>
              <td>{t.network}{t.allow.length > 0 && <span class="muted"> {t.allow.join(', ')}</span>}</td>
              <td>{t.memory_mb ?? <span class="muted">default</span>}</td>
              <td>{t.cpus ?? <span class="muted">default</span>}</td>
              <td class="actions">
                {!t.builtin && <button type="button" class="danger small" onClick={() => void remove(t)}>delete</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {selected && <Detail name={selected} onChange={() => void list.reload()} onClose={() => setSelected(undefined)} />}
      {list.data && <CreateForm offered={list.data.offered} onCreated={async (t) => { setSelected(t.name); await list.reload(); }} />}
    </section>
  );
}

function Packages({ t }: { t: TemplateItem }) {
  if (t.builtin) return <span class="muted">the runtime's own image</span>;
  if (t.dockerfile) return <span class="muted">from a Dockerfile</span>;
  const lists = (['pip', 'npm', 'apt'] as const).filter((k) => t.packages[k].length > 0);
  if (!lists.length) return <span class="muted">none</span>;
  return <>{lists.map((k) => <span class="chip">{k}: {t.packages[k].join(' ')}</span>)}</>;
}

/** One template with each host's build: polled every 2 s while it builds. */
function Detail({ name, onChange, onClose }: { name: string; onChange: () => void; onClose: () => void }) {
  const [building, setBuilding] = useState(true);
  const detail = usePoll(() => api.consoleGetTemplate({ name }), building ? BUILDING_POLL_MS : 0, [name, building]);
  const t = detail.data?.name === name ? detail.data : undefined;
  const status = t?.status;
  useEffect(() => {
    if (!status) return;
    setBuilding(status === 'building');
    onChange();
  }, [status]);
  return (
    <section class="detail" data-testid="template-detail" data-status={status} aria-label={`Template ${name}`}>
      <div class="head">
        <h3>Template {name}</h3>
        {t && <Badge value={t.status} />}
        {t?.status === 'building' && <span class="muted">refreshing every {BUILDING_POLL_MS / 1000} s</span>}
        <button type="button" class="secondary small" onClick={onClose}>close</button>
      </div>
      <ErrorLine error={detail.error} />
      {t?.error && <p class="error">{t.error}</p>}
      {t?.builtin && <p class="hint">Built in: the {t.base} runtime's own image, on every host serving {t.base}.</p>}
      {t && !t.builtin && (
        <table data-testid="template-hosts">
          <thead><tr><th>host</th><th>status</th><th>seconds</th><th>updated</th></tr></thead>
          <tbody>
            {t.hosts.map((h) => [
              <tr key={h.node_id} data-node-id={h.node_id}>
                <td class="mono">{h.node_id}</td>
                <td><Badge value={h.status} /></td>
                <td>{h.seconds === null ? '—' : h.seconds.toFixed(1)}</td>
                <td><Time iso={h.updated_at} /></td>
              </tr>,
              <tr key={`${h.node_id}-log`} class="log-row">
                <td colSpan={4}><Log text={h.log} node={h.node_id} /></td>
              </tr>,
            ])}
            {t.hosts.length === 0 && <tr><td colSpan={4} class="muted">{t.status === 'building' ? 'No host has reported its build yet.' : 'No host built it.'}</td></tr>}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A host's build log, kept scrolled to its end as it grows. */
function Log({ text, node }: { text: string; node: string }) {
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.scrollTop = ref.current.scrollHeight;
  }, [text]);
  return <pre ref={ref} class="log" data-testid="build-log" data-node-id={node} tabIndex={0}>{text || '(no output yet)'}</pre>;
}

interface FieldAttrs { id: string; 'aria-invalid'?: 'true'; 'aria-describedby'?: string }

type FieldKey = 'name' | 'base' | 'packages' | 'packages.pip' | 'packages.npm' | 'packages.apt' | 'network' | 'allow' | 'memory_mb' | 'cpus';
const FIELDS: readonly FieldKey[] = ['name', 'base', 'packages', 'packages.pip', 'packages.npm', 'packages.apt', 'network', 'allow', 'memory_mb', 'cpus'];

/** The form field an API error names (`packages.pip.0` is the pip field), if the form has it. */
function fieldOf(path: string | undefined): FieldKey | undefined {
  for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : undefined) {
    if ((FIELDS as readonly string[]).includes(p)) return p as FieldKey;
  }
  return undefined;
}

const EMPTY = { name: '', base: 'python', pip: '', npm: '', apt: '', network: 'none', allow: '', memory: '', cpus: '' };

function CreateForm({ offered, onCreated }: { offered: TemplateOffer; onCreated: (t: TemplateItem) => Promise<void> }) {
  const [choices, setChoices] = useState<Choices>();
  const [form, setForm] = useState(EMPTY);
  const [problems, setProblems] = useState<Partial<Record<FieldKey, string>>>({});
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => { loadChoices(offered).then(setChoices, (e) => setError(messageOf(e))); }, [offered.networks.join()]);
  const set = (k: keyof typeof EMPTY) => (e: TargetedEvent<HTMLInputElement | HTMLSelectElement>) => setForm({ ...form, [k]: e.currentTarget.value });
  const allowlist = !!choices?.policies.includes('allowlist');

  const submit = async () => {
    const body: Record<string, unknown> = {
      name: form.name.trim(),
      base: form.base,
      packages: { pip: splitList(form.pip), npm: splitList(form.npm), apt: splitList(form.apt) },
      network: form.network,
    };
    if (form.network === 'allowlist') body.allow = splitList(form.allow);
    if (form.memory.trim()) body.memory_mb = Number(form.memory);
    if (form.cpus.trim()) body.cpus = Number(form.cpus);
    setBusy(true);
    try {
      // The form's text goes as typed: the API names each field it refuses (shown beside the field).
      const created = await api.consoleCreateTemplate({ body: body as TemplateCreate });
      setForm(EMPTY);
      setProblems({});
      setError(undefined);
      setNotice(`Template ${created.name} created: building on every host serving ${created.base}.`);
      await onCreated(created);
    } catch (err) {
      setNotice(undefined);
      const named: Partial<Record<FieldKey, string>> = {};
      const rest: string[] = [];
      if (err instanceof ApiError) {
        for (const p of fieldProblems(err.message)) {
          const f = fieldOf(p.field);
          if (f) named[f] = named[f] ? `${named[f]}; ${p.text}` : p.text;
          else rest.push(p.text);
        }
      }
      setProblems(named);
      setError(err instanceof ApiError ? (rest.length ? `${rest.join('; ')} (${err.status})` : undefined) : messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (key: FieldKey, label: string, control: (attrs: FieldAttrs) => JSX.Element, hint?: string) => {
    const id = `tpl-${key.replace('.', '-')}`;
    const problem = problems[key];
    return (
      <div class="field">
        <label for={id}>{label}</label>
        {control({ id, 'aria-invalid': problem ? 'true' : undefined, 'aria-describedby': problem ? `${id}-problem` : hint ? `${id}-hint` : undefined })}
        {problem ? <span class="field-problem" id={`${id}-problem`} role="alert">{problem}</span> : hint && <span class="hint small" id={`${id}-hint`}>{hint}</span>}
      </div>
    );
  };

  return (
    <form
      class="create"
      aria-labelledby="new-template"
      noValidate
      onSubmit={(e) => { e.preventDefault(); void submit(); }}
    >
      <h3 id="new-template">New template</h3>
      <div class="form-grid">
        {field('name', 'Name', (a) => <input {...a} name="template-name" autocomplete="off" placeholder="e.g. tabular" value={form.name} onInput={set('name')} />)}
        {field('base', 'Base', (a) => (
          <select {...a} value={form.base} onChange={set('base')}>
            {(choices?.bases ?? [form.base]).map((b) => <option value={b}>{b}</option>)}
          </select>
        ))}
        {field('network', 'Network', (a) => (
          <select {...a} value={form.network} onChange={set('network')}>
            {(choices?.policies ?? [form.network]).map((p) => <option value={p}>{p}</option>)}
          </select>
        ))}
        {allowlist && form.network === 'allowlist' && field('allow', 'Allow', (a) => (
          <input {...a} name="template-allow" placeholder="pypi.org:443, *.example.com:443" value={form.allow} onInput={set('allow')} />
        ), 'host:port patterns it may reach')}
        {field('memory_mb', 'Memory (MB)', (a) => <input {...a} type="number" inputMode="numeric" min={64} max={offered.max_memory_mb} placeholder="default" value={form.memory} onInput={set('memory')} />)}
        {field('cpus', 'CPUs', (a) => <input {...a} type="number" step="any" inputMode="decimal" max={offered.max_cpus} placeholder="default" value={form.cpus} onInput={set('cpus')} />)}
      </div>
      <fieldset aria-describedby={problems.packages ? 'tpl-packages-problem' : undefined}>
        <legend>Packages <span class="muted">(space or comma separated, each optionally with a version: tabulate==0.9.0)</span></legend>
        <div class="form-grid">
          {field('packages.pip', 'pip packages', (a) => <input {...a} name="template-pip" autocomplete="off" value={form.pip} onInput={set('pip')} />)}
          {field('packages.npm', 'npm packages', (a) => <input {...a} name="template-npm" autocomplete="off" value={form.npm} onInput={set('npm')} />)}
          {field('packages.apt', 'apt packages', (a) => <input {...a} name="template-apt" autocomplete="off" value={form.apt} onInput={set('apt')} />)}
        </div>
        {problems.packages && <span class="field-problem" id="tpl-packages-problem" role="alert">{problems.packages}</span>}
      </fieldset>
      <ErrorLine error={error} />
      {notice && <p class="notice">{notice}</p>}
      <button type="submit" disabled={busy || !choices}>Create template</button>
    </form>
  );
}
