import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { AdminBusyError, type MissingData, MissingDataRepository } from '@app/persistence';

/**
 * `GET /missing-data` (contract §9, role viewer): what the PENDING jobs wait for, one entry per price
 * or FX pair, most jobs first. Tokens, roles and the `{"error": ...}` body are the operators' API's
 * global guard and filter (../operators).
 */
@Controller('missing-data')
export class MissingDataController {
  constructor(private readonly missing: MissingDataRepository) {}

  @Get()
  async list(): Promise<MissingData[]> {
    try {
      return await this.missing.list();
    } catch (error) {
      if (error instanceof AdminBusyError) throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }
}
