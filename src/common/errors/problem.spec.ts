import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpException,
  InternalServerErrorException,
  NotFoundException,
  PayloadTooLargeException,
  UnauthorizedException,
} from '@nestjs/common';
import { AppError } from './app-error.js';
import { toProblem, type Problem } from './problem.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A Fastify framework error as Fastify creates it (name FastifyError, a code and a statusCode). */
function fastifyError(code: string, statusCode: number, message = 'framework message'): Error {
  return Object.assign(new Error(message), { name: 'FastifyError', code, statusCode });
}

/** What the Nest Fastify adapter does with a 4xx Fastify error before the filter sees it. */
function wrappedByNest(error: Error & { statusCode?: number }): HttpException {
  return new HttpException(error.message, error.statusCode ?? 500, { cause: error });
}

function expectWellFormed(problem: Problem): void {
  expect(typeof problem.title).toBe('string');
  expect(problem.title.length).toBeGreaterThan(0);
  expect(typeof problem.detail).toBe('string');
  expect(problem.code).toMatch(/^[a-z_]+$/);
  const type = new URL(problem.type);
  expect(type.protocol).toBe('https:');
  expect(problem.type.endsWith(`/${problem.code}`)).toBe(true);
}

describe('toProblem: AppError', () => {
  it('keeps the status, code, detail and field errors', () => {
    const errors = [{ field: 'lines[0].quantity', message: 'must be positive', code: 'isPositive' }];
    const { problem, unexpected } = toProblem(new AppError(422, 'invoice_locked', 'This invoice is already sent.', errors));
    expect(problem).toMatchObject({ status: 422, code: 'invoice_locked', detail: 'This invoice is already sent.', errors });
    expectWellFormed(problem);
    expect(unexpected).toBeUndefined();
  });

  it('passes its headers on', () => {
    const error = new AppError(429, 'rate_limited', 'Slow down.', undefined, { 'retry-after': '30' });
    expect(toProblem(error).headers).toEqual({ 'retry-after': '30' });
  });

  it('works with the factory helpers', () => {
    expect(toProblem(AppError.notFound()).problem.status).toBe(404);
    expect(toProblem(AppError.forbidden()).problem.status).toBe(403);
    expect(toProblem(AppError.unauthorized()).problem.status).toBe(401);
    expect(toProblem(AppError.conflict('duplicate_number', 'Number taken.')).problem).toMatchObject({ status: 409, code: 'duplicate_number' });
  });

  it('omits an empty errors list', () => {
    expect(toProblem(AppError.badRequest('bad', 'Bad.', [])).problem).not.toHaveProperty('errors');
  });
});

describe('toProblem: Nest HttpException', () => {
  it.each([
    ['NotFoundException()', new NotFoundException(), 404],
    ["BadRequestException('x')", new BadRequestException('x'), 400],
    ['UnauthorizedException()', new UnauthorizedException(), 401],
    ["ForbiddenException('nope')", new ForbiddenException('nope'), 403],
    ['ConflictException()', new ConflictException(), 409],
    ['PayloadTooLargeException()', new PayloadTooLargeException(), 413],
    ["HttpException('teapot', 418)", new HttpException('teapot', 418), 418],
  ])('%s keeps its status', (_name, error, status) => {
    const { problem, unexpected } = toProblem(error);
    expect(problem.status).toBe(status);
    expectWellFormed(problem);
    expect(unexpected).toBeUndefined();
  });

  it('keeps a short message given by the code that threw', () => {
    expect(toProblem(new BadRequestException('x')).problem).toMatchObject({ status: 400, detail: 'x' });
    expect(toProblem(new BadRequestException(['a is wrong', 'b is wrong'])).problem.detail).toContain('b is wrong');
  });

  it('does not send back a very long message', () => {
    const long = 'y'.repeat(5000);
    const { problem } = toProblem(new BadRequestException(long));
    expect(problem.status).toBe(400);
    expect(JSON.stringify(problem)).not.toContain(long.slice(0, 300));
  });

  it('does not echo the path or query of "Cannot GET /x?t=secret"', () => {
    const { problem } = toProblem(new NotFoundException('Cannot GET /x?t=secret'));
    expect(problem.status).toBe(404);
    expect(problem.code).toBe('not_found');
    const json = JSON.stringify(problem);
    expect(json).not.toContain('secret');
    expect(json).not.toContain('/x');
  });

  it('treats a 5xx HttpException as unexpected: no message, an error id', () => {
    const error = new InternalServerErrorException('pool exhausted at 10.0.0.5');
    const { problem, unexpected } = toProblem(error);
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain('10.0.0.5');
    expect(unexpected?.error).toBe(error);
    expect(problem.errorId).toBe(unexpected?.errorId);
  });
});

