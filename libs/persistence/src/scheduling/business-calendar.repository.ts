import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

@Injectable()
export class BusinessCalendarRepository {
  constructor(private readonly ds: DataSource) {}

  /** The valuation horizon: the latest date of the calendar, or null while the calendar is empty. */
  async horizon(calendarCode: string): Promise<string | null> {
    const [row] = await this.ds.query<{ horizon: string | null }[]>(
      `SELECT to_char(max(date), 'YYYY-MM-DD') AS horizon FROM business_dates WHERE calendar_code = $1`,
      [calendarCode],
    );
    return row.horizon;
  }
}
