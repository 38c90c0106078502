--[[
  restore: after Redis lost an event's keys, put back what PostgreSQL knows, where it is missing:
  the fencing counter (raised to at least the highest token handed out), the sold seats, the
  available counts, and the hold record and seats of each purchase that holds. One atomic step:
  a hold needs its count, so none can be placed between the counts and the holds they set aside.

  A hold record is put back only where this run set the counts of all its ticket types (they set
  its units aside, so its release may give them back) and no record exists. Without the record a
  release would find nothing: the purchase's seats would stay held until their TTL, and its units
  would never come back.

  KEYS[1]              the event's fencing counter
  KEYS[2 .. 1+T]       available count of each ticket type
  KEYS[2+T .. 1+T+S]   seat keys of the sold seats
  then, per held purchase in ARGV order: its hold record, then its seat keys
  KEYS[N]              the event's live changes (see hold.lua)

  ARGV[1]              JSON {
                         fence: string (highest token handed out),
                         counts: [T strings], overwrite: bool (set the counts even where present),
                         sold: [S purchase ids, one per sold seat],
                         holds: [{ purchase, token, deadline, seatTtl, recordTtl (strings),
                                   items: [[count index 1..T, quantity], ...] (in the hold's item order),
                                   seats: number of its seat keys }]
                       }

  Returns the purchase ids whose hold record was put back.
]]
local state = cjson.decode(ARGV[1])
local t = #state.counts
local s = #state.sold
local changed = {}

local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence < tonumber(state.fence) then
  redis.call('SET', KEYS[1], state.fence)
end

local fresh = {}
for i = 1, t do
  if state.overwrite or redis.call('EXISTS', KEYS[1 + i]) == 0 then
    redis.call('SET', KEYS[1 + i], state.counts[i])
    fresh[i] = true
    changed[#changed + 1] = '*'
  end
end

for j = 1, s do
  local key = KEYS[1 + t + j]
  if redis.call('SET', key, 'sold:' .. state.sold[j], 'NX') then
    changed[#changed + 1] = key
  end
end

local restored = {}
local k = 2 + t + s
for _, h in ipairs(state.holds) do
  local record = KEYS[k]
  local first = k + 1
  k = k + 1 + h.seats
  local covered = redis.call('EXISTS', record) == 0
  for _, item in ipairs(h.items) do
    if not fresh[item[1]] then
      covered = false
    end
  end
  if covered then
    redis.call('HSET', record, 'token', h.token, 'purchase', h.purchase, 'deadline', h.deadline, 'types', #h.items)
    for i, item in ipairs(h.items) do
      redis.call('HSET', record, 'q' .. i, item[2])
    end
    redis.call('PEXPIRE', record, h.recordTtl)
    for j = first, k - 1 do
      if redis.call('SET', KEYS[j], h.purchase, 'PX', h.seatTtl, 'NX') then
        changed[#changed + 1] = KEYS[j]
      end
    end
    restored[#restored + 1] = h.purchase
  end
end

if #changed > 0 then
  for _, member in ipairs(changed) do
    redis.call('SADD', KEYS[#KEYS], member)
  end
  redis.call('PEXPIRE', KEYS[#KEYS], 86400000)
end
return restored
