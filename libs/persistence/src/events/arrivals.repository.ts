import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { fxWaitKey, priceWaitKey } from '@app/valuation';

export interface PriceArrival {
  securityId: string;
  priceDate: string;
}

export interface FxArrival {
  fromCurrency: string;
  toCurrency: string;
  rateDate: string;
}

/**
 * What the calculator does when a price or rate is persisted upstream, kept cheap on purpose: make the
 * PENDING jobs waiting on it due now (one indexed update), and record a trigger for the scheduler's
 * fan-out, which re-opens the terminal jobs that used an older value in bounded chunks.
 */
@Injectable()
export class ArrivalsRepository {
  constructor(private readonly ds: DataSource) {}

  /** One statement for a batch of arrivals; returns how many waiting jobs became due. */
  async recordArrivals(prices: readonly PriceArrival[], rates: readonly FxArrival[]): Promise<number> {
    if (prices.length === 0 && rates.length === 0) return 0;
    const waits = [
      ...prices.map((p) => ({ waitingOn: priceWaitKey(p.securityId), date: p.priceDate })),
      ...rates.map((r) => ({ waitingOn: fxWaitKey(r.fromCurrency, r.toCurrency), date: r.rateDate })),
    ];
    const [row] = await this.ds.query<{ woken: string }[]>(
      `WITH a AS (SELECT waiting_on, min(d) AS d FROM unnest($1::text[], $2::date[]) AS a(waiting_on, d)
                   GROUP BY waiting_on),
            woken AS (
              UPDATE portfolio_valuation_jobs j SET next_attempt_at = now(), updated_at = now()
                FROM a
               WHERE j.status = 'PENDING' AND j.waiting_on = a.waiting_on AND j.valuation_date >= a.d
                 AND j.next_attempt_at > now()
              RETURNING j.id),
            triggers AS (
              INSERT INTO valuation_triggers (kind, security_id, from_currency, to_currency, effective_date)
              SELECT kind, security_id, from_currency, to_currency, d
                FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::date[])
                  AS t(kind, security_id, from_currency, to_currency, d)
              RETURNING id)
       SELECT count(*) AS woken FROM woken`,
      [
        waits.map((w) => w.waitingOn),
        waits.map((w) => w.date),
        [...prices.map(() => 'PRICE'), ...rates.map(() => 'FX')],
        [...prices.map((p) => p.securityId), ...rates.map(() => null)],
        [...prices.map(() => null), ...rates.map((r) => r.fromCurrency)],
        [...prices.map(() => null), ...rates.map((r) => r.toCurrency)],
        waits.map((w) => w.date),
      ],
    );
    return Number(row.woken);
  }
}
