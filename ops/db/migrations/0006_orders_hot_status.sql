-- Status changes become HOT updates. Every order changes status about five times on its way through
-- the pipeline; with `status` in an index, each change wrote a new entry into all four of the table's
-- indexes (at 500 orders/s the projector's UPDATE of orders was the pipeline's costliest statement
-- per row). Without it, and with room left in each page, a status change rewrites the row in place.
--
-- Listing one user's orders by status now walks that user's orders newest first
-- (orders_user_created_idx) and filters: the page stops as soon as it is full, so this costs more only
-- for a status that is rare among a user's many orders.
DROP INDEX IF EXISTS orders_user_status_created_idx;
ALTER TABLE orders SET (fillfactor = 85);
