// Spans for messages on long-lived sockets (Socket.IO events, scanner frames). Each message starts
// a trace of its own (a connection can live for hours), linked to the trace of the HTTP upgrade
// that opened the connection when the client sent a W3C traceparent with it.
import type { IncomingHttpHeaders } from 'node:http';
import {
  context,
  defaultTextMapGetter,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Attributes,
  type Link,
  type Span,
} from '@opentelemetry/api';

import { settleSpan } from './span-work.ts';

const tracer = trace.getTracer('boxoffice.sockets');

/** The upgrade request's trace context, to link each message of the connection to. */
export function connectionLink(headers: IncomingHttpHeaders): Link[] {
  const parent = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
  return parent ? [{ context: parent }] : [];
}

function startMessageSpan(name: string, attributes: Attributes, links: Link[]): Span {
  return tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes, links, root: true });
}

/** Runs the handling of one message inside its span; the span ends when `work` settles. */
export async function traceMessage<T>(name: string, attributes: Attributes, links: Link[], work: () => Promise<T>): Promise<T> {
  const span = startMessageSpan(name, attributes, links);
  return settleSpan(span, () => context.with(trace.setSpan(ROOT_CONTEXT, span), work));
}

type SocketPacket = [string, ...unknown[]];

/**
 * Socket.IO middleware (socket.use): each incoming event runs inside a span named after it, which
 * ends when the handler acknowledges (or right after dispatch when there is no acknowledgement).
 */
export function socketMessageSpans(links: Link[], attributes: Attributes) {
  return (packet: SocketPacket, next: (err?: Error) => void): void => {
    const span = startMessageSpan(`socket.io ${packet[0]}`, { 'messaging.system': 'socket.io', 'messaging.operation.name': packet[0], ...attributes }, links);
    const last = packet.length - 1;
    const ack = packet[last];
    if (last > 0 && typeof ack === 'function') {
      packet[last] = (...args: unknown[]) => {
        span.end();
        return (ack as (...a: unknown[]) => unknown)(...args);
      };
      context.with(trace.setSpan(ROOT_CONTEXT, span), () => next());
    } else {
      context.with(trace.setSpan(ROOT_CONTEXT, span), () => next());
      span.end();
    }
  };
}
