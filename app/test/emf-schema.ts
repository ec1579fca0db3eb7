import { z } from 'zod';

/**
 * The CloudWatch Embedded Metric Format specification as a zod schema: every line the service writes with an `_aws`
 * member is checked against it, so a line CloudWatch would reject (and silently not turn into metrics) fails a test.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 *
 * Rules taken from the specification:
 * - the root is a JSON object with a member `_aws` (the metadata object): `Timestamp` (required, a number of
 *   milliseconds since the epoch) and `CloudWatchMetrics` (an array of MetricDirective objects);
 * - a MetricDirective has `Namespace` (string, 1 to 255 characters), `Dimensions` (an array of DimensionSets; a
 *   DimensionSet is an array of dimension names, at most 30) and `Metrics` (at most 100 MetricDefinitions);
 * - a MetricDefinition has `Name` (required string, 1 to 255 characters; MetricDatum's limit), optional `Unit` (a
 *   MetricDatum unit) and optional `StorageResolution` (1 or 60);
 * - objects defined by the specification contain no other members (the root may have any other members);
 * - every dimension name is a member of the root whose value is a string; every metric name is a member of the root
 *   whose value is a number or an array of at most 100 numbers.
 */

/** MetricDatum units (the specification refers to them; CloudWatch API Reference, StandardUnit). */
export const EMF_UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;

const metricDefinition = z
  .object({
    Name: z.string().min(1).max(255),
    Unit: z.enum(EMF_UNITS).optional(),
    StorageResolution: z.union([z.literal(1), z.literal(60)]).optional(),
  })
  .strict();

const metricDirective = z
  .object({
    Namespace: z.string().min(1).max(255),
    Dimensions: z.array(z.array(z.string().min(1)).max(30)),
    Metrics: z.array(metricDefinition).max(100),
  })
  .strict();

const metadata = z
  .object({
    Timestamp: z.number().int().nonnegative(),
    CloudWatchMetrics: z.array(metricDirective),
  })
  .strict();

/** A metric value: a number or an array of at most 100 numbers (finite: JSON has no NaN or Infinity). */
const metricValue = z.union([z.number().finite(), z.array(z.number().finite()).max(100)]);

export const emfDocument = z
  .object({ _aws: metadata })
  .passthrough()
  .superRefine((root, ctx) => {
    const members = root as Record<string, unknown>;
    root._aws.CloudWatchMetrics.forEach((directive, d) => {
      directive.Dimensions.forEach((set, s) =>
        set.forEach((name, n) => {
          if (typeof members[name] !== 'string') {
            ctx.addIssue({
              code: z.ZodIssueCode.custom,
              path: ['_aws', 'CloudWatchMetrics', d, 'Dimensions', s, n],
              message: `dimension ${name} must be a root member with a string value, got ${typeof members[name]}`,
            });
          }
        }),
      );
      directive.Metrics.forEach((metric, m) => {
        if (!metricValue.safeParse(members[metric.Name]).success) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['_aws', 'CloudWatchMetrics', d, 'Metrics', m],
            message: `metric ${metric.Name} must be a root member with a number or an array of at most 100 numbers`,
          });
        }
      });
    });
  });

export type EmfDocument = z.infer<typeof emfDocument>;

/** Every problem the specification finds with a parsed log line, as readable strings (empty: valid). */
export function emfProblems(line: unknown): string[] {
  const result = emfDocument.safeParse(line);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

/** A flat view of one EMF line: for each metric, its value and the dimension sets it is published under. */
export function emfMetrics(line: EmfDocument): Record<string, { value: unknown; unit?: string; dimensions: Record<string, string>[] }> {
  const members = line as Record<string, unknown>;
  const out: Record<string, { value: unknown; unit?: string; dimensions: Record<string, string>[] }> = {};
  for (const directive of line._aws.CloudWatchMetrics) {
    for (const metric of directive.Metrics) {
      const entry = (out[metric.Name] ??= { value: members[metric.Name], ...(metric.Unit ? { unit: metric.Unit } : {}), dimensions: [] });
      for (const set of directive.Dimensions) entry.dimensions.push(Object.fromEntries(set.map((name) => [name, members[name] as string])));
    }
  }
  return out;
}
