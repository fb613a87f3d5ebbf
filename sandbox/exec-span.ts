// The last link of a trace: a span around one piece of work inside a container (a program, a command, a
// cell, a file's docker exec), a child of the activity's span. Without tracing installed these are the
// OTel API's no-op spans: nothing is recorded or sent.
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { ATTR_CONTAINER_ID } from '@opentelemetry/semantic-conventions';

const tracer = trace.getTracer('durabox.sandbox');

export interface ExecSpanAttributes {
  runtime: 'python' | 'terminal';
  /** What was asked of the container: `code`, `cell`, `command`, `drop_context`, `docker_exec`. */
  request: string;
}

/** What the work learns as it goes: its container, once chosen, and the exit code of what ran. */
export interface ExecSpan {
  container(id: string, detail?: Record<string, string | number | boolean>): void;
  exitCode(code: unknown): void;
}

export function inExecSpan<T>(attrs: ExecSpanAttributes, work: (span: ExecSpan) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan('sandbox.exec', { attributes: { 'durabox.runtime': attrs.runtime, 'durabox.sandbox.request': attrs.request } }, async (span: Span) => {
    try {
      return await work({
        // Docker's short form, as `docker ps` shows it.
        container: (id, detail = {}) => span.setAttributes({ [ATTR_CONTAINER_ID]: id.slice(0, 12), ...detail }),
        exitCode: (code) => { if (typeof code === 'number') span.setAttribute('process.exit.code', code); },
      });
    } catch (e) {
      // The failure's kind only (SandboxTimeout, SessionGone, …): its message may quote the user's program.
      const kind = (e as Error)?.constructor?.name ?? 'Error';
      span.setStatus({ code: SpanStatusCode.ERROR, message: kind });
      span.setAttribute('error.type', kind);
      throw e;
    } finally {
      span.end();
    }
  });
}
