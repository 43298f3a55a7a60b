import { DynamicModule, Module, Provider, Type } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { HealthController } from './health.controller';
import { READINESS_CHECKS, ReadinessCheck } from './readiness';

export interface ObservabilityOptions {
  /** The dependencies `/health/ready` reports on, provided (and exported) by other modules. */
  readinessChecks: Type<ReadinessCheck>[];
  /** Process metrics (CPU, memory, event loop); off in tests so values stay deterministic. */
  defaultMetrics?: boolean;
}

/** `/health/live`, `/health/ready` and `/metrics` for a process. */
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    const checks: Provider = {
      provide: READINESS_CHECKS,
      useFactory: (...instances: ReadinessCheck[]) => instances,
      inject: options.readinessChecks,
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
