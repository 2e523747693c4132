/** Sealing endpoint secrets for storage, so the database never holds one in the clear (see SecretBox). */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Endpoint secrets at rest: AES-256-GCM under the platform's webhook key (WEBHOOK_SECRET_KEY). The
 * dispatcher must sign with the secret itself, so it is encrypted, not hashed.
 *
 * The key is a key ring, so it can be rotated without a flag day: one `kid:base64` per line (32-byte
 * keys), the first line the active key that seals, every line a key that opens. A sealed value names
 * its key (`v2:<kid>:<base64>`); values sealed before key ids existed (`v1:<base64>`) are opened by
 * trying the ring's keys (GCM's tag tells the right one). A bare base64 key (one line, no id) is the
 * ring with the single key `0`. Rotation, in two roll-outs so no process meets a key it lacks: add the
 * new key as the second line everywhere; then move it first (it seals from then on); re-seal
 * (`rotate-secret`, or `kidOf` to find what still uses an old key); then drop the old line. SECURITY.md.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly active: string;

  constructor(keyRing: string) {
    const lines = keyRing
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
    for (const line of lines) {
      const [kid, material] = line.includes(':') ? (line.split(':', 2) as [string, string]) : ['0', line];
      if (!/^[A-Za-z0-9._-]{1,32}$/.test(kid)) throw new Error(`WEBHOOK_SECRET_KEY: the key id "${kid}" is not [A-Za-z0-9._-]{1,32}`);
      const key = Buffer.from(material, 'base64');
      if (key.length !== 32) throw new Error(`WEBHOOK_SECRET_KEY: key ${kid} must be 32 bytes, base64-encoded`);
      if (this.keys.has(kid)) throw new Error(`WEBHOOK_SECRET_KEY: key id ${kid} appears twice`);
      this.keys.set(kid, key);
    }
    const first = this.keys.keys().next().value;
    if (first === undefined) throw new Error('WEBHOOK_SECRET_KEY must hold a key (32 bytes, base64-encoded)');
    this.active = first;
  }

  /** The id of the key that seals. */
  get activeKeyId(): string {
    return this.active;
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.active) as Buffer, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v2:${this.active}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (sealed.startsWith('v2:')) {
      const [, kid, data] = sealed.split(':', 3) as [string, string, string];
      const key = this.keys.get(kid);
      if (!key) throw new Error(`sealed with key ${kid}, which is not in WEBHOOK_SECRET_KEY`);
      return decrypt(key, Buffer.from(data, 'base64'));
    }
    if (!sealed.startsWith('v1:')) throw new Error('unknown sealed-secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    for (const key of this.keys.values()) {
      try {
        return decrypt(key, raw);
      } catch {
        // Not this key: the authentication tag did not verify.
      }
    }
    throw new Error('no key in WEBHOOK_SECRET_KEY opens this sealed secret');
  }

  /** The key id a sealed value names (undefined for the id-less v1 format). */
  static kidOf(sealed: string): string | undefined {
    return sealed.startsWith('v2:') ? sealed.split(':', 3)[1] : undefined;
  }
}

function decrypt(key: Buffer, raw: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
