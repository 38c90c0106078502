--[[
  status: where one account stands in an event's waiting room (reads only; one consistent view).

  KEYS[1..5]  queue, admitted, state, held, expired (as in join-5.lua)
  ARGV[1]     account id
  ARGV[2]     now, epoch ms

  Returns {state, value, through, drawn, waiting}:
    state 0  not in the room
    state 1  waiting: value is the 0-based rank in the queue
    state 2  admitted: value is the admission expiry (epoch ms)
    state 3  lost the turn (admitted, window passed without a hold)
]]
local queue, admitted, state, held, expired = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local account = ARGV[1]
local through = tonumber(redis.call('HGET', state, 'through') or '0')
local drawn = redis.call('HEXISTS', state, 'drawn')
local waiting = redis.call('ZCARD', queue)

local expiry = redis.call('ZSCORE', admitted, account)
if expiry then
  if tonumber(expiry) > tonumber(ARGV[2]) then return {2, tonumber(expiry), through, drawn, waiting} end
  if redis.call('SISMEMBER', held, account) == 1 then return {0, 0, through, drawn, waiting} end
  return {3, 0, through, drawn, waiting}
end
local rank = redis.call('ZRANK', queue, account)
if rank then return {1, rank, through, drawn, waiting} end
if redis.call('SISMEMBER', expired, account) == 1 then return {3, 0, through, drawn, waiting} end
return {0, 0, through, drawn, waiting}
