--[[
  checkHold: is this still the live hold of the purchase? Asked right before tickets are issued,
  so a paused or stale node cannot finalise a hold that has since been released and resold.

  KEYS[1]              hold record of the purchase
  ARGV[1]              fencing token the caller believes it holds

  Returns 1 when the record exists with that token, 0 otherwise.
]]
local token = redis.call('HGET', KEYS[1], 'token')
if token and token == ARGV[1] then
  return 1
end
return 0
