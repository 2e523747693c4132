/**
 * Every compose stage for real, one after the other, on the images built from Dockerfile.bun and
 * Dockerfile.node (local bases: ops/compose/local-images*.yml swaps only image names):
 *   dev      every health check green; the README walkthrough through nginx; the tracking page.
 *   staging  TLS 1.3 only on nginx (1.2 refused, plain HTTP redirected), 3 gateways and 2 edges; walkthrough.
 *   prod     3 brokers (replication 3, min.insync.replicas 2), a Redis Cluster, a PostgreSQL replica streaming;
 *            walkthrough; a broker stopped under order load (no acknowledged order lost, the pipeline goes
 *            on with 2 of 3); a gateway killed under load (only in-flight requests fail; nginx skips it);
 *            crashed containers brought back by their restart policy.
 * Run by `npm run test:containers` (ops/containers/test.mjs builds everything first). The tests of each stage
 * live in stages/<stage>.ts; this file registers them in this order, each stage taken down before the next.
 */
import { devStage } from './stages/dev';
import { prodStage } from './stages/prod';
import { stagingStage } from './stages/staging';

devStage();
stagingStage();
prodStage();