describe('toProblem: Fastify framework errors', () => {
  it.each([
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 413, 'body_too_large'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 415, 'unsupported_media_type'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 400, 'malformed_body'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 400, 'empty_body'],
  ])('%s wrapped by Nest as the cause of an HttpException → %i', (code, fastifyStatus, status, problemCode) => {
    const { problem, unexpected } = toProblem(wrappedByNest(fastifyError(code, fastifyStatus)));
    expect(problem).toMatchObject({ status, code: problemCode });
    expectWellFormed(problem);
    expect(unexpected).toBeUndefined();
  });

  it('recognises a bare cause object carrying only code and statusCode', () => {
    const error = new HttpException('Request body is too large', 413, { cause: { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 } });
    expect(toProblem(error).problem).toMatchObject({ status: 413, code: 'body_too_large' });
  });

  it('maps the same errors when they arrive unwrapped', () => {
    expect(toProblem(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413)).problem).toMatchObject({ status: 413, code: 'body_too_large' });
    expect(toProblem(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).problem).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    expect(toProblem(fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400)).problem).toMatchObject({ status: 400, code: 'malformed_body' });
  });

  it('answers a body shorter or longer than its Content-Length with 400, not 415', () => {
    const { problem } = toProblem(wrappedByNest(fastifyError('FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400)));
    expect(problem.status).toBe(400);
    expect(problem.code).not.toBe('unsupported_media_type');
  });

  it('treats a 5xx Fastify error (a server fault) as unexpected', () => {
    const error = fastifyError('FST_ERR_CTP_INVALID_TYPE', 500, 'The content type should be a string or a RegExp');
    const { problem, unexpected } = toProblem(error);
    expect(problem.status).toBe(500);
    expect(unexpected?.error).toBe(error);
  });

  it('does not echo the message of another 4xx framework error', () => {
    const { problem } = toProblem(fastifyError('FST_ERR_SOMETHING', 400, 'bad header x-secret=abc'));
    expect(problem.status).toBe(400);
    expect(JSON.stringify(problem)).not.toContain('x-secret');
  });
});

describe('toProblem: unexpected errors', () => {
  it('answers 500 internal_error with an error id and nothing from the error itself', () => {
    const error = new Error('SELECT secret FROM users WHERE id = 1');
    const { problem, unexpected } = toProblem(error);
    expect(problem.status).toBe(500);
    expect(problem.code).toBe('internal_error');
    expectWellFormed(problem);
    expect(problem.errorId).toMatch(UUID);
    expect(unexpected).toEqual({ errorId: problem.errorId, error });
    expect(unexpected?.error).toBe(error);
    const json = JSON.stringify(problem);
    expect(json).not.toContain('SELECT');
    expect(json).not.toContain('secret');
    expect(json).not.toContain(error.stack!.split('\n')[1].trim());
    expect(json).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('gives each unexpected error its own id', () => {
    const ids = new Set(Array.from({ length: 5 }, () => toProblem(new Error('boom')).problem.errorId));
    expect(ids.size).toBe(5);
  });

  it('handles thrown non-errors', () => {
    for (const thrown of ['a string', 42, null, undefined, { weird: true }]) {
      const { problem, unexpected } = toProblem(thrown);
      expect(problem.status).toBe(500);
      expect(problem.errorId).toMatch(UUID);
      expect(unexpected?.error).toBe(thrown);
    }
  });

  it('does not expose the message of a SyntaxError thrown by application code', () => {
    const { problem } = toProblem(new SyntaxError('Unexpected token in config secret=abc'));
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain('secret=abc');
  });
});

describe('toProblem: instance and type', () => {
  it('passes the instance through when given, and omits it otherwise', () => {
    expect(toProblem(AppError.notFound(), '/invoices/42').problem.instance).toBe('/invoices/42');
    expect(toProblem(new Error('x'), '/invoices/42').problem.instance).toBe('/invoices/42');
    expect(toProblem(new NotFoundException(), '/x').problem.instance).toBe('/x');
    expect(toProblem(wrappedByNest(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413)), '/upload').problem.instance).toBe('/upload');
    expect(toProblem(AppError.notFound()).problem).not.toHaveProperty('instance');
  });

  it('gives every problem a type URL ending in its code', () => {
    for (const error of [AppError.conflict('duplicate_number', 'Taken.'), new ForbiddenException(), new Error('x')]) {
      expectWellFormed(toProblem(error).problem);
    }
  });
});
