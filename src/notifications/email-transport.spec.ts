import { classifyPostmarkError } from './email-transport.js';

describe('classifying Postmark errors', () => {
  it.each([
    [{ statusCode: 422, code: 406, message: 'Found inactive addresses: a@b.test.' }, 'permanent', 'inactive_recipient'],
    [{ statusCode: 422, code: 300, message: 'Invalid email request' }, 'permanent', 'invalid_address'],
    [{ statusCode: 422, code: 412, message: 'Sender signature not confirmed' }, 'permanent', 'postmark_412'],
    [{ statusCode: 429, code: 0 }, 'transient', 'rate_limited'],
    [{ statusCode: 500, code: 0 }, 'transient', 'provider_unavailable'],
    [{ statusCode: 503, code: 0 }, 'transient', 'provider_unavailable'],
    [{ statusCode: 401, code: 10 }, 'transient', 'provider_unauthorized'],
    [{ statusCode: 404, code: 0 }, 'permanent', 'postmark_http_404'],
    [{ statusCode: 0, code: 0, message: 'The operation was aborted due to timeout' }, 'ambiguous', 'timeout'],
    [{ statusCode: 0, code: 0, message: 'fetch failed' }, 'ambiguous', 'network'],
    [undefined, 'ambiguous', 'network'],
  ])('%j is %s (%s)', (error, kind, code) => {
    const classified = classifyPostmarkError(error ? Object.assign(new Error((error as { message?: string }).message ?? ''), error) : undefined);
    expect(classified).toMatchObject({ kind, code });
  });

  it('never repeats the recipient address Postmark puts in its message', () => {
    const classified = classifyPostmarkError(Object.assign(new Error('You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: jane@example.test.'), { statusCode: 422, code: 406 }));
    expect(classified.message).not.toContain('jane@example.test');
  });
});
