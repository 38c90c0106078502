--[[
  restock: tickets were voided (a refund); their units go back on sale, once per request.

  KEYS[1]              marker of this restock (string; its existence means "done")
  KEYS[2 .. 1+T]       available count of each ticket type
  KEYS[2+T .. N-1]     seat keys of the voided seats
  KEYS[N]              the event's live changes (see hold.lua)
  ARGV[1]              purchase id (a seat is freed only if it is sold to this purchase)
  ARGV[2]              T, the number of ticket types
  ARGV[3 .. 2+T]       units to return per ticket type, in KEYS order
  ARGV[3+T]            marker TTL, ms

  Returns 1 restocked, 0 already done. A missing count is left missing (the rebuild from
  PostgreSQL will count the voided tickets as free).
]]
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[3 + tonumber(ARGV[2])]) == false then
  return 0
end
local t = tonumber(ARGV[2])
for i = 1, t do
  if redis.call('EXISTS', KEYS[1 + i]) == 1 then
    redis.call('INCRBY', KEYS[1 + i], ARGV[2 + i])
  end
end
for j = 2 + t, #KEYS - 1 do
  if redis.call('GET', KEYS[j]) == 'sold:' .. ARGV[1] then
    redis.call('DEL', KEYS[j])
  end
end
redis.call('SADD', KEYS[#KEYS], '*', unpack(KEYS, 2 + t, #KEYS - 1))
redis.call('PEXPIRE', KEYS[#KEYS], 86400000)
return 1
