import { randomUUID } from 'node:crypto';
import { HttpException } from '@nestjs/common';
import { AppError, type FieldError } from './app-error.js';

/** RFC 9457 problem details, as sent on the wire. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: FieldError[];
  errorId?: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
const TYPE_BASE = 'https://ledgerline.dev/problems/';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ProblemResult {
  problem: Problem;
  headers: Record<string, string>;
  /** Set for unexpected errors: the caller logs the original error under this id. */
  unexpected?: { errorId: string; error: unknown };
}

/**
 * Maps anything thrown (our AppError, a Nest HttpException, a Fastify framework error, or an
 * unexpected exception) to a problem document. Unexpected errors never reveal their message,
 * stack, SQL or versions: the client gets an error id that is also in the log.
 */
export function toProblem(error: unknown, instance?: string): ProblemResult {
  if (error instanceof AppError) {
    return { problem: build(error.status, error.code, error.detail, instance, error.errors), headers: error.headers ?? {} };
  }
  if (error instanceof HttpException) {
    // Nest wraps Fastify's own errors (parsing, limits) and keeps the original as `cause`.
    const wrapped = frameworkProblem(error.cause, instance);
    if (wrapped) return wrapped;
    const status = error.getStatus();
    if (status === 404 && /^Cannot [A-Z]+ /.test(error.message)) {
      // Nest's "Cannot GET /path?query" would echo the query string (which may hold a token).
      return { problem: build(404, 'not_found', 'No route matches this method and path.', instance), headers: {} };
    }
    if (status < 500) {
      const response = error.getResponse();
      const message = typeof response === 'object' && response && 'message' in response ? (response as { message: unknown }).message : error.message;
      const detail = Array.isArray(message) ? message.join('; ') : String(message);
      return { problem: build(status, codeForStatus(status), sanitizeDetail(detail, status), instance), headers: {} };
    }
  }
  const framework = frameworkProblem(error, instance);
  if (framework) return framework;

  const errorId = randomUUID();
  const problem = build(500, 'internal_error', 'Something went wrong on our side. Quote the error id if you contact support.', instance);
  problem.errorId = errorId;
  return { problem, headers: {}, unexpected: { errorId, error } };
}

/** Errors raised by Fastify itself (body parsing, content types, limits) before a route runs. */
function frameworkProblem(error: unknown, instance?: string): ProblemResult | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const { code, statusCode } = error as { code?: string; statusCode?: number };
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return result(415, 'unsupported_media_type', 'Send the body as application/json.', instance);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      // Fastify's 400: the body received does not match its Content-Length header.
      return result(400, 'malformed_body', 'The request body does not match its Content-Length header.', instance);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return result(413, 'body_too_large', 'The request body is larger than this endpoint accepts.', instance);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return result(400, 'empty_body', 'The request body is empty but the content type says JSON.', instance);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return result(400, 'malformed_body', 'The request body is not valid JSON.', instance);
    default:
      break;
  }
  if (error instanceof SyntaxError && statusCode === 400) {
    return result(400, 'malformed_body', 'The request body is not valid JSON.', instance);
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return result(statusCode, codeForStatus(statusCode), TITLES[statusCode] ?? 'The request was refused.', instance);
  }
  return undefined;
}

function result(status: number, code: string, detail: string, instance?: string): ProblemResult {
  return { problem: build(status, code, detail, instance), headers: {} };
}

function build(status: number, code: string, detail: string, instance?: string, errors?: FieldError[]): Problem {
  const problem: Problem = { type: `${TYPE_BASE}${code}`, title: TITLES[status] ?? 'Error', status, detail, code };
  if (instance) problem.instance = instance;
  if (errors && errors.length > 0) problem.errors = errors;
  return problem;
}

function codeForStatus(status: number): string {
  return (TITLES[status] ?? 'error').toLowerCase().replace(/[^a-z]+/g, '_');
}

/** Nest's own messages ("Cannot GET /x") are fine; anything long or odd is replaced. */
function sanitizeDetail(detail: string, status: number): string {
  return detail.length <= 200 ? detail : (TITLES[status] ?? 'Error');
}
