--[[
  live-cut: the next live update of one event, as one atomic read.

  KEYS[1]              the event's live version (string integer; only grows)
  KEYS[2]              the event's live changes (set of seat keys and '*', written by the
                       inventory scripts): taken and emptied here
  KEYS[3 .. 2+T]       available count of each ticket type
  KEYS[3+T .. ]        seat keys this node knows changed (may repeat the set's members)
  ARGV[1]              T, the number of ticket types
  ARGV[2]              now, epoch ms: where a missing version starts again (a flushed Redis),
                       so versions keep growing across the loss and watchers keep listening

  Returns { version, counts (T values, false where missing), seat keys, their values }.
  Seat keys named in the changes set share the event's hash tag (one slot) with KEYS.
]]
local t = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
local version = redis.call('INCR', KEYS[1])

local seen = {}
local seats = {}
for j = 3 + t, #KEYS do
  if not seen[KEYS[j]] then
    seen[KEYS[j]] = true
    seats[#seats + 1] = KEYS[j]
  end
end
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if member ~= '*' and not seen[member] then
    seen[member] = true
    seats[#seats + 1] = member
  end
end
redis.call('DEL', KEYS[2])

local counts = {}
for i = 1, t do
  counts[i] = redis.call('GET', KEYS[2 + i])
end
local owners = {}
for j = 1, #seats do
  owners[j] = redis.call('GET', seats[j])
end
return { version, counts, seats, owners }
