-- Demo catalogue for the local stack and the tests. Idempotent: re-running restores prices and tops
-- stock back up, and never deletes anything.
INSERT INTO products (sku, name, price_cents, currency, stock) VALUES
  ('MUG-BLUE', 'Blue enamel mug', 1299, 'EUR', 100000),
  ('TEE-CLASSIC-M', 'Classic tee, size M', 2000, 'EUR', 100000),
  ('TEE-CLASSIC-L', 'Classic tee, size L', 2000, 'EUR', 100000),
  ('HOODIE-GREY-L', 'Grey hoodie, size L', 4999, 'EUR', 50000),
  ('CAP-BLACK', 'Black cap', 1599, 'EUR', 100000),
  ('SOCKS-3PACK', 'Socks, three pairs', 999, 'EUR', 100000),
  ('POSTER-A2', 'Poster, A2', 1499, 'EUR', 100000),
  ('LAST-ONE', 'A rare print (one in stock)', 9900, 'EUR', 1)
ON CONFLICT (sku) DO UPDATE
  SET name = EXCLUDED.name,
      price_cents = EXCLUDED.price_cents,
      currency = EXCLUDED.currency,
      stock = GREATEST(products.stock, EXCLUDED.stock),
      active = true,
      updated_at = now();
