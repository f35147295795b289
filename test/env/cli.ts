// `npm run env`: starts the local environment, prints one line of JSON that says how to reach it, and runs until
// it is stopped (Ctrl+C or SIGTERM).
import { startEnvironment } from './index';

async function main(): Promise<void> {
  const env = await startEnvironment();
  process.stdout.write(`${JSON.stringify(env.info)}\n`);
  const stop = () => {
    void env.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
