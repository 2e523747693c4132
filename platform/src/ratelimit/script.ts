/**
 * The one Lua script that checks every limit of one or more requests atomically, in one round trip. The
 * limiter sends the requests that arrived in the same turn of the event loop together (one command for
 * all of them), so Redis parses, dispatches and answers once per batch instead of once per request; the
 * requests are decided one after another inside the script, exactly as separate calls in that order
 * would be. On Redis Cluster every call carries one request, whose keys share one hash tag
 * (`{subject}`), so it stays in one slot.
 *
 * ARGV: algorithm ('log' | 'window'), the number of requests; then per request: its number of keys, a
 * member unique to it, and `limit, windowMs` per key. KEYS: every request's keys, in order.
 * Returns: the Redis time of the decisions (ms), then per request: allowed (1/0), the binding key's index
 * (1-based: the one with the fewest slots left, whose reset the headers report), then per key the count
 * in the window after this request and the ms until the oldest counted request leaves the window (when a
 * slot frees up); with `log` that reset is computed for the binding key only (-1 for the others).
 *
 * The clock is Redis's own (TIME), so gateway instances with skewed clocks still share exact windows.
 * A refused request is recorded nowhere: it does not eat into the other limits.
 *
 * log: a sorted set of admission times per key, exact. Entries older than the window are trimmed before
 * counting (ZREMRANGEBYSCORE finds none to remove in O(log n) on most calls), so ZCARD is the count and
 * the set's first entry is the oldest one still counted.
 * window: `INCR` counters per fixed window (`<key>:<window index>`, kept two windows), the previous
 * window's count weighted by how much of it the sliding window still covers; approximate.
 */
export const RATE_LIMIT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local algorithm = ARGV[1]
local requests = tonumber(ARGV[2])
local out = { now }
local a = 3
local k = 0
for _ = 1, requests do
  local n = tonumber(ARGV[a])
  local member = ARGV[a + 1]
  a = a + 2
  local counts = {}
  local resets = {}
  local allowed = 1
  local binding = 1
  local least = nil
  for i = 1, n do
    local key = KEYS[k + i]
    local limit = tonumber(ARGV[a + 2 * i - 2])
    local window = tonumber(ARGV[a + 2 * i - 1])
    local count
    if algorithm == 'log' then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
      count = redis.call('ZCARD', key)
    else
      local idx = math.floor(now / window)
      local prev = tonumber(redis.call('GET', key .. ':' .. (idx - 1)) or '0')
      local cur = tonumber(redis.call('GET', key .. ':' .. idx) or '0')
      count = math.floor(prev * ((window - (now % window)) / window) + cur)
      resets[i] = window - (now % window)
    end
    counts[i] = count
    if count >= limit then allowed = 0 end
    -- The binding key: the fewest slots left (its reset is the one the headers report).
    if least == nil or limit - count < least then least = limit - count; binding = i end
  end
  for i = 1, n do
    local key = KEYS[k + i]
    local window = tonumber(ARGV[a + 2 * i - 1])
    if algorithm == 'log' then
      if allowed == 1 then
        redis.call('ZADD', key, now, member)
        redis.call('PEXPIRE', key, window)
        counts[i] = counts[i] + 1
      end
      if i == binding then
        local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
        if oldest[2] then resets[i] = tonumber(oldest[2]) + window - now else resets[i] = window end
      else
        resets[i] = -1
      end
    elseif allowed == 1 then
      local w = key .. ':' .. math.floor(now / window)
      redis.call('INCR', w)
      redis.call('PEXPIRE', w, 2 * window)
      counts[i] = counts[i] + 1
    end
  end
  out[#out + 1] = allowed
  out[#out + 1] = binding
  for i = 1, n do
    out[#out + 1] = counts[i]
    out[#out + 1] = resets[i]
  end
  a = a + 2 * n
  k = k + n
end
return out
`;
