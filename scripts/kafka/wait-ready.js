#!/usr/bin/env node
// Waits until a Kafka broker answers an admin describeCluster request.
//
//   node scripts/kafka/wait-ready.js [brokers] [timeoutSeconds] [--pid=N[,M...]] [--expect-brokers=K]
//
// brokers: comma-separated host:port list (default: $KAFKA_BROKERS, else 127.0.0.1:9092).
// timeoutSeconds: how long to keep retrying (default 60).
// --pid=N,M: give up at once if any of these processes exits (used by kafka.sh while brokers start).
// --expect-brokers=K: wait until the cluster has at least K registered brokers (default 1).
// --ssl-ca=FILE: connect with TLS, trusting the CA(s) of this PEM file (the SASL_SSL broker's ca.pem).
// --sasl-mechanism=M --sasl-username=U --sasl-password-file=F: authenticate (plain, scram-sha-256 or
//   scram-sha-512); the password is read from the file and never printed.
// Exit code: 0 when the cluster answered, 1 on timeout or if the watched process died.
'use strict';

const { readFileSync } = require('node:fs');
const { Kafka, logLevel } = require('kafkajs');

const args = process.argv.slice(2);
const pidArg = args.find((a) => a.startsWith('--pid='));
const expectArg = args.find((a) => a.startsWith('--expect-brokers='));
const positional = args.filter((a) => !a.startsWith('--'));
const brokersArg = positional.find((a) => !/^\d+(\.\d+)?$/.test(a));
const timeoutArg = positional.find((a) => /^\d+(\.\d+)?$/.test(a));

const brokers = (brokersArg || process.env.KAFKA_BROKERS || '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const timeoutMs = Number(timeoutArg || 60) * 1000;
const watchedPids = pidArg ? pidArg.slice('--pid='.length).split(',').filter(Boolean).map(Number) : [];
const expectedBrokers = expectArg ? Number(expectArg.slice('--expect-brokers='.length)) : 1;
const option = (name) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : arg.slice(name.length + 3);
};
const caFile = option('ssl-ca');
const saslMechanism = option('sasl-mechanism');
const security = {};
if (caFile) security.ssl = { ca: readFileSync(caFile, 'utf8') };
if (saslMechanism) {
  security.sasl = {
    mechanism: saslMechanism,
    username: option('sasl-username') || '',
    password: readFileSync(option('sasl-password-file') || '', 'utf8').replace(/\r?\n$/, ''),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

async function probe() {
  const kafka = new Kafka({
    clientId: 'kafka-wait-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
    ...security,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return (
      cluster.brokers.length >= Math.max(1, expectedBrokers) &&
      cluster.controller !== null &&
      cluster.controller !== undefined
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function main() {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer';
  for (;;) {
    try {
      if (await probe()) return 0;
      lastError = `cluster has fewer than ${expectedBrokers} broker(s) or no controller yet`;
    } catch (err) {
      lastError = (err && err.message) || String(err);
    }
    const exited = watchedPids.find((pid) => !processAlive(pid));
    if (exited !== undefined) {
      console.error(`wait-ready: process ${exited} exited before ${brokers.join(',')} answered`);
      return 1;
    }
    if (Date.now() >= deadline) {
      console.error(`wait-ready: ${brokers.join(',')} not ready after ${timeoutMs / 1000}s (${lastError})`);
      return 1;
    }
    await sleep(250);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error('wait-ready:', err);
    process.exit(1);
  },
);
