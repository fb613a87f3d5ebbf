// Clean stops on Ctrl+C / SIGTERM: every part gets to remove its containers and close its connections.
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    console.log(`${signal}: shutting down`);
    stop().then(
      () => process.exit(0),
      (e) => {
        console.error('shutdown failed:', e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
