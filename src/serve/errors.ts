/**
 * Every error response: `{statusCode, error, message, field?}`. Schema violations name the request field
 * (`candidates[3].item_id: must be a string, a number or null`); errors of fastify itself (bad JSON,
 * body too large, unsupported media type) keep their status; anything else is a logged 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { FieldError } from './scoring.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  field?: string;
}

export function errorBody(statusCode: number, message: string, field?: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(field !== undefined ? { field } : {}) };
}

/** `/candidates/3/item_id` → `candidates[3].item_id` (JSON pointer unescaped). */
export function fieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

function join(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

const TYPE_WORDS: Record<string, string> = { string: 'a string', number: 'a number', integer: 'an integer', null: 'null', array: 'an array', object: 'an object', boolean: 'a boolean' };

function typeList(types: unknown): string {
  const words = String(types).split(',').map((t) => TYPE_WORDS[t] ?? t);
  return words.length === 1 ? words[0] : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

/** One schema violation as a field and a sentence; `columns` lists the model's columns for unknown ones. */
export function describeValidation(e: AjvError, columns: readonly string[]): { field: string; message: string } {
  const at = fieldPath(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = join(at, String(e.params.additionalProperty));
      const known = at === '' ? 'shared, candidates, request_id' : `the model's columns: ${columns.join(', ')}`;
      return { field, message: `unknown field (${known})` };
    }
    case 'required':
      return { field: join(at, String(e.params.missingProperty)), message: 'is required' };
    case 'type':
      return { field: at || '(body)', message: `must be ${typeList(e.params.type)}` };
    case 'maxItems':
      return { field: at, message: `has more than ${e.params.limit} items (the limit)` };
    case 'maxLength':
      return { field: at, message: `is longer than ${e.params.limit} characters (the limit)` };
    default:
      return { field: at || '(body)', message: e.message ?? e.keyword };
  }
}

export function errorHandler(columns: () => readonly string[]) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (err.validation && err.validation.length > 0) {
      const { field, message } = describeValidation(err.validation[0] as AjvError, columns());
      return reply.code(400).send(errorBody(400, `${field}: ${message}`, field));
    }
    if (err instanceof FieldError) return reply.code(400).send(errorBody(400, err.message, err.field));
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send(errorBody(status, err.message));
    req.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody(500, 'internal error (logged)'));
  };
}
