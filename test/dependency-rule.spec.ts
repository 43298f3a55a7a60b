import { spawnSync } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

interface LintResult {
  messages: { ruleId: string | null; message: string }[];
}

/**
 * Lints a probe file placed in `dir` (the rule is path-based, so the file must really be there), with
 * the project's own ESLint and config, in a child process as `npm run lint` runs it.
 */
function lintProbe(dir: string, source: string): string[] {
  const file = join(ROOT, dir, `zz-dependency-probe-${process.pid}.ts`);
  writeFileSync(file, source);
  try {
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', file],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    const [result] = JSON.parse(run.stdout) as LintResult[];
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  } finally {
    unlinkSync(file);
  }
}

describe('the dependency rule of libs/valuation', () => {
  it('fails the lint when the domain imports Nest, TypeORM or another lib', () => {
    const messages = lintProbe(
      'libs/valuation/src',
      [
        "import { Injectable } from '@nestjs/common';",
        "import { DataSource } from 'typeorm';",
        "import { AppConfig } from '@app/config';",
        "import { dataSourceOptions } from '../../persistence/src/data-source';",
        'export const probe = [Injectable, DataSource, AppConfig, dataSourceOptions];',
      ].join('\n'),
    );
    expect(messages).toEqual([
      expect.stringContaining('must not depend on NestJS'),
      expect.stringContaining('must not depend on infrastructure'),
      expect.stringContaining('must not import another lib'),
      expect.stringContaining('must not import another lib'),
    ]);
  });

  it('lets the other libs use them', () => {
    const messages = lintProbe(
      'libs/persistence/src',
      "import { Injectable } from '@nestjs/common';\nimport { DataSource } from 'typeorm';\nexport const probe = [Injectable, DataSource];\n",
    );
    expect(messages).toEqual([]);
  });
});
