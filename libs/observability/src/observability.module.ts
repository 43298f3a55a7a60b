import { DynamicModule, Module, Provider, Type } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { HealthController } from './health.controller';
import { READINESS_CHECKS, ReadinessCheck } from './readiness';

export interface ObservabilityOptions {
  /**
   * What `/health/ready` reports on: classes provided (and exported) by other modules, or instances
   * the composition root made itself.
   */
  readinessChecks: (Type<ReadinessCheck> | ReadinessCheck)[];
  /** Process metrics (CPU, memory, event loop); off in tests so values stay deterministic. */
  defaultMetrics?: boolean;
}

/** `/health/live`, `/health/ready` and `/metrics` for a process. */
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    const injected = options.readinessChecks.filter(
      (c): c is Type<ReadinessCheck> => typeof c === 'function',
    );
    const given = options.readinessChecks.filter((c): c is ReadinessCheck => typeof c !== 'function');
    const checks: Provider = {
      provide: READINESS_CHECKS,
      useFactory: (...instances: ReadinessCheck[]) => [...instances, ...given],
      inject: injected,
    };
    return {
      module: ObservabilityModule,
      imports: [
        PrometheusModule.register({
          path: '/metrics',
          defaultMetrics: { enabled: options.defaultMetrics ?? true },
        }),
      ],
      controllers: [HealthController],
      providers: [checks],
    };
  }
}
