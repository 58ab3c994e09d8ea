import { Metadata, ServerDuplexStream, status } from '@grpc/grpc-js';
import { Controller, UseGuards } from '@nestjs/common';
import { GrpcStreamMethod } from '@nestjs/microservices';
import { Observable } from 'rxjs';
import { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';
import { AdsStreamService } from './ads-stream.service.js';
import { JwtGuard } from '../auth/jwt.guard.js';
import { rpcError } from './grpc-errors.js';

const ADS = 'AggregatedDiscoveryService';

@Controller()
export class AdsController {
  constructor(private readonly streams: AdsStreamService) {}

  @GrpcStreamMethod(ADS, 'StreamAggregatedResources')
  @UseGuards(JwtGuard)
  stream(
    requests$: Observable<DiscoveryRequest>,
    metadata: Metadata,
    call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
  ): Observable<DiscoveryResponse> {
    return this.streams.serve(requests$, metadata, call);
  }

  @GrpcStreamMethod(ADS, 'DeltaAggregatedResources')
  delta(): never {
    throw rpcError(
      status.UNIMPLEMENTED,
      'DeltaAggregatedResources is not supported: istioctl-proxy serves StreamAggregatedResources (state-of-the-world ADS)',
    );
  }
}
