--[[
  convert: a hold became tickets. Its units stay taken (the available count is not restored);
  its seats stay blocked for good; the hold record goes.

  KEYS                 the same layout as hold: record, fence, T available counts, seat keys, live changes
  ARGV[1]              purchase id
  ARGV[2]              fencing token of the hold
  ARGV[3]              T, the number of ticket types

  Returns 1 converted, 0 nothing held (already converted or released), -4 stale token.
]]
local hold = KEYS[1]
local token = redis.call('HGET', hold, 'token')
if not token then
  return 0
end
if token ~= ARGV[2] then
  return -4
end
local t = tonumber(ARGV[3])
for j = 3 + t, #KEYS - 1 do
  if redis.call('GET', KEYS[j]) == ARGV[1] then
    redis.call('SET', KEYS[j], 'sold:' .. ARGV[1])
  end
end
redis.call('DEL', hold)
redis.call('SADD', KEYS[#KEYS], '*', unpack(KEYS, 3 + t, #KEYS - 1))
redis.call('PEXPIRE', KEYS[#KEYS], 86400000)
return 1
