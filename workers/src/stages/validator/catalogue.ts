/**
 * The validator's view of the catalogue: which SKUs are sold and in which currency, read through a
 * short-lived cache (products change rarely, orders arrive by thousands a second). A product withdrawn
 * a moment ago may still validate for up to `ttlMs`; the inventory stage's stock check stays exact.
 */
import type { Sql } from '@orders/platform';
import type { CatalogueEntry } from './rules';

export class Catalogue {
  private readonly entries = new Map<string, { entry: CatalogueEntry | null; at: number }>();

  constructor(
    private readonly sql: Sql,
    private readonly ttlMs: number,
  ) {}

  async lookup(skus: string[]): Promise<Map<string, CatalogueEntry>> {
    const now = Date.now();
    const out = new Map<string, CatalogueEntry>();
    const missing = new Set<string>();
    for (const sku of skus) {
      const hit = this.entries.get(sku);
      if (hit && now - hit.at < this.ttlMs) {
        if (hit.entry) out.set(sku, hit.entry);
      } else missing.add(sku);
    }
    if (missing.size > 0) {
      const rows = await this.sql<CatalogueEntry[]>`SELECT sku, currency, active FROM products WHERE sku IN ${this.sql([...missing])}`;
      const found = new Map(rows.map((r) => [r.sku, r]));
      for (const sku of missing) {
        const entry = found.get(sku) ?? null;
        this.entries.set(sku, { entry, at: now });
        if (entry) out.set(sku, entry);
      }
      if (this.entries.size > 100_000) this.entries.clear();
    }
    return out;
  }
}
