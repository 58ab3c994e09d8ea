import { Controller, Get } from '@nestjs/common';

@Controller()
export class HealthController {
  /** Liveness: the process and its event loop answer; never depends on istiod or Kubernetes. */
  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }
}
