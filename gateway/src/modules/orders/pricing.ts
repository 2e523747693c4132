/**
 * Pricing an order from the catalogue: prices and totals are computed here, never taken from the
 * client. Refuses duplicate lines, unknown or withdrawn products, mixed currencies and totals out of range,
 * and (409) a line asking for more than the catalogue has in stock right now: a sold-out product is refused
 * at once, clearly, instead of being accepted and failed by the inventory stage a moment later. The stock
 * read here may be up to CATALOGUE_CACHE_MS old; the inventory stage's reservation stays the one that
 * decides (it never oversells), so an order accepted here can still fail there when others took the last
 * units meanwhile.
 */
import { GatewayErrorCodes } from '../../error-codes';
import { DomainError } from '../../errors';
import type { ProductsService } from '../products/service';

/** An order line as stored (`order_items`). */
export type Line = { line_no: number; sku: string; quantity: number; unit_price_cents: number };

export interface Priced {
  lines: Line[];
  currency: string;
  total: number;
}

export async function priceLines(products: ProductsService, items: { sku: string; quantity: number }[]): Promise<Priced> {
  const skus = items.map((i) => i.sku);
  const duplicates = [...new Set(skus.filter((s, i) => skus.indexOf(s) !== i))];
  if (duplicates.length > 0) {
    throw new DomainError(
      'unprocessable',
      GatewayErrorCodes.ordersDuplicateSku,
      'Duplicate order line',
      `Each SKU may appear once; repeated: ${duplicates.join(', ')}.`,
    );
  }
  const prices = await products.prices(skus);
  const unknown = skus.filter((s) => !prices.get(s)?.active);
  if (unknown.length > 0) {
    throw new DomainError('unprocessable', GatewayErrorCodes.ordersUnknownSku, 'Unknown product', `Not sold here: ${unknown.join(', ')}.`, {
      skus: unknown,
    });
  }
  const short = items.filter((i) => (prices.get(i.sku)?.stock ?? 0) < i.quantity);
  if (short.length > 0) {
    const left = short.map((i) => ({ sku: i.sku, requested: i.quantity, inStock: prices.get(i.sku)?.stock ?? 0 }));
    throw new DomainError(
      'conflict',
      GatewayErrorCodes.ordersOutOfStock,
      'Out of stock',
      `Not enough in stock: ${left.map((l) => `${l.sku} (${l.inStock} left, ${l.requested} asked)`).join(', ')}.`,
      { skus: left },
    );
  }
  const currencies = new Set(skus.map((s) => prices.get(s)?.currency));
  if (currencies.size > 1) {
    throw new DomainError(
      'unprocessable',
      GatewayErrorCodes.ordersMixedCurrency,
      'Mixed currencies',
      'All products of one order must be priced in the same currency.',
    );
  }
  const lines = items.map((item, i) => ({
    line_no: i + 1,
    sku: item.sku,
    quantity: item.quantity,
    unit_price_cents: prices.get(item.sku)?.priceCents ?? 0,
  }));
  const total = lines.reduce((sum, l) => sum + l.quantity * l.unit_price_cents, 0);
  if (!Number.isSafeInteger(total))
    throw new DomainError(
      'unprocessable',
      GatewayErrorCodes.ordersTotalTooLarge,
      'Order total too large',
      'The order total is out of range.',
    );
  return { lines, currency: [...currencies][0] ?? 'EUR', total };
}
