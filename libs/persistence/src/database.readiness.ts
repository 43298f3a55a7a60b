import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ReadinessCheck } from '@app/observability';

@Injectable()
export class DatabaseReadiness extends ReadinessCheck {
  readonly name = 'database';

  constructor(private readonly ds: DataSource) {
    super();
  }

  async check(): Promise<void> {
    await this.ds.query('SELECT 1');
  }
}
