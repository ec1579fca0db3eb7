import type { DeclineCode } from './card';
import { METRICS } from './contract';

/**
 * CloudWatch Embedded Metric Format (EMF) fields for a request's "request completed" log line.
 *
 * The service makes no CloudWatch API call for metrics. Each request's one log line carries, at its top level, the
 * `_aws` metadata (timestamp and metric directives), the dimension values and the metric values; the awslogs driver
 * ships stdout to CloudWatch Logs, which extracts the metrics from any log event in this format.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 *
 * Dimension values are bounded so that every value is a known, small set (each distinct combination is a separate
 * CloudWatch metric): the environment name from configuration, the matched route pattern (never the request target,
 * which can hold card data), the payment status and the decline codes the service itself decides (card.ts).
 *
 * Counts are written as 0 on every request where the counted event could have happened and did not, so that Sum is
 * the number of events and Average is the rate per eligible request:
 * - AuthFailures: every request to a route that requires the API key;
 * - DatabaseErrors: every request to a route that reads or writes payments;
 * - PaymentsCreated, PaymentsDeclined, IdempotentReplays: every request to the payment creation route.
 */

/** What a route can produce, fixed when the route is registered. */
export interface RouteMetricScope {
  /** `METHOD /pattern` (the Route dimension), e.g. `POST /v1/payments`. */
  readonly route: string;
  /** The route requires the API key: AuthFailures is written (0 or 1). */
  readonly authenticated: boolean;
  /** The route reads or writes payments in the database: DatabaseErrors is written (0 or 1). */
  readonly database: boolean;
  /** The route creates payments: PaymentsCreated, PaymentsDeclined and IdempotentReplays are written (0 or 1). */
  readonly createsPayments: boolean;
}

/** The Route dimension of a request that matched no route (404, unknown method, malformed target). */
export const UNROUTED = 'unrouted';

/** The outcome of a payment creation request that answered with a payment. */
export interface PaymentMetricOutcome {
  readonly status: 'approved' | 'declined';
  readonly declineCode?: DeclineCode;
  /** The answer replays the payment of an earlier request with the same idempotency key. */
  readonly replayed: boolean;
}

/** What one request did, as its metrics count it. */
export interface RequestMetricInput {
  /** The matched route's scope; undefined when no route matched (Route `unrouted`, latency only). */
  readonly scope: RouteMetricScope | undefined;
  /** Milliseconds from the request's arrival to the end of the response (or the client leaving). */
  readonly latencyMs: number;
  /** Epoch milliseconds of the measurement (the `_aws.Timestamp`). */
  readonly timestamp: number;
  /** The API key was missing or wrong (401). */
  readonly authFailed: boolean;
  /** The request failed on the database (503). */
  readonly databaseError: boolean;
  /** Set when a payment creation request answered with a payment (new or replayed). */
  readonly payment: PaymentMetricOutcome | undefined;
}

export interface MetricDirective {
  readonly Namespace: string;
  readonly Dimensions: readonly (readonly string[])[];
  readonly Metrics: readonly { readonly Name: string; readonly Unit: 'Milliseconds' | 'Count' }[];
}

/** The EMF members merged into the top level of a log line. */
export interface EmfFields {
  readonly _aws: { readonly Timestamp: number; readonly CloudWatchMetrics: readonly MetricDirective[] };
  readonly [member: string]: unknown;
}

const { namespace: NAMESPACE, dimensions: DIM, names: NAME } = METRICS;

function directive(dimensionSets: readonly (readonly string[])[], metrics: readonly string[], unit: 'Milliseconds' | 'Count'): MetricDirective {
  return Object.freeze({
    Namespace: NAMESPACE,
    Dimensions: Object.freeze(dimensionSets.map((set) => Object.freeze([...set]))),
    Metrics: Object.freeze(metrics.map((Name) => Object.freeze({ Name, Unit: unit }))),
  });
}

/** The directives are the same for every request of a kind: built once, shared by every line (never mutated). */
const LATENCY = directive([[DIM.environment, DIM.route]], [NAME.requestLatency], 'Milliseconds');
const CREATED_BY_STATUS = directive([[DIM.environment], [DIM.environment, DIM.status]], [NAME.paymentsCreated], 'Count');
const DECLINED_BY_CODE = directive([[DIM.environment], [DIM.environment, DIM.declineCode]], [NAME.paymentsDeclined], 'Count');
const countDirectives = new Map<string, MetricDirective>();

/** The [Environment] directive for these counts (cached per combination; there are at most a handful). */
function countsDirective(names: readonly string[]): MetricDirective {
  const key = names.join(',');
  let found = countDirectives.get(key);
  if (!found) {
    found = directive([[DIM.environment]], names, 'Count');
    countDirectives.set(key, found);
  }
  return found;
}

/** Milliseconds to the microsecond: enough for latency percentiles, and a short number in the line. */
function roundLatency(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms * 1000) / 1000 : 0;
}

/**
 * The EMF members for one request, to merge into the top level of its log line. One `_aws.CloudWatchMetrics`
 * directive per group of dimension sets, and each metric in exactly one directive:
 * - RequestLatency by [Environment, Route];
 * - PaymentsCreated by [Environment] and [Environment, Status] when a payment was created (its status is the
 *   dimension value), otherwise 0 by [Environment] only;
 * - PaymentsDeclined by [Environment] and [Environment, DeclineCode] when the created payment was declined,
 *   otherwise 0 by [Environment] only;
 * - IdempotentReplays, AuthFailures, DatabaseErrors by [Environment].
 */
export function requestMetrics(environment: string, input: RequestMetricInput): EmfFields {
  const { scope } = input;
  const fields: Record<string, unknown> = {
    [DIM.environment]: environment,
    [DIM.route]: scope ? scope.route : UNROUTED,
    [NAME.requestLatency]: roundLatency(input.latencyMs),
  };
  const directives: MetricDirective[] = [LATENCY];
  const counts: string[] = [];
  if (scope?.createsPayments) {
    const created = input.payment !== undefined && !input.payment.replayed;
    const declined = created && input.payment?.status === 'declined' && input.payment.declineCode !== undefined;
    fields[NAME.paymentsCreated] = created ? 1 : 0;
    fields[NAME.paymentsDeclined] = declined ? 1 : 0;
    fields[NAME.idempotentReplays] = input.payment?.replayed === true ? 1 : 0;
    if (created && input.payment) {
      fields[DIM.status] = input.payment.status;
      directives.push(CREATED_BY_STATUS);
    } else {
      counts.push(NAME.paymentsCreated);
    }
    if (declined && input.payment?.declineCode !== undefined) {
      fields[DIM.declineCode] = input.payment.declineCode;
      directives.push(DECLINED_BY_CODE);
    } else {
      counts.push(NAME.paymentsDeclined);
    }
    counts.push(NAME.idempotentReplays);
  }
  if (scope?.authenticated) {
    fields[NAME.authFailures] = input.authFailed ? 1 : 0;
    counts.push(NAME.authFailures);
  }
  if (scope?.database) {
    fields[NAME.databaseErrors] = input.databaseError ? 1 : 0;
    counts.push(NAME.databaseErrors);
  }
  if (counts.length > 0) directives.push(countsDirective(counts));
  return { _aws: { Timestamp: input.timestamp, CloudWatchMetrics: directives }, ...fields };
}
