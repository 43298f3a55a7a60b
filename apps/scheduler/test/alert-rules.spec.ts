import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const promtoolFound = spawnSync('promtool', ['--version']).error === undefined;

/** docker/prometheus/alerts.yml against its unit tests (promtool exits 1 on any failed expectation). */
describe('Prometheus alert rules', () => {
  if (!promtoolFound) {
    console.warn(
      'promtool is not installed: skipping the alert-rule tests (apt-get install -y prometheus; CI installs it)',
    );
  }
  const itWithPromtool = promtoolFound ? it : it.skip;

  itWithPromtool('pass `promtool test rules docker/prometheus/alerts.test.yml`', () => {
    const run = spawnSync('promtool', ['test', 'rules', 'docker/prometheus/alerts.test.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30000,
    });
    expect({ status: run.status, output: `${run.stdout}${run.stderr}` }).toEqual({
      status: 0,
      output: expect.stringContaining('SUCCESS'),
    });
  });

  itWithPromtool('are well-formed (`promtool check rules`)', () => {
    const run = spawnSync('promtool', ['check', 'rules', 'docker/prometheus/alerts.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('SUCCESS: 7 rules found');
  });
});
