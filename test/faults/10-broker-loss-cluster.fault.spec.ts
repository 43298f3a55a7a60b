import { ConfigResourceTypes } from 'kafkajs';
import { metricValue } from '../../scripts/lib/managed-process';
import { FaultScenario } from './support/fault-harness';
import { CLUSTER_BROKERS, clusterDown, clusterKill, clusterUp } from './support/kafka-cluster';

interface PartitionState {
  partition: number;
  leader: number;
  isr: number[];
  replicas: number[];
}

/**
 * Scenario 10: one broker of a three-node cluster (replication factor 3, min.insync.replicas 2,
 * producers with acks=all) is killed with SIGKILL in the middle of a drain, the one leading the most
 * partitions of valuation_required. Its partitions get new leaders among the two survivors, whose
 * in-sync replicas still satisfy min.insync.replicas, so nothing an ack confirmed is lost and writes go
 * on; the clients find the new leaders (and a new group coordinator if it was that one), and the drain
 * completes with every effect applied once.
 *
 * The cluster is this scenario's own (`kafka.sh cluster-up`, beside the suite's single broker), started
 * here and stopped in afterAll.
 */
describe('fault 10: kill -9 a partition leader of a three-node cluster mid-drain', () => {
  let opened: FaultScenario | undefined;

  beforeAll(async () => {
    clusterUp();
    // A lease longer than the drain: a claim stranded by the broker loss would show as a drain that
    // does not complete, not be papered over by a lease expiry.
    opened = await FaultScenario.open('fault 10: kill -9 a partition leader of a three-node cluster', {
      KAFKA_BROKERS: CLUSTER_BROKERS,
      KAFKA_TOPIC_REPLICATION_FACTOR: '3',
      VALUATION_CLAIM_LEASE_SECONDS: '180',
    });
  }, 240000);
  afterAll(async () => {
    await opened?.close();
    clusterDown();
  }, 120000);

  /** Leader, in-sync replicas and replicas of every partition of `topic`, as the cluster reports them now. */
  async function partitions(topic: string): Promise<PartitionState[]> {
    const admin = scenario().kafka.kafka.admin();
    await admin.connect();
    try {
      const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      return metadata.partitions
        .map(({ partitionId, leader, isr, replicas }) => ({ partition: partitionId, leader, isr, replicas }))
        .sort((a, b) => a.partition - b.partition);
    } finally {
      await admin.disconnect();
    }
  }

  async function minInsync(topic: string): Promise<string | undefined> {
    const admin = scenario().kafka.kafka.admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
      });
      return resources[0].configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue;
    } finally {
      await admin.disconnect();
    }
  }

  function scenario(): FaultScenario {
    if (!opened) throw new Error('the scenario did not open');
    return opened;
  }

  it('moves the leadership to the survivors, loses nothing, applies nothing twice, completes the drain', async () => {
    const s = scenario();
    const scheduler = await s.start('scheduler', 'scheduler');
    const calculators = await s.startCalculators(['calculator-1', 'calculator-2']);

    // The processes created their topics with the configured replication (contract §10).
    const layout: string[] = [];
    for (const topic of Object.values(s.topics)) {
      const parts = await partitions(topic);
      const rf = [...new Set(parts.map((p) => p.replicas.length))].join('/');
      layout.push(`${parts.length}×RF${rf}/min.insync ${await minInsync(topic)}`);
      expect({ topic, partitions: parts.length, rf, minInsync: await minInsync(topic) }).toEqual({
        topic,
        partitions: 6,
        rf: '3',
        minInsync: '2',
      });
    }

    const { jobs: total } = await s.seed({ portfolios: 150, holdings: 20, securities: 60, days: 2 });
    const before = await s.waitForComplete(total * 0.3);

    // The victim: the broker leading the most partitions of valuation_required.
    const required = await partitions(s.topics.valuationRequired);
    const snapshots = await partitions(s.topics.snapshotPersisted);
    const leads = new Map<number, number>();
    for (const p of required) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
    const victim = [...leads.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
    const ledRequired = required.filter((p) => p.leader === victim).map((p) => p.partition);
    const ledSnapshots = snapshots.filter((p) => p.leader === victim).map((p) => p.partition);

    clusterKill(victim);
    const killedAt = Date.now();

    // Every partition of the scenario's topics gets a leader among the survivors, with the survivors
    // (two: min.insync.replicas still met) as its in-sync replicas.
    const reelected = await s.waitFor(
      async () => {
        for (const topic of Object.values(s.topics))
          for (const p of await partitions(topic))
            if (p.leader < 0 || p.leader === victim || p.isr.includes(victim)) return undefined;
        return Date.now() - killedAt;
      },
      60000,
      `new leaders and in-sync replicas without node ${victim}`,
    );
    const isrAfter = await partitions(s.topics.valuationRequired);

    const settledIn = await s.awaitSettled(150000, (c) => c.COMPLETE === total);
    const recovered = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0`,
    );
    const failedPublishes = s.logLines(scheduler, /publishing \d+ jobs failed/);
    const released = failedPublishes.reduce(
      (n, l) => n + Number(/(\d+) claims released/.exec(l)?.[1] ?? 0),
      0,
    );
    const dispatched = metricValue(await scheduler.metrics(), 'valuation_jobs_dispatched_total') ?? 0;
    const requests = await s.kafka.readTopic(s.topics.valuationRequired);
    const applied = await s.appliedValuations(calculators);
    const lostClaims = await Promise.all(calculators.map((c) => s.processed(c, 'lost_claim')));
    const crashes = calculators.map((c) => s.logLines(c, /Crash: /).length);
    const { report, violations } = await s.invariants({ kind: 'counted', count: applied }, { jobs: total });

    Object.assign(s.figures, {
      jobs: total,
      'topics (partitions × replicas / min.insync.replicas)': [...new Set(layout)].join(', '),
      'COMPLETE when the broker was killed': before.COMPLETE ?? 0,
      'killed node (partitions it led: valuation_required / snapshots)': `${victim} (${ledRequired.join(',')} / ${
        ledSnapshots.join(',') || '-'
      })`,
      'every partition led by a survivor, ISR without the victim': `${(reelected / 1000).toFixed(1)} s after the kill`,
      'valuation_required leader:ISR after': isrAfter.map((p) => `${p.leader}:${p.isr.join('+')}`).join(' '),
      'drain complete after the kill': `${((reelected + settledIn) / 1000).toFixed(1)} s`,
      'failed dispatch publishes / claims released': `${failedPublishes.length} / ${released}`,
      'dispatched_total / messages on valuation_required': `${dispatched} / ${requests.length}`,
      'lost_claim (stale redeliveries) per calculator': lostClaims.join(' / '),
      'calculator consumer crashes (kafkajs restarts them)': crashes.join(' / '),
      'jobs with attempt_count > 0': recovered,
    });
    s.print();

    expect(ledRequired.length).toBeGreaterThan(0);
    expect(isrAfter.every((p) => p.isr.length === 2)).toBe(true);
    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(report.duplicatesOnTopic).toBe(0);
    // Every dispatched message reached the topic, and no claim waited for a lease expiry.
    expect(requests.length).toBeGreaterThanOrEqual(dispatched);
    expect(recovered).toBe(0);
  }, 300000);
});
