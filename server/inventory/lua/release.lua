--[[
  release: give a hold back (expired, cancelled, failed or refunded purchase). Idempotent.

  KEYS                 the same layout as hold: record, fence, T available counts, seat keys, live changes

  ARGV[1]              purchase id
  ARGV[2]              fencing token of the hold being released
  ARGV[3]              T, the number of ticket types

  Returns:
     1                 released: counts restored, seats freed
     0                 nothing held (already released, or never placed)
    -4                 the record belongs to another hold (stale token): nothing changes
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
redis.call('SADD', KEYS[#KEYS], '*', unpack(KEYS, 3 + t, #KEYS - 1))
redis.call('PEXPIRE', KEYS[#KEYS], 86400000)
return 1
