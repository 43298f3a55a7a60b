import { loadConfigOrExit } from '@app/config';
import { revertLastMigration, runMigrations } from '@app/persistence';
import { revalue } from './revalue';

/**
 * `db:migrate` / `db:revert`: the schema is owned by libs/persistence and applied only here.
 * `revalue`: an operator's revaluation without HTTP access to the scheduler (./revalue.ts).
 */
async function main(command: string | undefined): Promise<void> {
  if (command === 'revalue') {
    process.exitCode = await revalue(process.argv.slice(3));
    return;
  }
  const config = loadConfigOrExit('scheduler');
  // As the migrator role (docs/operations.md, Database roles): DATABASE_PASSWORD_FILE applies here too.
  const { connection } = config.database;
  const target = new URL(connection.url);
  const where = `${target.host}${target.pathname}`;
  switch (command) {
    case 'db:migrate': {
      const applied = await runMigrations(connection);
      console.log(applied.length ? `migrated ${where}: ${applied.join(', ')}` : `${where} is up to date`);
      return;
    }
    case 'db:revert':
      await revertLastMigration(connection);
      console.log(`reverted the last migration of ${where}`);
      return;
    default:
      console.error('usage: tools db:migrate | db:revert | revalue <arguments>');
      process.exitCode = 2;
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
