-- One GCRA step (osiris_limits::gcra::step) for one key, run atomically.
-- KEYS[1]: the key's theoretical arrival time (TAT), integer microseconds.
-- ARGV: now, emission interval T, delay tolerance tau (microseconds).
-- Returns {1, new TAT - now} when allowed, {0, wait} when limited.
-- Every value is an integer below 2^53, so Lua's doubles hold it exactly.
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = math.max(tonumber(stored), now)
end
local wait = tat - now - tolerance
if wait > 0 then
  return {0, wait}
end
local new_tat = tat + interval
-- The key expires once its TAT has passed (it would then answer like a new
-- key anyway), plus a second for replicas whose clocks are a little apart.
-- '%d', because tostring would print a large number in exponent form.
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX',
  math.ceil((new_tat - now) / 1000) + 1000)
return {1, new_tat - now}
