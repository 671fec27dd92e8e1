"""The Lua scripts [`RedisFleet`][kraken_prime_async.RedisFleet] runs atomically in Redis.

Each script's comment gives its ``KEYS``/``ARGV`` contract; ``_redis.py`` is the only caller.
"""

from __future__ import annotations

from typing import Final

# Lua numbers are doubles: exact for integers below 2**53, which "ms" and "us" nonces are.
NONCE_LUA: Final = """
local stored = redis.call('HMGET', KEYS[1], 'last', 'unit')
if stored[2] and stored[2] ~= ARGV[2] then
  return redis.error_reply('KP_UNIT ' .. stored[2])
end
local last = tonumber(stored[1] or '0')
local nonce = tonumber(ARGV[1])
if nonce <= last then nonce = last + 1 end
redis.call('HSET', KEYS[1], 'last', string.format('%d', nonce), 'unit', ARGV[2])
return nonce
"""

# KEYS: inflight (token -> start ms), leases (token -> expiry ms)
# ARGV: token, now ms, cap, window safety ms, lease ms
GATE_ACQUIRE_LUA: Final = """
local now = tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, token in ipairs(expired) do
  redis.call('ZREM', KEYS[1], token)
  redis.call('ZREM', KEYS[2], token)
end
local n = redis.call('ZCARD', KEYS[1])
local granted = n == 0
if not granted and n < tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  granted = now - tonumber(oldest[2]) < tonumber(ARGV[4])
end
if granted then
  local lease = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
  redis.call('PEXPIRE', KEYS[2], lease)
  return 1
end
return 0
"""

# KEYS: counter hash. ARGV: now, cost, max, decay (0 0: the fleet's, if any), headroom, tolerance
# Returns {delay, max, decay, blocked_until} as strings (Lua numbers would be truncated).
COUNTER_ACQUIRE_LUA: Final = """
local h = redis.call('HMGET', KEYS[1], 'value', 'updated', 'blocked', 'max', 'decay')
local now, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local max, decay = tonumber(ARGV[3]), tonumber(ARGV[4])
if max < 1 then max, decay = tonumber(h[4] or '0'), tonumber(h[5] or '0') end
local value, updated = tonumber(h[1] or '0'), tonumber(h[2] or ARGV[1])
local blocked = tonumber(h[3] or '0')
if max >= 1 and now > updated then value = math.max(0, value - (now - updated) * decay) end
if now > updated then updated = now end
local delay = math.max(0, blocked - now)
if max >= 1 then
  local excess = value + cost - (max - tonumber(ARGV[5]))
  if excess > tonumber(ARGV[6]) then delay = math.max(delay, excess / decay) end
end
if delay <= tonumber(ARGV[6]) then
  delay = 0
  if max >= 1 then
    redis.call('HSET', KEYS[1], 'value', tostring(value + cost), 'updated', tostring(updated),
               'max', tostring(max), 'decay', tostring(decay))
  end
end
return {tostring(delay), tostring(max), tostring(decay), tostring(blocked)}
"""

# KEYS: counter hash. ARGV: now, cost, retry_at (or ''), max, decay (0 0: the fleet's),
# starter max, starter decay (used when nothing is known and the member is on "auto", else 0 0)
COUNTER_REFUSED_LUA: Final = """
local h = redis.call('HMGET', KEYS[1], 'value', 'updated', 'blocked', 'max', 'decay')
local now, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local max, decay = tonumber(ARGV[4]), tonumber(ARGV[5])
if max < 1 then max, decay = tonumber(h[4] or '0'), tonumber(h[5] or '0') end
if max < 1 then max, decay = tonumber(ARGV[6]), tonumber(ARGV[7]) end
local value, updated = tonumber(h[1] or '0'), tonumber(h[2] or ARGV[1])
local blocked = tonumber(h[3] or '0')
if max >= 1 then
  if now > updated then value = math.max(0, value - (now - updated) * decay) end
  if ARGV[3] == '' then value = math.max(value, max + cost) end
end
if now > updated then updated = now end
if ARGV[3] ~= '' then blocked = math.max(blocked, tonumber(ARGV[3])) end
redis.call('HSET', KEYS[1], 'value', tostring(value), 'updated', tostring(updated),
           'blocked', tostring(blocked), 'max', tostring(max), 'decay', tostring(decay))
return 1
"""
