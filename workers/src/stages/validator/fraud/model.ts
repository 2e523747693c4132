/**
 * The fraud model: a small multilayer perceptron (32 → 64 → 32 → 1) over features of the order. Its
 * weights are generated from a fixed seed (a stand-in for trained weights loaded from a file: same
 * shape, same cost), so every process scores an order identically. Pure CPU, no I/O: it runs on the
 * worker-thread pool, and on the main thread only in the benchmark's comparison.
 */
import type { OrderLine } from '@orders/contracts';

export const FEATURES = 32;
const H1 = 64;
const H2 = 32;

function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function layer(rand: () => number, inputs: number, outputs: number): { w: Float64Array; b: Float64Array } {
  const scale = Math.sqrt(2 / (inputs + outputs));
  const w = new Float64Array(inputs * outputs);
  for (let i = 0; i < w.length; i++) w[i] = (rand() * 2 - 1) * scale;
  const b = new Float64Array(outputs);
  for (let i = 0; i < b.length; i++) b[i] = (rand() * 2 - 1) * 0.1;
  return { w, b };
}

const rand = mulberry32(0x5eed_f00d);
const L1 = layer(rand, FEATURES, H1);
const L2 = layer(rand, H1, H2);
const L3 = layer(rand, H2, 1);

function dense(input: Float64Array, offset: number, size: number, l: { w: Float64Array; b: Float64Array }, out: Float64Array): void {
  const n = out.length;
  for (let o = 0; o < n; o++) {
    let s = l.b[o] as number;
    const row = o * size;
    for (let i = 0; i < size; i++) s += (l.w[row + i] as number) * (input[offset + i] as number);
    out[o] = Math.tanh(s);
  }
}

const h1 = new Float64Array(H1);
const h2 = new Float64Array(H2);

/** Scores `count` feature vectors laid out one after the other in `features`; each score in (0, 1). */
export function scoreBatch(features: Float64Array, count: number): Float64Array {
  const scores = new Float64Array(count);
  for (let n = 0; n < count; n++) {
    const at = n * FEATURES;
    dense(features, at, FEATURES, L1, h1);
    dense(h1, 0, H1, L2, h2);
    let s = L3.b[0] as number;
    for (let i = 0; i < H2; i++) s += (L3.w[i] as number) * (h2[i] as number);
    // The network adjusts a prior dominated by the amount (feature 0: log-scaled total): ordinary
    // baskets stay well below the rejection threshold, very large ones approach it.
    const logit = -6 + 5 * (features[at] as number) + 0.8 * s;
    scores[n] = 1 / (1 + Math.exp(-logit));
  }
  return scores;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export interface ScoredOrder {
  userId: string;
  totalCents: number;
  items: OrderLine[];
  occurredAt: number;
}

/** The order's feature vector, written at `out[offset..offset+32)`. All features in about [-1, 1]. */
export function writeFeatures(o: ScoredOrder, out: Float64Array, offset: number): void {
  const units = o.items.reduce((s, i) => s + i.quantity, 0);
  const maxPrice = Math.max(0, ...o.items.map((i) => i.unitPriceCents));
  const hour = new Date(o.occurredAt).getUTCHours();
  out[offset] = Math.log10(1 + o.totalCents) / 6;
  out[offset + 1] = Math.log10(1 + units) / 3;
  out[offset + 2] = Math.min(1, o.items.length / 20);
  out[offset + 3] = Math.log10(1 + maxPrice) / 6;
  out[offset + 4] = Math.sin((2 * Math.PI * hour) / 24);
  out[offset + 5] = Math.cos((2 * Math.PI * hour) / 24);
  for (let i = 6; i < FEATURES; i++) out[offset + i] = 0;
  // Hashed sku and user buckets: which products and which customer, without a vocabulary.
  for (const item of o.items) {
    const at = offset + 6 + (hash(item.sku) % 13);
    out[at] = (out[at] as number) + item.quantity / (units || 1);
  }
  const u = hash(o.userId);
  for (let i = 0; i < 13; i++) out[offset + 19 + i] = ((u >>> i) & 1) === 1 ? 0.5 : -0.5;
}
