--[[
  convert: a hold became tickets. Its units stay taken (the available count is not restored);
  its seats stay blocked for good; the hold record goes. Also run again when the tickets were
  already issued (a retried effect whose first run died before converting): with the record gone
  (expired), the purchase's seats that are still its own or free are marked sold all the same.

  KEYS                 the same layout as hold: record, fence, T available counts, seat keys, live changes
  ARGV[1]              purchase id
  ARGV[2]              fencing token of the hold
  ARGV[3]              T, the number of ticket types

  Returns 1 converted, 0 no record (already converted, released or expired), -4 stale token.
]]
local hold = KEYS[1]
local token = redis.call('HGET', hold, 'token')
if token and token ~= ARGV[2] then
  return -4
end
local t = tonumber(ARGV[3])
for j = 3 + t, #KEYS - 1 do
  local owner = redis.call('GET', KEYS[j])
  if owner == ARGV[1] or (not token and not owner) then
    redis.call('SET', KEYS[j], 'sold:' .. ARGV[1])
  end
end
redis.call('SADD', KEYS[#KEYS], '*', unpack(KEYS, 3 + t, #KEYS - 1))
redis.call('PEXPIRE', KEYS[#KEYS], 86400000)
if not token then
  return 0
end
redis.call('DEL', hold)
return 1
