// `vipgate check-config FILE`: in a module of its own, so the command loads the config reader
// and nothing of the agent (the logger, the Kubernetes model): module loading is part of its time.
import { ConfigError, loadConfigFile } from '../config/index.ts';

/** Exit statuses: 0 when valid, 2 with every problem printed otherwise. */
const EXIT_OK = 0;
const EXIT_BAD_CONFIG = 2;

export async function checkConfigFile(file: string): Promise<number> {
  try {
    const config = await loadConfigFile(file);
    process.stdout.write(`${file}: valid (${config.pools.length} pools, ${config.services.length} services)\n`);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT_BAD_CONFIG;
    }
    throw error;
  }
}
