// Marks every route of an encapsulated scope (an API version) as deprecated: `Deprecation`
// (RFC 9745, the moment it was deprecated), `Sunset` (RFC 8594, when it stops answering) and a
// `Link` to the migration notes. docs/api-versioning.md says when we use it.
import type { App } from './types.ts';

export interface DeprecationNotice {
  deprecatedAt: Date;
  sunsetAt: Date;
  /** Where clients read how to move to the successor version. */
  link: string;
}

export function markDeprecated(scope: App, notice: DeprecationNotice): void {
  if (notice.sunsetAt <= notice.deprecatedAt) throw new Error('sunset must come after deprecation');
  const deprecation = `@${Math.floor(notice.deprecatedAt.getTime() / 1000)}`;
  const sunset = notice.sunsetAt.toUTCString();
  const link = `<${notice.link}>; rel="deprecation"; type="text/html"`;
  scope.addHook('onSend', async (_request, reply) => {
    reply.header('deprecation', deprecation);
    reply.header('sunset', sunset);
    reply.header('link', link);
  });
}
