/** What the tracking page reads from the API. */
export interface Product {
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
}
export interface Order {
  id: string;
  status: string;
  statusReason: string | null;
  totalCents: number;
  currency: string;
  version: number;
  createdAt: string;
  items: { sku: string; quantity: number }[];
}
export interface HistoryEntry {
  toStatus: string;
  reason: string | null;
  version: number;
  occurredAt: string;
}
