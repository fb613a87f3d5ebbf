// A figure is one measured number, judged against its target (spec §10), usually a multiple of a
// baseline measured in the same run. A figure that could not be measured carries its error instead.

export type Target =
  | { kind: 'relative'; op: '<=' | '>='; factor: number; baseline: string }
  | { kind: 'absolute'; op: '>=' | '<='; threshold: number }
  /** At most (or at least) a baseline plus a fixed amount in the figure's unit: a cost that adds, not multiplies. */
  | { kind: 'offset'; op: '<=' | '>='; offset: number; baseline: string }
  | { kind: 'none' };

export interface FigureSpec {
  id: string;
  title: string;
  unit: string;
  target: Target;
  /** Whether a single failed operation fails the figure (spec: "zero errors"). */
  zeroErrors: boolean;
  /**
   * A baseline a figure without a relative target is read against: the table shows it and the ratio, no
   * verdict comes of it. So a reported figure still reads relative to the same operation another way.
   */
  versus?: string;
}

/** What a measurement produced: its value and everything worth keeping about how it was obtained. */
export interface Measurement {
  value: number;
  errors: number;
  details: Record<string, unknown>;
}

export interface Figure {
  id: string;
  title: string;
  unit: string;
  value?: number;
  /** The baseline, and the multiple of it (or the amount over it) the target allows or requires; neither for a `versus` one. */
  baseline?: { id: string; value?: number; factor?: number; offset?: number };
  ratio?: number;
  /** value minus the baseline's, for an offset target. */
  difference?: number;
  target: string;
  /** true/false when judged; null when there is nothing to judge (a baseline, a reported-only value). */
  pass: boolean | null;
  error?: string;
  errors?: number;
  details: Record<string, unknown>;
}

/** A measurement's result, or why there is none. */
export type Outcome<T> = T | { error: string };

export function failed<T>(o: Outcome<T>): o is { error: string } {
  return typeof o === 'object' && o !== null && 'error' in o && typeof (o as { error: unknown }).error === 'string';
}

export function describeTarget(t: Target): string {
  if (t.kind === 'relative') return `${t.op} ${t.factor} × ${t.baseline}`;
  if (t.kind === 'absolute') return `${t.op} ${t.threshold}`;
  if (t.kind === 'offset') return `${t.op} ${t.baseline} + ${t.offset}`;
  return 'reported';
}

/** The figures a spec needs measured in the same run: its target's baseline, and the one it is read against. */
export function baselinesOf(spec: FigureSpec): string[] {
  const t = spec.target;
  const ids = t.kind === 'relative' || t.kind === 'offset' ? [t.baseline] : [];
  if (spec.versus !== undefined && !ids.includes(spec.versus)) ids.push(spec.versus);
  return ids;
}

/** Judges one outcome; `baselines` are the figures measured so far, by id. */
export function judge(spec: FigureSpec, outcome: Outcome<Measurement>, baselines: Map<string, Figure>): Figure {
  const figure: Figure = { id: spec.id, title: spec.title, unit: spec.unit, target: describeTarget(spec.target), pass: null, details: {} };
  if (failed(outcome)) return { ...figure, pass: spec.target.kind === 'none' ? null : false, error: outcome.error };
  figure.value = outcome.value;
  figure.errors = outcome.errors;
  figure.details = outcome.details;
  const errorsOk = !spec.zeroErrors || outcome.errors === 0;
  const t = spec.target;
  if (t.kind === 'none') return readVersus(spec, figure, baselines);
  if (t.kind === 'absolute') return { ...figure, pass: errorsOk && (t.op === '>=' ? outcome.value >= t.threshold : outcome.value <= t.threshold) };
  const base = baselines.get(t.baseline);
  figure.baseline = t.kind === 'relative' ? { id: t.baseline, value: base?.value, factor: t.factor } : { id: t.baseline, value: base?.value, offset: t.offset };
  if (base?.value === undefined || (t.kind === 'relative' && base.value <= 0)) {
    return { ...figure, pass: false, error: `baseline ${t.baseline} unavailable${base?.error ? `: ${base.error}` : ''}` };
  }
  if (t.kind === 'offset') {
    const limit = base.value + t.offset;
    return { ...figure, difference: outcome.value - base.value, pass: errorsOk && (t.op === '<=' ? outcome.value <= limit : outcome.value >= limit) };
  }
  const ratio = outcome.value / base.value;
  const within = t.op === '<=' ? ratio <= t.factor : ratio >= t.factor;
  return { ...figure, ratio, pass: errorsOk && within };
}

/** A reported figure with a `versus` baseline: the baseline and the ratio, when the baseline was measured; never a verdict. */
function readVersus(spec: FigureSpec, figure: Figure, baselines: Map<string, Figure>): Figure {
  if (spec.versus === undefined) return figure;
  const base = baselines.get(spec.versus);
  figure.baseline = { id: spec.versus, value: base?.value };
  if (base?.value === undefined || base.value <= 0 || figure.value === undefined) return figure;
  return { ...figure, ratio: figure.value / base.value };
}

/** The ratio column: the ratio to the baseline, or the amount over it for an offset target. */
export function comparisonText(f: Figure): string {
  if (f.ratio !== undefined) return formatRatio(f.ratio, f.baseline?.factor);
  if (f.difference !== undefined) return `${f.difference >= 0 ? '+' : '−'}${formatNumber(Math.abs(f.difference))} ${f.unit}`;
  return '';
}

/** Runs a measurement; a thrown error becomes its outcome, never a number. */
export async function attempt<T>(measure: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return await measure();
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Judges an outcome and prints a progress line, so a long run shows where it is. */
export function record(spec: FigureSpec, outcome: Outcome<Measurement>, baselines: Map<string, Figure>): Figure {
  const figure = judge(spec, outcome, baselines);
  console.error(`bench: ${progressLine(figure)}`);
  return figure;
}

function progressLine(f: Figure): string {
  if (f.value === undefined) return `${f.title}: ERROR ${f.error}`;
  const verdict = f.pass === null ? '' : f.pass ? ' PASS' : ' FAIL';
  const versus = f.ratio !== undefined ? 'ratio' : 'over baseline';
  const ratio = comparisonText(f) === '' ? '' : ` (${versus} ${comparisonText(f)}, target ${f.target})`;
  return `${f.title}: ${formatNumber(f.value)} ${f.unit}${ratio}${verdict}${f.errors ? ` errors=${f.errors}` : ''}${f.error ? ` ${f.error}` : ''}`;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n) || Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Three decimals, more when three would round onto the target factor and hide which side it is on. */
export function formatRatio(ratio: number, factor?: number): string {
  let digits = 3;
  while (digits < 8 && factor !== undefined && ratio !== factor && Number(ratio.toFixed(digits)) === factor) digits++;
  return ratio.toFixed(digits);
}
