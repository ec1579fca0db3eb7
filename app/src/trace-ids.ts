/**
 * Trace ids in log lines, without OpenTelemetry (this module loads nothing of it).
 *
 * Every log line written for a request carries `traceId` (32 lowercase hex characters, the W3C/OpenTelemetry form)
 * and `xrayTraceId` (the same id in X-Ray's form, `1-<8 hex>-<24 hex>`), so a log line leads to its trace in X-Ray
 * and to the load balancer's access log entry. With tracing on they come from the active span; with tracing off,
 * from the Root of the request's X-Amzn-Trace-Id header when that header is well formed.
 *
 * A trace id a caller sends is caller-chosen text: written as it is, it could carry a card number (24 hex digits
 * hold 16 decimal ones). A trace id with 12 or more consecutive decimal digits in its X-Ray form (separators
 * dropped, as a reader of the log would) is therefore never logged, never continued and never generated.
 */

/** The X-Ray trace header. https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader */
export const AMZN_TRACE_ID_HEADER = 'x-amzn-trace-id';

/** Longest X-Amzn-Trace-Id header read (Root, Parent, Sampled, Self, Lineage and a little room). */
const MAX_HEADER_LENGTH = 256;
/**
 * `Key=Value` fields separated by `;` (one optional space after `;`); values of letters, digits and `. _ : | = -`
 * (what Root, Parent, Sampled, Self and Lineage are made of).
 */
// eslint-disable-next-line security/detect-unsafe-regex -- each repetition starts with ';' and the header is capped at MAX_HEADER_LENGTH before matching: linear
const HEADER = /^[A-Za-z]{1,32}=[A-Za-z0-9._:|=-]{0,128}(?:; ?[A-Za-z]{1,32}=[A-Za-z0-9._:|=-]{0,128})*;?$/;
const XRAY_ROOT = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
/** 12 consecutive decimal digits: the shortest card number. */
const CARD_LIKE_RUN = /[0-9]{12}/;

/** True when the id, in X-Ray form with separators dropped (`1` + 32 hex), holds 12 or more consecutive digits. */
export function hasCardLikeDigitRun(traceId: string): boolean {
  return CARD_LIKE_RUN.test(`1${traceId}`);
}

/** `1-<first 8 hex>-<last 24 hex>` of a 32-hex trace id. */
export function toXrayTraceId(traceId: string): string {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
}

export interface TraceLogFields {
  readonly traceId: string;
  readonly xrayTraceId: string;
}

/** The log fields of a 32-hex trace id, or undefined when it is not one or could carry a card number. */
export function traceLogFields(traceId: string): TraceLogFields | undefined {
  if (!TRACE_ID.test(traceId) || traceId === '0'.repeat(32) || hasCardLikeDigitRun(traceId)) return undefined;
  return { traceId, xrayTraceId: toXrayTraceId(traceId) };
}

/**
 * The trace id (32 hex) in the Root field of an X-Amzn-Trace-Id header, or undefined unless the whole header is well
 * formed: one string of at most 256 characters, `Key=Value` fields separated by `;`, exactly one Root, and that Root
 * is `1-<8 hex>-<24 hex>` in lowercase. The header itself is never logged.
 */
export function traceIdFromAmznHeader(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.length > MAX_HEADER_LENGTH || !HEADER.test(header)) return undefined;
  const roots = header
    .split(';')
    .map((field) => field.trim())
    .filter((field) => field.startsWith('Root='));
  if (roots.length !== 1) return undefined;
  const root = (roots[0] as string).slice('Root='.length);
  if (!XRAY_ROOT.test(root)) return undefined;
  const traceId = root.slice(2, 10) + root.slice(11);
  return traceLogFields(traceId) ? traceId : undefined;
}
