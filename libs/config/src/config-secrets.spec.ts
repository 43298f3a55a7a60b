import { ConfigError, loadConfig } from './index';

/** Contract §10: a configuration error names the variable and never repeats a password. */
describe('configuration errors and secrets', () => {
  const errorOf = (env: Record<string, string>) => {
    try {
      loadConfig('scheduler', env);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it.each([
    ['no database name', 'postgres://svc:S3cret-pw@db:5432', 'postgres://svc:***@db:5432'],
    ['not a postgres URL', 'mysql://svc:S3cret-pw@db:5432/valuation', 'mysql://svc:***@db:5432/valuation'],
    ['an encoded password', 'postgres://svc:S3cret%40pw@db', 'postgres://svc:***@db'],
  ])('shows a DATABASE_URL with %s without its password', (_what, url, shown) => {
    const message = errorOf({ DATABASE_URL: url });
    expect(message).toMatch(/^Invalid configuration: DATABASE_URL /);
    expect(message).toContain(JSON.stringify(shown));
    expect(message).not.toContain('S3cret');
  });

  it('still shows a value without a password, so the mistake can be seen', () => {
    expect(errorOf({ DATABASE_URL: 'nonsense' })).toContain('(got "nonsense")');
  });

  it('listens on loopback unless told otherwise', () => {
    expect(loadConfig('calculator', {}).httpHost).toBe('127.0.0.1');
    expect(loadConfig('scheduler', { HTTP_HOST: '0.0.0.0' }).httpHost).toBe('0.0.0.0');
    expect(errorOf({ HTTP_HOST: 'a host' })).toMatch(/^Invalid configuration: HTTP_HOST /);
  });
});
