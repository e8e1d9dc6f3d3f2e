import type { Redis } from 'ioredis'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import { BLOCKED_POINTS, type SharedCounters } from './shared-counters.ts'

/**
 * Adds an outage's count to a key in one step (no read-then-write race with other instances):
 * the key's expiry becomes the later of its own and the local one (-1 from PTTL: none, kept); a
 * sum reaching the limit becomes a block (SharedCounters.merge).
 * ARGV: points, ms before the local count ends (-1: never), limit, block ms, the blocked count.
 */
const MERGE_SCRIPT = `
local ttl = redis.call('PTTL', KEYS[1])
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
local ms = tonumber(ARGV[2])
local blocked = tonumber(ARGV[5])
if tonumber(ARGV[4]) > 0 and total >= tonumber(ARGV[3]) and total <= blocked / 2 then
  redis.call('SET', KEYS[1], blocked, 'PX', ARGV[4])
elseif ms < 0 then
  redis.call('PERSIST', KEYS[1])
elseif ttl ~= -1 and ms > ttl then
  redis.call('PEXPIRE', KEYS[1], ms)
end
return ttl
`

const byClient = new WeakMap<Redis, SharedCounters>()

/**
 * Throttle counters on Redis (rate-limiter-flexible's keys: an integer and a TTL). A command while
 * the client is not ready fails at once (`rejectIfRedisNotReady`, and src/server/redis.ts turns
 * the offline queue off), so the limiter falls back to memory without waiting.
 */
export function redisCounters(redis: Redis): SharedCounters {
  let counters = byClient.get(redis)
  if (counters) return counters
  counters = {
    limiter: ({ points, duration, keyPrefix }) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, rejectIfRedisNotReady: true }),
    async merge(rlKey, points, msBeforeNext, { limit, blockMs }) {
      if (redis.status !== 'ready') throw new Error('Redis connection is not ready')
      const args = [points, Math.round(msBeforeNext), limit, Math.round(blockMs), BLOCKED_POINTS].map(String)
      await redis.eval(MERGE_SCRIPT, 1, rlKey, ...args)
    },
    onReachable(listener) {
      redis.on('ready', listener)
      return () => {
        redis.off('ready', listener)
      }
    },
  }
  byClient.set(redis, counters)
  return counters
}
