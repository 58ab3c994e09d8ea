import { readFileSync } from 'node:fs';
import { ChannelCredentials, credentials } from '@grpc/grpc-js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config.js';
import { ConfigError } from '../../config/config.error.js';

/** How the proxy authenticates istiod: CA file, plaintext (15010) or, explicitly, no verification. */
@Injectable()
export class UpstreamCredentials {
  private readonly logger = new Logger(UpstreamCredentials.name);
  private readonly creds: ChannelCredentials;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.creds = this.build();
  }

  current(): ChannelCredentials {
    return this.creds;
  }

  /** The name istiod's certificate must carry; we dial pod IPs, so SNI and :authority are overridden. */
  get serverName(): string {
    return this.config.upstreamServerName;
  }

  private build(): ChannelCredentials {
    const { upstreamPlaintext, upstreamInsecure, upstreamCaFile } = this.config;
    if (upstreamPlaintext) {
      this.logger.warn('UPSTREAM_PLAINTEXT=true: talking to istiod without TLS (port 15010); tokens cross the network in clear');
      return credentials.createInsecure();
    }
    if (upstreamCaFile) {
      let ca: Buffer;
      try {
        ca = readFileSync(upstreamCaFile);
      } catch (err) {
        throw new ConfigError('UPSTREAM_CA_FILE', `=${upstreamCaFile} cannot be read: ${(err as Error).message}`);
      }
      return credentials.createSsl(ca);
    }
    if (upstreamInsecure) {
      this.logger.warn('UPSTREAM_INSECURE=true: istiod certificates are NOT verified; use only for testing');
      return credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
    }
    throw new ConfigError('UPSTREAM_CA_FILE', 'must be set to verify istiod (or UPSTREAM_INSECURE=true / UPSTREAM_PLAINTEXT=true)');
  }
}
