import { QueryFailedError } from 'typeorm';
import { refusedValueReason } from './database-errors';

const driverError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('refusedValueReason', () => {
  it.each([
    ['22008', 'date/time field value out of range: "0000-01-01"'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22003', 'numeric field overflow'],
    ['23514', 'new row violates check constraint "x"'],
    ['23502', 'null value in column "x" violates not-null constraint'],
    ['54000', 'index row size 3000 exceeds btree version 4 maximum 2704'],
  ])('names a refused value (SQLSTATE %s) with the database reason', (code, message) => {
    const error = new QueryFailedError('INSERT …', [], driverError(code, message));
    expect(refusedValueReason(error)).toBe(`the database refused a value (SQLSTATE ${code}): ${message}`);
    expect(refusedValueReason(driverError(code, message))).toContain(message);
  });

  it.each([
    ['08006', 'connection failure'],
    ['57P01', 'terminating connection due to administrator command'],
    ['40001', 'could not serialize access'],
    ['40P01', 'deadlock detected'],
    ['57014', 'canceling statement due to statement timeout'],
    ['55P03', 'canceling statement due to lock timeout'],
    ['53300', 'too many connections'],
    ['23505', 'duplicate key value violates unique constraint'],
  ])('treats SQLSTATE %s as infrastructure (retried, not dead-lettered)', (code, message) => {
    expect(refusedValueReason(new QueryFailedError('…', [], driverError(code, message)))).toBeNull();
  });

  it('treats errors without a SQLSTATE as infrastructure', () => {
    expect(refusedValueReason(new Error('Connection terminated unexpectedly'))).toBeNull();
    expect(refusedValueReason('boom')).toBeNull();
  });
});
