--[[
  join: puts an account in an event's waiting room, once. Up to and including the on-sale instant
  it takes the lottery score it is given; after it, the next arrival number, behind every lottery
  score. The first join or admission round after the on-sale instant draws the lottery (fixes the
  order; see admit-5.lua). An account already waiting keeps its place; one admitted (and still
  within its window) stays admitted. A lapsed admission found here is cleared, and the account
  queues again, at the back.

  KEYS[1]  queue     (zset: account -> place; lottery scores < LOTTERY_SPAN <= arrival scores)
  KEYS[2]  admitted  (zset: account -> admission expiry, epoch ms)
  KEYS[3]  state     (hash: drawn, through, seq, last, carry, drawn_count, numbered)
  KEYS[4]  held      (set: admitted accounts that placed a hold)
  KEYS[5]  expired   (set: accounts that lost their turn)

  ARGV[1]  account id
  ARGV[2]  now, epoch ms
  ARGV[3]  the on-sale instant, epoch ms
  ARGV[4]  this account's lottery score, an integer in [0, LOTTERY_SPAN)
  ARGV[5]  LOTTERY_SPAN
  ARGV[6]  keep the keys until, epoch ms

  Returns {state, value, through, drawn, waiting, lapsed}:
    state 1  waiting: value is the 0-based rank in the queue
    state 2  admitted: value is the admission expiry (epoch ms)
    through  how many were admitted so far; drawn 1 once positions are drawn; waiting = queue size
    lapsed   0, or 1 (a lapsed admission without a hold was cleared), or 2 (one with a hold)
]]
local queue, admitted, state, held, expired = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local account = ARGV[1]
local now = tonumber(ARGV[2])

local function touch()
  for i = 1, 5 do redis.call('PEXPIREAT', KEYS[i], ARGV[6]) end
end
local function summary()
  local through = tonumber(redis.call('HGET', state, 'through') or '0')
  local drawn = redis.call('HEXISTS', state, 'drawn')
  return through, drawn, redis.call('ZCARD', queue)
end

local lapsed = 0
local expiry = redis.call('ZSCORE', admitted, account)
if expiry then
  if tonumber(expiry) > now then
    local through, drawn, waiting = summary()
    return {2, tonumber(expiry), through, drawn, waiting, 0}
  end
  redis.call('ZREM', admitted, account)
  lapsed = 1 + redis.call('SREM', held, account)
end

local drawn = redis.call('HEXISTS', state, 'drawn') == 1
if not drawn and now > tonumber(ARGV[3]) then
  redis.call('HSET', state, 'drawn', ARGV[2], 'drawn_count', redis.call('ZCARD', queue), 'numbered', 0)
  drawn = true
end

local rank = redis.call('ZRANK', queue, account)
if not rank then
  local score
  if not drawn then
    score = ARGV[4]
  else
    score = string.format('%.0f', tonumber(ARGV[5]) + redis.call('HINCRBY', state, 'seq', 1))
  end
  redis.call('ZADD', queue, score, account)
  redis.call('SREM', expired, account)
  rank = redis.call('ZRANK', queue, account)
end
touch()
local through, drawn, waiting = summary()
return {1, rank, through, drawn, waiting, lapsed}
