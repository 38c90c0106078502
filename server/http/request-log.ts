// One log line per request, at completion: method, route, status, time. Health probes (polled
// every few seconds by orchestrators) log at debug; client errors at info, never error; a 503 (not
// ready, shutting down, busy) at warn.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class RequestLog extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'requestId' });
  }

  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'request received');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const statusCode = reply.statusCode;
    const purchaseId = (request.params as { purchaseId?: unknown } | undefined)?.purchaseId;
    const line = {
      method: request.method,
      url: request.url,
      route: request.routeOptions.url,
      ...(typeof purchaseId === 'string' ? { purchaseId } : {}),
      statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 10) / 10,
      remoteAddress: request.ip,
    };
    if (!error && statusCode === 503) reply.log.warn(line, 'request refused: unavailable');
    else if (error || statusCode >= 500) reply.log.error({ ...line, err: error }, 'request failed');
    else if (request.url.startsWith('/health/')) reply.log.debug(line, 'request completed');
    else reply.log.info(line, 'request completed');
  }
}
