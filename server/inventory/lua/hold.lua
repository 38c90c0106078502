--[[
  hold: place a hold for one purchase, all or nothing.

  KEYS[1]              hold record of the purchase (hash)
  KEYS[2]              the event's fencing counter (string; only grows)
  KEYS[3 .. 2+T]       available count of each ticket type in the hold (string integers)
  KEYS[3+T .. N-1]     one key per requested seat (string: owning purchase id)
  KEYS[N]              the event's live changes (set: seat keys that changed, '*' for counts),
                       taken by the next live update whichever node sends it

  ARGV[1]              purchase id
  ARGV[2]              hold deadline, epoch ms (stored; the durable timer enforces it)
  ARGV[3]              safety TTL of the seat keys, ms (deadline + grace): seats come free by
                       themselves should every release be lost
  ARGV[4]              T, the number of ticket types
  ARGV[5 .. 4+T]       quantity per ticket type, in KEYS order
  ARGV[5+T]            a released hold's token, or '': a record of this purchase with exactly
                       that token is a release still on its way (a reclaim after a late payment):
                       it is given back here and the late release finds a stale token. Any other
                       record is adopted as usual (a retried reclaim keeps its own hold).
  ARGV[6+T]            TTL of the hold record, ms: far longer than the seat keys'. The record is
                       what gives the units back, so it must still be there when a release comes
                       after the grace (nodes overloaded, Postgres away); only its release or
                       conversion ends it, and this long stop clears one lost for good.

  Returns {code, value}:
    { 1, token, deadline}  held; token is the fencing token of this hold
    { 0, token, deadline}  this purchase already holds (a retried effect): same token and deadline
    {-1, i}            ticket type i (1-based) has fewer units left than asked
    {-2, j}            seat j (1-based) is held or sold by someone else
    {-3, i}            ticket type i has no available count (not initialised)
]]
local hold = KEYS[1]
local t = tonumber(ARGV[4])
local changes = KEYS[#KEYS]
-- The counts and every seat of this hold changed: the next live update of the event says so.
local function note_changes()
  redis.call('SADD', changes, '*', unpack(KEYS, 3 + t, #KEYS - 1))
  redis.call('PEXPIRE', changes, 86400000)
end
local existing = redis.call('HGET', hold, 'token')
if existing and ARGV[5 + t] ~= '' and existing == ARGV[5 + t] then
  for i = 1, t do
    local quantity = redis.call('HGET', hold, 'q' .. i)
    if quantity and redis.call('EXISTS', KEYS[2 + i]) == 1 then
      redis.call('INCRBY', KEYS[2 + i], quantity)
    end
  end
  for j = 3 + t, #KEYS - 1 do
    if redis.call('GET', KEYS[j]) == ARGV[1] then
      redis.call('DEL', KEYS[j])
    end
  end
  redis.call('DEL', hold)
  note_changes()
elseif existing then
  return {0, tonumber(existing), tonumber(redis.call('HGET', hold, 'deadline'))}
end

for i = 1, t do
  local available = redis.call('GET', KEYS[2 + i])
  if not available then
    return {-3, i}
  end
  if tonumber(available) < tonumber(ARGV[4 + i]) then
    return {-1, i}
  end
end
for j = 3 + t, #KEYS - 1 do
  if redis.call('EXISTS', KEYS[j]) == 1 then
    return {-2, j - 2 - t}
  end
end

local token = redis.call('INCR', KEYS[2])
local ttl = tonumber(ARGV[3])
for i = 1, t do
  redis.call('DECRBY', KEYS[2 + i], ARGV[4 + i])
  redis.call('HSET', hold, 'q' .. i, ARGV[4 + i])
end
for j = 3 + t, #KEYS - 1 do
  redis.call('SET', KEYS[j], ARGV[1], 'PX', ttl)
end
redis.call('HSET', hold, 'token', token, 'purchase', ARGV[1], 'deadline', ARGV[2], 'types', t)
redis.call('PEXPIRE', hold, math.max(ttl, tonumber(ARGV[6 + t])))
note_changes()
return {1, token, tonumber(ARGV[2])}
