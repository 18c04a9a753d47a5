import { HELP, GROUPS } from './cli/help.js';
import { UsageError, exitCodeOf, openLocalStore } from './cli/common.js';
import { describeDatabase, loadConfig } from './config.js';
import { keysCommand } from './cli/keys.js';
import { usageCommand } from './cli/usage.js';
import { requestsCommand } from './cli/requests.js';

/**
 * The operator CLI: `npx reelay <command>`. Works on the database named by DATABASE_URL, which
 * must exist (only `migrate` creates one), or, with REELAY_URL and ADMIN_TOKEN, through that
 * server's admin API. Data goes to stdout (JSON, JSON lines, CSV), messages to stderr, so output
 * pipes well. Exit status: 0 done, 1 nothing found or refused, 2 bad command line or configuration.
 */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    // No command is a usage mistake (a script that lost its arguments must not look successful).
    process.stderr.write(`${HELP.main}\n`);
    return 2;
  }
  const sub = command !== undefined && GROUPS.has(command) && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
  if (command === '--help' || command === '-h' || command === 'help' || rest.includes('--help') || rest.includes('-h')) {
    const helpKey = sub ? `${command} ${sub}` : command;
    process.stdout.write(`${HELP[helpKey] ?? HELP[command] ?? HELP.main}\n`);
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
        // SQLite: creates the file when needed. PostgreSQL: migratePg, under the advisory lock.
        const config = loadConfig(process.env);
        const opened = await openLocalStore({ create: true, config });
        await opened.close();
        process.stderr.write(`Migrations applied (${opened.engine === 'postgres' ? 'PostgreSQL' : 'SQLite'}: ${describeDatabase(config.database)}).\n`);
        return 0;
      }
      case 'db': {
        const { dbCommand } = await import('./cli/db-copy.js');
        await dbCommand(sub, rest.slice(1));
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
    process.stderr.write(`reelay: ${(err as Error).message}\n`);
    return exitCodeOf(err);
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
