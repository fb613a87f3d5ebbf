// A workflow for the tracing test (not a durabox workflow): an update with a validator, then an activity
// whose id is the workflow's next uuid4(), so a replay that draws other random numbers than the original
// run did schedules another activity id, which Temporal refuses as non-determinism.
import { condition, defineUpdate, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';

export const poke = defineUpdate<void>('poke');

export async function randomProbe(): Promise<string> {
  let poked = false;
  setHandler(poke, () => { poked = true; }, { validator: () => undefined });
  await condition(() => poked);
  const activityId = uuid4();
  const { probe } = proxyActivities<{ probe(): Promise<void> }>({ startToCloseTimeout: '10s', activityId });
  await probe();
  return activityId;
}
