import { ConfigError } from './config.js';
import { HELP, GROUPS } from './cli/help.js';
import { UsageError, openStore } from './cli/common.js';
import { keysCommand } from './cli/keys.js';
import { usageCommand } from './cli/usage.js';
import { requestsCommand } from './cli/requests.js';

/**
 * The operator CLI: `npx reelay <command>`. Works on the local database named by DATABASE_URL.
 * Data goes to stdout (JSON, JSON lines, CSV), messages to stderr, so output pipes well.
 * Exit status: 0 done, 1 failed (or nothing found), 2 bad command line or configuration.
 */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const sub = command !== undefined && GROUPS.has(command) && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
  if (!command || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help') || rest.includes('-h')) {
    const helpKey = sub ? `${command} ${sub}` : (command ?? 'main');
    process.stdout.write(`${HELP[helpKey] ?? HELP[command ?? 'main'] ?? HELP.main}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'keys':
        await keysCommand(sub, rest.slice(1));
        return 0;
      case 'usage':
        await usageCommand(sub, rest.slice(1));
        return 0;
      case 'requests':
        await requestsCommand(sub, rest.slice(1));
        return 0;
      case 'migrate': {
        const { close } = openStore();
        close();
        process.stderr.write('Migrations applied.\n');
        return 0;
      }
      case 'simulator': {
        const { runSimulatorCli } = await import('./simulator/cli.js');
        await runSimulatorCli(rest);
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${command}'\n\n${HELP.main}`);
    }
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`reelay: ${(err as Error).message}\n`);
    return usage ? 2 : 1;
  }
}

// Run when executed as the CLI entry (not when imported by tests). The simulator keeps running
// until a signal stops it; every other command exits with its status.
const isEntry = process.argv[1] && /(?:cli\.(?:ts|js)|reelay(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  void runCli(process.argv.slice(2)).then((code) => {
    if (code !== 0 || process.argv[2] !== 'simulator') process.exit(code);
  });
}
