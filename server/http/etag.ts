// Conditional GETs for cacheable public reads: a weak ETag over the serialized body, 304 when the
// client already has it, and a short shared max-age (availability moves during an on-sale).
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export function etagged(maxAgeSeconds: number) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    const tag = `W/"${createHash('sha1').update(payload).digest('base64url')}"`;
    reply.header('etag', tag);
    reply.header('cache-control', `public, max-age=${maxAgeSeconds}`);
    const wanted = request.headers['if-none-match'];
    if (wanted && wanted.split(',').some((t) => t.trim() === tag)) {
      reply.code(304);
      return '';
    }
    return payload;
  };
}
