--[[
  admit: one admission round of an event's waiting room. Atomic, so every node may run it at any
  moment: each round counts only the time since the previous round (whichever node ran it), so the
  admissions of all nodes together never exceed the rate. Work is O(admitted + lapsed + numbered).

  1. Admissions whose window passed lapse (those that held are just cleared; the others lose
     their turn and are remembered in `expired` until they join again).
  2. The first round at or after the on-sale instant draws the lottery, unless a join after it did:
     from then on the queue order is fixed, and the accounts that were in it get their numbers
     (`numbered`, a chunk per round).
  3. From the time since the last round (at most ARGV[5]) and the rate, it pops that many from the
     head of the queue and admits them until floor((now + window) / 1 s). A fraction left over is
     carried to the next round, unless the queue ran dry.
  Nothing is admitted before the on-sale instant.

  KEYS[1..5]  queue, admitted, state, held, expired (as in join-5.lua)

  ARGV[1]  now, epoch ms
  ARGV[2]  the on-sale instant, epoch ms
  ARGV[3]  admissions per second
  ARGV[4]  hold window, ms
  ARGV[5]  the most time one round may count, ms (bounds the burst after a pause)
  ARGV[6]  how many drawn accounts to number per round
  ARGV[7]  keep the keys until, epoch ms

  Returns {through, waiting, live, expiry, drawnNow, admitted, lapsed, lapsedHeld, numbered}:
    through     how many were admitted so far (the position of account number n is n - through)
    waiting     accounts still in the queue; live: admissions not lapsed
    expiry      when this round's admissions lapse (epoch ms)
    drawnNow    1 if this round drew the lottery
    admitted    accounts admitted in this round, in queue order
    lapsed      accounts that lost their turn in this round (no hold)
    lapsedHeld  how many admissions ended in this round after a hold
    numbered    {account, number, account, number, ...} drawn accounts numbered in this round
]]
local queue, admitted, state, held, expired = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = tonumber(ARGV[1])
local salesStart = tonumber(ARGV[2])
local expiry = math.floor((now + tonumber(ARGV[4])) / 1000) * 1000

if now < salesStart then
  local through = tonumber(redis.call('HGET', state, 'through') or '0')
  return {through, redis.call('ZCARD', queue), redis.call('ZCARD', admitted), expiry, 0, {}, {}, 0, {}}
end

-- 1. lapsed admissions
local lapsed, lapsedHeld = {}, 0
local gone = redis.call('ZRANGE', admitted, '-inf', ARGV[1], 'BYSCORE')
for _, account in ipairs(gone) do
  if redis.call('SREM', held, account) == 1 then
    lapsedHeld = lapsedHeld + 1
  else
    lapsed[#lapsed + 1] = account
    redis.call('SADD', expired, account)
  end
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', admitted, '-inf', ARGV[1]) end

-- 2. the draw
local drawnNow = 0
if redis.call('HEXISTS', state, 'drawn') == 0 then
  redis.call('HSET', state, 'drawn', ARGV[1], 'drawn_count', redis.call('ZCARD', queue), 'numbered', 0)
  drawnNow = 1
end

-- 3. admissions
local admittedNow = {}
local last = tonumber(redis.call('HGET', state, 'last') or ARGV[2])
if now > last then
  local elapsed = math.min(now - last, tonumber(ARGV[5]))
  local credit = elapsed * tonumber(ARGV[3]) / 1000 + tonumber(redis.call('HGET', state, 'carry') or '0')
  local n = math.floor(credit)
  if n > 0 then
    local popped = redis.call('ZPOPMIN', queue, n)
    local at = string.format('%.0f', expiry)
    for i = 1, #popped, 2 do
      admittedNow[#admittedNow + 1] = popped[i]
      redis.call('ZADD', admitted, at, popped[i])
      redis.call('SREM', held, popped[i])
    end
    if #admittedNow > 0 then redis.call('HINCRBY', state, 'through', #admittedNow) end
  end
  local carry = 0
  if #admittedNow == n then carry = credit - n end
  redis.call('HSET', state, 'last', ARGV[1], 'carry', tostring(carry))
end

-- 4. numbers for the accounts that were in line at the draw
local through = tonumber(redis.call('HGET', state, 'through') or '0')
local numbered = {}
local from = math.max(tonumber(redis.call('HGET', state, 'numbered')), through) + 1
local to = math.min(from + tonumber(ARGV[6]) - 1, tonumber(redis.call('HGET', state, 'drawn_count')))
if to >= from then
  local accounts = redis.call('ZRANGE', queue, from - through - 1, to - through - 1)
  for i, account in ipairs(accounts) do
    numbered[#numbered + 1] = account
    numbered[#numbered + 1] = from + i - 1
  end
  redis.call('HSET', state, 'numbered', to)
end

for i = 1, 5 do redis.call('PEXPIREAT', KEYS[i], ARGV[7]) end
return {through, redis.call('ZCARD', queue), redis.call('ZCARD', admitted), expiry, drawnNow, admittedNow, lapsed, lapsedHeld, numbered}
