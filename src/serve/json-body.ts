/**
 * The only body parser: application/json in UTF-8. Bytes that are not valid UTF-8 are refused (the
 * default parser would turn them into U+FFFD and score a different id), as is any other charset;
 * __proto__ and constructor keys are refused by fastify's secure JSON parser.
 */
import type { FastifyInstance } from 'fastify';

export function useStrictJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      done(httpError(415, `charset ${charset} is not supported: send UTF-8 JSON`), undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(httpError(400, 'the body is not valid UTF-8'), undefined);
      return;
    }
    parseJson(req, text, done);
  });
}

export function httpError(statusCode: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode });
}
