// How a failure leaves an activity: a DuraboxError becomes an ApplicationFailure whose type is its code
// and whose retryability is the error table's; anything else (a Docker error) stays retryable.
import { ApplicationFailure } from '@temporalio/activity';
import { DuraboxError, ERROR_TABLE } from '../contract/errors.js';

export function asActivityFailure(e: unknown): unknown {
  if (!(e instanceof DuraboxError)) return e;
  return ApplicationFailure.create({
    type: e.code,
    message: e.message,
    nonRetryable: !ERROR_TABLE[e.code].retryable,
    details: e.details ? [e.details] : [],
  });
}

/** Runs the activity's work and turns its DuraboxErrors into Temporal failures. */
export async function reportingFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw asActivityFailure(e);
  }
}
