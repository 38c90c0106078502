--[[
  checkHold: is this still the live hold of the purchase? Asked right before tickets are issued,
  so a paused or stale node cannot finalise a hold that has since been released and resold.

  KEYS[1]              hold record of the purchase
  ARGV[1]              fencing token the caller believes it holds

  Returns 1 when the record exists with that token, 0 when there is no record (released, expired
  or lost with Redis), -4 when the record carries another token (the caller is stale).
]]
local token = redis.call('HGET', KEYS[1], 'token')
if not token then
  return 0
end
if token == ARGV[1] then
  return 1
end
return -4
