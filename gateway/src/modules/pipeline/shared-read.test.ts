/** The overview's shared read (service.ts), with a fake read and a fake clock. */
import { describe, expect, test } from 'bun:test';
import { SharedRead } from './shared-read';

/** A read per call that the test settles by hand, and a clock it moves. */
function setup(ttlMs = 2_000) {
  const reads: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  let now = 0;
  const shared = new SharedRead(
    () =>
      new Promise<number>((resolve, reject) => {
        reads.push({ resolve, reject });
      }),
    ttlMs,
    () => now,
  );
  return {
    shared,
    reads,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('the shared overview read', () => {
  test('concurrent callers share one read', async () => {
    const { shared, reads } = setup();
    const [a, b, c] = [shared.get(), shared.get(), shared.get()];
    expect(reads).toHaveLength(1);
    reads[0]?.resolve(7);
    expect(await Promise.all([a, b, c])).toEqual([7, 7, 7]);
  });

  test('a read resolved less than 2 s ago is reused; then a new one starts', async () => {
    const { shared, reads, advance } = setup();
    const first = shared.get();
    reads[0]?.resolve(1);
    await first;
    advance(1_999);
    expect(await shared.get()).toBe(1);
    expect(reads).toHaveLength(1);
    advance(1);
    const second = shared.get();
    expect(reads).toHaveLength(2);
    reads[1]?.resolve(2);
    expect(await second).toBe(2);
  });

  test('a read in flight is shared however old it is, and its 2 s count from when it resolved', async () => {
    const { shared, reads, advance } = setup();
    const first = shared.get();
    advance(5_000);
    const late = shared.get();
    expect(reads).toHaveLength(1);
    reads[0]?.resolve(1);
    expect(await late).toBe(1);
    await first;
    advance(1_500);
    expect(await shared.get()).toBe(1);
    expect(reads).toHaveLength(1);
  });

  test('a failed read is not reused: the next caller starts a new one', async () => {
    const { shared, reads } = setup();
    const first = shared.get();
    const concurrent = shared.get();
    reads[0]?.reject(new Error('db down'));
    await expect(first).rejects.toThrow('db down');
    await expect(concurrent).rejects.toThrow('db down');
    const retry = shared.get();
    expect(reads).toHaveLength(2);
    reads[1]?.resolve(3);
    expect(await retry).toBe(3);
  });
});
