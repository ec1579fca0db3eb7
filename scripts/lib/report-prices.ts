// The dated price table (pricing/aws-prices.json): public AWS list prices per region, each with its unit and the AWS
// pricing page it comes from. The cost model reads every price through priceOf(), so a missing price fails loudly.
import * as fs from 'fs';
import * as path from 'path';

/** One list price. */
export interface Price {
  readonly price: number;
  /** What one unit is, e.g. `USD per NAT gateway-hour`. */
  readonly unit: string;
  /** The AWS pricing page the price is published on. */
  readonly source: string;
}

/** The price table: the date its prices were taken as of, and per region, price key -> price. */
export interface PriceTable {
  readonly asOf: string;
  readonly currency: string;
  readonly note: string;
  readonly regions: Readonly<Record<string, Readonly<Record<string, Price>>>>;
}

export const PRICE_TABLE_PATH = path.join(__dirname, '..', '..', 'pricing', 'aws-prices.json');

/** Reads the price table; malformed entries are reported all at once, with the key and the bad value. */
export function loadPrices(file: string = PRICE_TABLE_PATH): PriceTable {
  const table = JSON.parse(fs.readFileSync(file, 'utf8')) as PriceTable;
  const problems = priceTableProblems(table);
  if (problems.length > 0) throw new Error(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return table;
}

/** What is wrong with a price table: an undated or future date, a price without a unit, a source or a number. */
export function priceTableProblems(table: PriceTable, today: Date = new Date()): string[] {
  const problems: string[] = [];
  const iso = /^\d{4}-\d{2}-\d{2}$/;
  const asOf = new Date(`${table.asOf}T00:00:00Z`);
  if (typeof table.asOf !== 'string' || !iso.test(table.asOf) || Number.isNaN(asOf.getTime()) || asOf.toISOString().slice(0, 10) !== table.asOf) {
    problems.push(`asOf: must be an ISO date (YYYY-MM-DD), got: ${String(table.asOf)}`);
  } else if (asOf.getTime() > today.getTime()) {
    problems.push(`asOf: must not be in the future, got: ${table.asOf}`);
  }
  if (table.currency !== 'USD') problems.push(`currency: must be USD, got: ${String(table.currency)}`);
  for (const [region, prices] of Object.entries(table.regions ?? {})) {
    for (const [key, p] of Object.entries(prices)) {
      if (typeof p.price !== 'number' || !Number.isFinite(p.price) || p.price < 0)
        problems.push(`${region}.${key}.price: must be a number >= 0, got: ${String(p.price)}`);
      if (typeof p.unit !== 'string' || p.unit.trim() === '') problems.push(`${region}.${key}.unit: must not be empty`);
      if (typeof p.source !== 'string' || !p.source.startsWith('https://aws.amazon.com/')) {
        problems.push(`${region}.${key}.source: must be an AWS pricing page (https://aws.amazon.com/...), got: ${String(p.source)}`);
      }
    }
  }
  return problems;
}

/** The price of `key` in `region`; throws with the region and key when the table lacks it. */
export function priceOf(table: PriceTable, region: string, key: string): Price {
  const p = table.regions[region]?.[key];
  if (!p) throw new Error(`pricing/aws-prices.json: no price ${key} for ${region} (regions: ${Object.keys(table.regions).join(', ')})`);
  return p;
}
