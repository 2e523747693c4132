/**
 * The one Lua script that checks every limit of a request atomically, in one round trip. All keys of a
 * call share one hash tag (`{subject}`), so it also runs on Redis Cluster.
 *
 * ARGV: algorithm ('log' | 'window'), a member unique to this request, then `limit, windowMs` per key.
 * Returns: allowed (1/0), the Redis time of the decision (ms), the binding key's index (1-based: the one
 * with the fewest slots left, whose reset the headers report), then per key: the count in the window
 * after this request, and the ms until the oldest counted request leaves the window (when a slot frees
 * up); with `log` that reset is computed for the binding key only (-1 for the others: not needed).
 *
 * The clock is Redis's own (TIME), so gateway instances with skewed clocks still share exact windows.
 * A refused request is recorded nowhere: it does not eat into the other limits.
 *
 * log: a sorted set of admission times per key; expired entries trimmed on each call; exact.
 * window: `INCR` counters per fixed window (`<key>:<window index>`, kept two windows), the previous
 * window's count weighted by how much of it the sliding window still covers; approximate.
 */
export const RATE_LIMIT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local algorithm = ARGV[1]
local member = ARGV[2]
local n = #KEYS
local counts = {}
local resets = {}
local allowed = 1
for i = 1, n do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  if algorithm == 'log' then
    -- Entries older than the window are not counted (ZCOUNT) and trimmed lazily below.
    local count = redis.call('ZCOUNT', KEYS[i], '(' .. (now - window), '+inf')
    counts[i] = count
    if count >= limit then allowed = 0 end
  else
    local idx = math.floor(now / window)
    local prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (idx - 1)) or '0')
    local cur = tonumber(redis.call('GET', KEYS[i] .. ':' .. idx) or '0')
    local weight = (window - (now % window)) / window
    local estimate = math.floor(prev * weight + cur)
    counts[i] = estimate
    resets[i] = window - (now % window)
    if estimate >= limit then allowed = 0 end
  end
end
-- The binding key: the fewest slots left (its reset is the one the headers report).
local binding = 1
local least = nil
for i = 1, n do
  local left = tonumber(ARGV[1 + 2 * i]) - counts[i]
  if least == nil or left < least then least = left; binding = i end
end
for i = 1, n do
  local window = tonumber(ARGV[2 + 2 * i])
  if algorithm == 'log' then
    if allowed == 1 then
      redis.call('ZADD', KEYS[i], now, member)
      redis.call('PEXPIRE', KEYS[i], window)
      counts[i] = counts[i] + 1
      -- Trim expired entries once they are a noticeable share of the set, not on every call.
      if redis.call('ZCARD', KEYS[i]) > counts[i] + 32 then
        redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
      end
    end
    if i == binding then
      local oldest = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. (now - window), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      if oldest[2] then resets[i] = tonumber(oldest[2]) + window - now else resets[i] = window end
    else
      resets[i] = -1
    end
  elseif allowed == 1 then
    local key = KEYS[i] .. ':' .. math.floor(now / window)
    redis.call('INCR', key)
    redis.call('PEXPIRE', key, 2 * window)
    counts[i] = counts[i] + 1
  end
end
local out = { allowed, now, binding }
for i = 1, n do
  out[#out + 1] = counts[i]
  out[#out + 1] = resets[i]
end
return out
`;
