// Every spec runs in UTC, and each jest worker on its own copy of the migrated test database
// (global-setup makes them), so specs in parallel workers never truncate each other's rows.
process.env.TZ = 'UTC';
const template = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/valuation_test';
const url = new URL(template);
url.pathname = `${url.pathname}_w${process.env.JEST_WORKER_ID ?? '1'}`;
process.env.DATABASE_URL = url.toString();
process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
