// What each group of cost lines reads about one stack (scripts/lib/report-cost.ts builds it), and the small readers
// of template values the groups share.
import { EnvironmentConfig, EnvironmentName } from '../../lib/config';
import { AssumptionName } from './report-assumptions';
import type { CostInput, CostLine } from './report-cost';
import { CfnResource, Synthesized } from './synthesized';

/** One resource of a synth, with its stack and region. */
export interface Resource {
  readonly stack: string;
  readonly region: string;
  readonly id: string;
  readonly type: string;
  readonly props: Record<string, unknown>;
}

/** A line before pricing: its unit price comes from its price keys in its region (the stack's unless given). */
export type NewLine = Omit<CostLine, 'unitPrice' | 'monthly' | 'region'> & { readonly region?: string; readonly unitPrice?: number };

/** One stack of one environment, and the helpers every group of lines uses. */
export interface StackContext {
  readonly env: EnvironmentName;
  readonly config: EnvironmentConfig;
  readonly input: CostInput;
  readonly stack: string;
  readonly region: string;
  /** The environment's main stack (the first the synth lists), as opposed to its recovery stack. */
  readonly isMain: boolean;
  readonly hours: number;
  /** Pushes per month: each runs every pipeline action and, when it passes, one release. */
  readonly pushes: number;
  readonly requests: number;
  /** Every resource of every stack of the environment. */
  readonly all: readonly Resource[];
  /** The ECS services of this stack. */
  readonly services: readonly Resource[];
  readonly a: (name: AssumptionName) => number;
  readonly add: (line: NewLine) => void;
  readonly ofType: (type: string, stack?: string) => Resource[];
  readonly byId: (stack: string, id: string | undefined, what: string) => Resource;
  readonly price: (region: string, key: string) => number;
}

/** Every resource of every stack of one synth, with its stack and region. */
export function resourcesOf(s: Synthesized): Resource[] {
  return Object.entries(s.templates).flatMap(([stack, template]) =>
    Object.entries(template.Resources).map(([id, r]: [string, CfnResource]) => ({
      stack,
      region: regionOf(s, stack),
      id,
      type: r.Type,
      props: r.Properties ?? {},
    })),
  );
}

/** The region of a stack of the synth; a stack without one fails. */
export function regionOf(s: Synthesized, stack: string): string {
  const region = s.regions[stack];
  if (!region) throw new Error(`${stack}: no region in the synthesized assembly`);
  return region;
}

export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
export const refOf = (v: unknown): string | undefined => {
  const r = obj(v).Ref;
  return typeof r === 'string' ? r : undefined;
};
export const num = (v: unknown, what: string): number => {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${what}: expected a number in the template, got: ${JSON.stringify(v)}`);
  return n;
};
export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
export const count = (n: number, noun: string, plural = `${noun}s`): string => `${n} ${n === 1 ? noun : plural}`;
